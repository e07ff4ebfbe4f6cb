"""Simulated sharding of the decision stage (docs/sharding.md): ``python -m hub.tools.bench.sharding``.

Runs the simulator workload through ``decide()`` on k shards in one process, with the protocol of
docs/sharding.md: shard s decides the reports routed to it (by ``--by``: the reporting state's
group, or a hash of the report id) on its own State; every decision's writes are applied to every
shard's State (the replicated ``reports`` changelog) before any later input in the global order
(timestamp, shard, offset) is decided -- the watermark barrier. It measures, per shard, the CPU of
its decides and of applying every record, the cross-shard records and bytes, and checks that the
feed items equal those of one sequencer (the design's claim: sharding changes cost, not answers).
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from collections.abc import Callable
from typing import Any

from hub.pipeline.core import enrich
from hub.pipeline.core.decide import Context, ReportInput, decide
from hub.pipeline.core.state import State
from hub.pipeline.core.validate import Message
from hub.platform import settings as settings_mod
from hub.tools.bench.stages import BENCH_ID_KEY, decide_workload

# a regional split: the Caspian/Caucasus corridor, the Tajik-Afghan/Uzbek corridor, the northern
# (Kazakh/Kyrgyz/Russian) corridor, and the partners
GROUPS = {"AZ": 0, "TM": 0, "GE": 0, "AM": 0, "IR": 0, "TR": 0,
          "TJ": 1, "UZ": 1, "AF": 1, "PK": 1,
          "KZ": 2, "KG": 2, "RU": 2, "CN": 2}


def shard_of(by: str, k: int) -> Callable[[dict[str, Any]], int]:
    if by == "region":
        return lambda r: GROUPS.get(r["reporter_state"], 3) % k
    return lambda r: zlib.crc32(r["report_id"].encode()) % k


def simulate(reports: list[dict[str, Any]], k: int, by: str, replicate: bool = True) -> dict[str, Any]:
    """One run; ``replicate=False``: shards that do NOT exchange state (what independent shards would
    answer -- to count the items that sharding without replication would change)."""
    s = settings_mod.load({}, id_key=BENCH_ID_KEY.decode(), audit_key=BENCH_ID_KEY.decode())
    ctx = Context(s, enrich.refdata(), BENCH_ID_KEY)
    states = [State() for _ in range(k)]
    shard = shard_of(by, k)
    decide_cpu = [0.0] * k
    apply_cpu = [0.0] * k
    inputs = [0] * k
    remote_records = 0
    remote_bytes = 0
    offsets = [0] * k
    items: list[tuple[str, str, str]] = []
    for i, r in enumerate(reports):  # the global order: processing time, then shard, then offset
        sh = shard(r)
        inp = ReportInput(r, Message(f"hub.pipeline.validated/{sh}", sh, offsets[sh], b"", b""))
        offsets[sh] += 1
        t0 = time.process_time()
        d = decide(inp, states[sh], ctx.at(i, r["received_at"]))
        decide_cpu[sh] += time.process_time() - t0
        inputs[sh] += 1
        if d.error:
            raise RuntimeError(d.error)
        items += [(it["item_id"], it["delivery"], it["incident_id"],
                   *(tuple(x.get("report_id") for x in it["enrichment"][f])
                     for f in ("prior_reports", "also_reported_by", "entity_links"))) for it in d.feed_items]
        size = sum(len(json.dumps(v, separators=(",", ":"))) for w in d.writes.values() for v in w.values())
        for j in range(k) if replicate else (sh,):
            t0 = time.process_time()
            states[j].apply(d.writes)
            apply_cpu[j] += time.process_time() - t0
            if j != sh:
                remote_records += sum(len(w) for w in d.writes.values())
                remote_bytes += size
    n = len(reports)
    per_shard = [(decide_cpu[j] + apply_cpu[j]) / n * 1e6 for j in range(k)]
    dec, app = sum(decide_cpu) / n * 1e6, sum(apply_cpu) / k / n * 1e6
    return {"shards": k, "by": by, "reports": n, "inputs per shard": inputs,
            "decide µs/report (all shards)": dec, "apply µs/record (per shard)": app,
            "busiest shard CPU µs per report of the whole stream": max(per_shard),
            "speed-up (decide+apply over the busiest shard)": (dec + app) / max(per_shard),
            "cross-shard records/report": remote_records / n, "cross-shard KB/report": remote_bytes / n / 1e3,
            "items": items}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m hub.tools.bench.sharding")
    ap.add_argument("--reports", type=int, default=3000)
    ap.add_argument("--shards", default="1,2,4")
    ap.add_argument("--by", default="region,hash")
    args = ap.parse_args()
    reports = decide_workload(args.reports)
    reports.sort(key=lambda r: r["received_at"])
    base_items: list[Any] | None = None
    for by in args.by.split(","):
        for k in (int(x) for x in args.shards.split(",")):
            res = simulate(reports, k, by)
            items = res.pop("items")
            base_items = items if base_items is None else base_items
            out = {**{k2: (round(v, 2) if isinstance(v, float) else v) for k2, v in res.items()},
                   "items equal to one sequencer": items == base_items}
            if k > 1:  # the same shards without exchanging state: how many items would change
                alone = simulate(reports, k, by, replicate=False)["items"]
                pairs = list(zip(alone, base_items, strict=True))
                out["items changed without replication (%)"] = round(
                    100 * sum(a != b for a, b in pairs) / len(pairs), 1)
                out["... not counting entity links (%)"] = round(
                    100 * sum(a[:5] != b[:5] for a, b in pairs) / len(pairs), 1)
            print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
