"""The worker's decision path offline: ``python -m hub.tools.decisionpath``.

Runs what ``hub worker``'s sequence agent does per hub.intake record — validate → decide() over the
in-memory State → ``State.apply`` → the records it sends (the validated record, feed items,
Receipt, dead letters, one AuditBatch) and the state writes it stages for the ``reports`` table —
in this process, with no Kafka and no faust: :meth:`hub.pipeline.shell.steps.Sequencer.step` itself,
fed with the hub.intake records the gateway would produce for ``--reports`` simulator reports
(:func:`hub.tools.bench.workload.generate` with a fixed seed, a fixed "now" and deterministic trace
ids), each record's timestamp its report's ``received_at``.

It prints:

* a SHA-256 **digest** over every output, in order: each record's topic, key, headers and value
  bytes, and each state write (table, key, JSON value) as the changelog would carry it. Two runs
  with the same arguments give the same digest; any change of an output byte changes it. A
  refactoring of the decision path that must not change outputs keeps the digest;
* the **CPU time** (this process, ``time.process_time``) per report of the steps alone — the
  generation of the inputs is not counted — over all reports and over the second half (warm: the
  encoders have learned their framings, the caches are filled).

The worker's garbage-collector setting (:func:`hub.pipeline.shell.app.tune_gc`) is applied first,
as ``hub worker`` does. CPU time still moves with the machine's load (caches, frequency): compare
runs made back to back, and take the median of a few.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.domain.wire import Record
from hub.tools.bench.stages import BENCH_ID_KEY

BENCH_KEY = BENCH_ID_KEY.decode()  # ids of synthetic reports only (the bench's key)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # the generator's "now": fixed, so the reports are too
DEFAULT_SEED = 7


@dataclass(frozen=True)
class IntakeMessage:
    """A consumed hub.intake record, with the attributes the agent reads of faust's Message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp: float  # seconds, as faust gives it


@dataclass
class Collected:
    """What the steps handed their checkpoint, in order: records and state writes."""

    outputs: list[Record | tuple[str, str, Any]] = field(default_factory=list)

    # the Checkpoint methods Sequencer.step calls
    def emit(self, record: Record) -> None:
        self.outputs.append(record)

    def emit_all(self, records: Iterable[Record]) -> None:
        self.outputs.extend(records)

    def write(self, writes: Mapping[str, Mapping[str, Any]]) -> None:
        for table, values in writes.items():
            for key, value in values.items():
                self.outputs.append((table, key, value))


def _frame(h: Any, b: bytes | None) -> None:
    """Length-prefixed (None: -1), so that moving a byte from one field to the next changes the digest."""
    if b is None:
        h.update(struct.pack("<q", -1))
    else:
        h.update(struct.pack("<q", len(b)))
        h.update(b)


def digest(outputs: Sequence[Record | tuple[str, str, Any]]) -> str:
    """SHA-256 over every output in order: a record's topic, key, headers and value; a state write's
    table, key and JSON value (as faust's json serializer writes it)."""
    h = hashlib.sha256()
    for out in outputs:
        if isinstance(out, Record):
            h.update(b"R")
            _frame(h, out.topic.encode())
            _frame(h, out.key)
            h.update(struct.pack("<q", len(out.headers or [])))
            for k, v in out.headers or []:
                _frame(h, k.encode())
                _frame(h, v)
            _frame(h, out.value)
        else:
            table, key, value = out
            h.update(b"W")
            _frame(h, table.encode())
            _frame(h, json.dumps(key).encode())
            _frame(h, json.dumps(value).encode())
    return h.hexdigest()


def inputs(n_reports: int, seed: int, settings: Any) -> list[IntakeMessage]:
    """The hub.intake records of ``n_reports`` simulator reports (seed ``seed``), as the gateway
    produces them; deterministic."""
    from hub.tools.bench.workload import generate, intake_records

    items = generate(n_reports, seed=seed, settings=settings, now=NOW,
                     trace_id=lambda i: hashlib.sha256(f"trace:{seed}:{i}".encode()).hexdigest()[:32])
    out = []
    for offset, (it, (key, value, headers)) in enumerate(zip(items, intake_records(items), strict=True)):
        out.append(IntakeMessage("hub.intake", 0, offset, key, value, headers, it.report["received_at"] / 1000))
    return out


