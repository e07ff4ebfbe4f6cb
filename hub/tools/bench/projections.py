"""CPU per record of each projection, in-process: ``python -m hub.tools.bench.projections``.

What ``hub sink`` spends on one record, without Kafka and without the other processes of the
machine (their load changes wall-clock rates, not the CPU time of this process): the pipeline's
decision core makes the feed items, receipts and audit events of ``--reports`` simulator reports
(:mod:`hub.tools.bench.workload`, as the gateway produces them), the worker's encoder writes their
bytes, and each projection then consumes them the way its consumer does — batches of ``--batch``
records of its own topics, :func:`hub.projections.base.classify` (decode), then
:func:`hub.sink.write` (one transaction per batch, or per slice on SQLite) into a fresh SQLite file.

Reported per projection: CPU ms per record for the decode and for the write, and the records per
second one core would give at that cost. ``--json`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.platform.db import Database
from hub.platform.kafka.topics import AUDIT, FEED_PREFIX, RECEIPTS, feed
from hub.platform.settings import Settings
from hub.platform.settings import load as load_settings
from hub.projections.base import classify
from hub.projections.registry import NAMES, build
from hub.tools.bench.stages import BENCH_ID_KEY

BENCH_KEY = BENCH_ID_KEY.decode()  # ids of synthetic reports only (the bench's key)


@dataclass(frozen=True)
class Record:
    """What the consumer hands the projection (the fields :func:`classify` reads)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def records(n_reports: int, settings: Settings, seed: int = 7) -> list[Record]:
    """The records the pipeline produces for ``n_reports`` simulator reports (feed items, receipts,
    audit batches), in production order, encoded as the worker encodes them."""
    from hub.domain.codec import AUDIT_BATCH, codec
    from hub.pipeline.core import enrich
    from hub.pipeline.core.decide import Context, ReportInput, decide
    from hub.pipeline.core.state import State
    from hub.pipeline.core.validate import Message
    from hub.pipeline.shell.feedcodec import Encoder
    from hub.tools.bench.workload import generate

    enc = Encoder(codec())
    ctx = Context(settings, enrich.refdata(), BENCH_KEY.encode())
    st = State()
    out: list[Record] = []
    offsets: dict[str, int] = {}

    def add(topic: str, key: str, value: bytes, ts: int) -> None:
        offsets[topic] = offsets.get(topic, -1) + 1
        out.append(Record(topic, 0, offsets[topic], key.encode(), value, ts))

    for i, it in enumerate(generate(n_reports, seed=seed, settings=settings)):
        r = it.report
        d = decide(ReportInput(r, Message("hub.pipeline.validated", 0, i, r["report_id"].encode(), b"")), st,
                   ctx.at(i, r["received_at"]))
        if d.error:
            raise RuntimeError(d.error)
        st.apply(d.writes)
        ts = int(r["received_at"])
        if d.feed_items:
            for fi, data in zip(d.feed_items, enc.feed.encode(d.feed_items), strict=True):
                add(feed(fi["recipient"]), fi["incident_id"], data, ts)
        if d.receipt is not None:
            add(RECEIPTS, d.receipt["report_id"], enc.receipts.encode(d.receipt), ts)
        if d.audit:
            add(AUDIT, r["report_id"], enc.codec.encode(AUDIT_BATCH, {"events": d.audit}), ts)
    return out


def measure(name: str, recs: Sequence[Record], settings: Settings, workdir: Path, batch: int = 500
            ) -> dict[str, Any]:
    """One projection over ``recs`` (those of its topics), into a fresh SQLite file: CPU seconds of
    decoding and of writing, per record."""
    from hub.sink import write

    db = Database(f"sqlite:///{workdir / f'{name}.db'}")
    (proj,) = build([name], db, settings)
    topics = set(proj.topics())
    mine = [r for r in recs if r.topic in topics]
    decode = store = 0.0
    rows = 0
    try:
        for n in range(0, len(mine), batch):
            part = mine[n:n + batch]
            t0 = time.process_time()
            sorted_ = classify(part)
            t1 = time.process_time()
            write(proj, sorted_, last_record_ms=part[-1].timestamp, backlog=0)
            t2 = time.process_time()
            decode += t1 - t0
            store += t2 - t1
            rows += len(sorted_)
    finally:
        proj.close()
        db.close()
    n = max(1, len(mine))
    return {"records": len(mine), "rows": rows, "cpu_s": decode + store, "decode_ms": round(1000 * decode / n, 4), "write_ms": round(1000 * store / n, 4),
            "total_ms": round(1000 * (decode + store) / n, 4),
            "records_per_s_one_core": round(n / (decode + store), 1) if decode + store else None}


def run(n_reports: int = 2_000, names: Sequence[str] = NAMES, batch: int = 500) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-proj-") as tmp:
        settings = load_settings({}, id_key=BENCH_KEY, audit_key=BENCH_KEY, data_dir=tmp)
        recs = records(n_reports, settings)
        out: dict[str, Any] = {"reports": n_reports, "records": len(recs), "batch": batch,
                               "load_average": round(os.getloadavg()[0], 1), "projections": {}}
        for name in names:
            out["projections"][name] = measure(name, recs, settings, Path(tmp), batch)
        projs = out["projections"]
        cpu = sum(p.pop("cpu_s") for p in projs.values())
        # as `hub bench --only sink` counts them: feed items + audit events (the rows of feed_items and audit_log)
        rows = sum(1 for r in recs if r.topic.startswith(FEED_PREFIX)) + projs.get("audit", {}).get("rows", 0)
        out["sink_cpu_ms_per_row"] = round(1000 * cpu / max(1, rows), 4) if "audit" in projs else None
        out["load_average_end"] = round(os.getloadavg()[0], 1)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m hub.tools.bench.projections",
                                 description="CPU per record of each projection (decode + write), in-process, "
                                             "on SQLite, over the records the pipeline makes of simulator reports.")
    ap.add_argument("--reports", type=int, default=2_000, help="simulator reports (default 2000)")
    ap.add_argument("--only", default=",".join(NAMES), help=f"projections, comma-separated (default {','.join(NAMES)})")
    ap.add_argument("--batch", type=int, default=500, help="records per consumed batch (default 500, as hub sink)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args(argv)
    from hub.platform.log import configure
    from hub.projections.registry import check

    configure("WARNING")  # the projections' per-batch log lines are not what is measured

    res = run(a.reports, check([n.strip() for n in a.only.split(",") if n.strip()]), a.batch)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['reports']} reports → {res['records']} records; batches of {res['batch']}; "
          f"load average {res['load_average']} → {res['load_average_end']}")
    print(f"{'projection':<10} {'records':>8} {'decode ms':>10} {'write ms':>9} {'total ms':>9} {'per s (1 core)':>15}")
    for name, p in res["projections"].items():
        print(f"{name:<10} {p['records']:>8} {p['decode_ms']:>10.4f} {p['write_ms']:>9.4f} {p['total_ms']:>9.4f} "
              f"{p['records_per_s_one_core'] or 0:>15,.0f}")
    if res["sink_cpu_ms_per_row"] is not None:
        print(f"all projections: {res['sink_cpu_ms_per_row']:.4f} ms CPU per row (feed item or audit event)")


if __name__ == "__main__":
    main()
