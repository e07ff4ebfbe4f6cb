"""Summarise py-spy collapsed stacks (``hub bench --profile DIR`` writes them): ``python -m hub.tools.bench.profile FILE``.

Prints the share of the busy samples (those not waiting in ``select``) spent inside each of a fixed
list of parts of the worker (:data:`PARTS`: a sample counts for the first part with a frame on its
stack, so the shares add up to 100 %), then the functions with the most self time.
Shares, not seconds: sampling slows the process, and the machine is shared.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

# (label, regex on one frame "func (file:line)"). A sample belongs to the FIRST part of this list
# that has a frame on its stack, so specific parts come before the parts that enclose them (entity
# links before decide(), decide() before the process step, the agents' own code before aiokafka,
# aiokafka before the asyncio loop). "idle" is the event loop waiting in select().
PARTS: tuple[tuple[str, str], ...] = (
    ("idle (select)", r"^EpollSelector\.select |^select \(selectors"),
    ("decide: entity links", r"^_links \(.*decide\.py"),
    ("decide: correlate (_Look)", r"^_Look\.__init__ \(.*decide\.py"),
    ("decide: enrich (_Enricher)", r"^_Enricher\.|^own_parts |^risk_parts "),
    ("decide: other", r"^(decide|_report|_share) \(.*decide\.py"),
    ("State.apply", r"^State\.apply "),
    ("encoding: feed items, receipt, AuditBatch", r"feedcodec\.py"),
    ("validate (rules, ids; intake/admit)", r"^(validate|intake|admit) \(.*validate\.py"),
    ("decode", r"^Codec\.decode"),
    ("sequence: step other (audit events, records)", r"^Sequencer\.step |^Sequencer\._records |^Admitter\.step "),
    ("checkpoint: state write", r"^Checkpoint\._write_state "),
    ("output: record batches", r"^Output\.|^Delivery\."),
    ("aiokafka producer", r"aiokafka/producer/"),
    ("aiokafka consumer / fetcher", r"aiokafka/consumer/"),
    ("aiokafka connection / protocol / socket", r"aiokafka/(conn|client|protocol|record)|_SelectorSocketTransport"),
    ("faust stream / agent / consumer", r"faust/(streams|agents|transport|channels|events|topics|tables)"),
    ("metrics", r"prometheus_client/|^Tally\."),
    ("logging", r"logging/|structlog/"),
    ("asyncio loop", r"asyncio/"),
)


def read(path: Path) -> list[tuple[list[str], int]]:
    """The stacks of a collapsed file: (frames outermost first, sample count)."""
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            out.append((stack.split(";"), int(n)))
    return out


def summarise(stacks: Iterable[tuple[Sequence[str], int]], parts: Sequence[tuple[str, str]] = PARTS,
              within: str | None = None) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, samples per part, self samples per function). ``within``: only stacks with a frame
    matching this regex (e.g. the agents: start-up is left out)."""
    rx = [(label, re.compile(p)) for label, p in parts]
    keep = re.compile(within) if within else None
    total = 0
    by_part: Counter[str] = Counter()
    by_self: Counter[str] = Counter()
    for frames, n in stacks:
        if keep is not None and not any(keep.search(f) for f in frames):
            continue
        total += n
        by_self[re.sub(r":\d+\)$", ")", frames[-1])] += n
        label = next((lb for lb, r in rx if any(r.search(f) for f in frames)), "other")
        by_part[label] += n
    return total, by_part, by_self


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--within", default=None, help="regex: only stacks with a matching frame")
    ap.add_argument("--top", type=int, default=25, help="functions by self time to list")
    a = ap.parse_args(argv)
    stacks = [s for f in a.files for s in read(f)]
    total, parts, selfs = summarise(stacks, within=a.within)
    busy = total - parts.get("idle (select)", 0)
    print(f"{total} samples, {busy} busy (not idle in select); shares of the busy samples:")
    for label, n in parts.most_common():
        if label != "idle (select)":
            print(f"  {100 * n / max(1, busy):5.1f} %  {label}")
    print("self time:")
    for fn, n in selfs.most_common(a.top):
        print(f"  {100 * n / max(1, busy):5.1f} %  {fn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