@dataclass(frozen=True)
class Result:
    reports: int
    outputs: int
    digest: str
    cpu_s: float  # the steps, all reports
    cpu_warm_s: float  # the steps of the second half
    collected: Collected

    @property
    def cpu_ms_per_report(self) -> float:
        return 1000 * self.cpu_s / max(1, self.reports)

    @property
    def cpu_warm_ms_per_report(self) -> float:
        return 1000 * self.cpu_warm_s / max(1, self.reports - self.reports // 2)


def run(n_reports: int = 2_000, seed: int = DEFAULT_SEED, *, messages: Sequence[IntakeMessage] | None = None,
        data_dir: str | None = None) -> Result:
    """The decision path over ``n_reports`` generated reports (or over ``messages``), on a fresh
    State: the outputs' digest and the CPU time of the steps."""
    from hub.pipeline.core.state import TABLES
    from hub.pipeline.shell.app import tune_gc
    from hub.pipeline.shell.steps import Sequencer
    from hub.platform.settings import load as load_settings

    with tempfile.TemporaryDirectory(prefix="hub-decisionpath-") as tmp:
        settings = load_settings({}, id_key=BENCH_KEY, audit_key=BENCH_KEY, data_dir=data_dir or tmp)
        msgs = list(messages) if messages is not None else inputs(n_reports, seed, settings)
        tune_gc()
        seq = Sequencer(settings, {name: {} for name in TABLES})
        state = seq.state()
        cp = Collected()
        half = len(msgs) // 2
        t0 = time.process_time()
        for m in msgs[:half]:
            seq.step(m, state, cp)  # type: ignore[arg-type]  # Collected has the Checkpoint methods step uses
        t1 = time.process_time()
        for m in msgs[half:]:
            seq.step(m, state, cp)  # type: ignore[arg-type]
        t2 = time.process_time()
        seq.tally.counts.clear()  # nothing reaches Prometheus: the counts are not outputs
        return Result(len(msgs), len(cp.outputs), digest(cp.outputs), t2 - t0, t2 - t1, cp)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m hub.tools.decisionpath",
        description="Run the worker's decision path (validate → decide → apply → encode, Sequencer.step) "
                    "in-process, no Kafka, over deterministic simulator reports; print the SHA-256 digest "
                    "of every output (records and state writes, in order) and the CPU time per report.")
    ap.add_argument("--reports", type=int, default=2_000, help="simulator reports (default 2000)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"generator seed (default {DEFAULT_SEED})")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs over the same inputs, each on a fresh State (default 1); the median CPU is printed")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args(argv)
    from hub.platform.log import configure
    from hub.platform.settings import load as load_settings

    configure("WARNING")  # per-report log lines (duplicates, rejections) are not what is measured
    with tempfile.TemporaryDirectory(prefix="hub-decisionpath-") as tmp:
        settings = load_settings({}, id_key=BENCH_KEY, audit_key=BENCH_KEY, data_dir=tmp)
        msgs = inputs(a.reports, a.seed, settings)
        results = [run(messages=msgs, data_dir=tmp) for _ in range(max(1, a.repeat))]
    digests = {r.digest for r in results}
    if len(digests) != 1:
        raise SystemExit(f"runs over the same inputs gave different digests: {sorted(digests)}")
    per = sorted(r.cpu_ms_per_report for r in results)
    warm = sorted(r.cpu_warm_ms_per_report for r in results)
    out = {"reports": len(msgs), "seed": a.seed, "outputs": results[0].outputs, "digest": results[0].digest,
           "runs": len(results), "cpu_ms_per_report": [round(x, 4) for x in per],
           "median_cpu_ms_per_report": round(per[len(per) // 2], 4), "min_cpu_ms_per_report": round(per[0], 4),
           "median_warm_cpu_ms_per_report": round(warm[len(warm) // 2], 4)}
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['reports']} reports (seed {a.seed}) → {out['outputs']} outputs")
    print(f"digest  {out['digest']}")
    print(f"CPU ms per report: median {out['median_cpu_ms_per_report']:.4f} (warm half "
          f"{out['median_warm_cpu_ms_per_report']:.4f}); runs {out['cpu_ms_per_report']}")


if __name__ == "__main__":
    main()
