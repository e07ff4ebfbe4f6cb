"""CPU per feed item of the ``feeds`` projection, step by step: ``python -m hub.tools.bench.feedrow``.

The records are what the pipeline worker produces for ``--reports`` simulator reports
(:func:`hub.tools.bench.projections.records`: the decision core's feed items, written by the worker's
encoder), only those of the ``hub.feed.*`` topics. They go through the feeds projection in batches of
``--batch`` (500, as ``hub sink`` fetches) into a fresh SQLite feed file, the way its consumer does:

* **classify**: :func:`hub.projections.base.classify` -- Avro decoding and the ``feed_items`` row
  with the item's JSON, the step ``hub sink`` runs before its transaction;
* **sql**: inside the transaction, :meth:`~hub.feeds.projection.FeedProjection.write` (id lookup,
  ``MAX(seq)`` per recipient, the insert) and the projection's progress row;
* **commit**: the ``COMMIT`` (WAL);
* **wake**: :meth:`~hub.feeds.projection.FeedProjection.after_commit` (the gateway's wake-up).

That transaction is :meth:`hub.projections.base.Projection.apply`'s, written out here so its steps can
be timed apart. The reference split of classify into **decode** (:meth:`hub.domain.codec.Codec.decode`
of each record) and **json** (:func:`hub.domain.feedjson.to_row` of each decoded item) is measured
separately, on the generic path (the codec and the row function, without any shortcut classify may
take): a pass of decoding alone, and one of decoding and the row, whose difference is the JSON.

``--order production`` (default) keeps the order the worker wrote them (a report's items to its
recipients one after another, as a consumer reading all feed topics at once meets them);
``--order recipient`` puts each recipient's topic after the other (a report's items far apart: what a
consumer reading one partition at a time meets). CPU time of this process (``time.process_time``)
divided by the feed items; of ``--runs`` runs, the one with the median total is reported (all totals
are listed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.platform.db import Database
from hub.platform.kafka.topics import FEED_PREFIX
from hub.platform.settings import Settings
from hub.platform.settings import load as load_settings
from hub.tools.bench.projections import BENCH_KEY, Record, records

STEPS = ("classify", "sql", "commit", "wake")


def feed_records(n_reports: int, settings: Settings, order: str = "production") -> list[Record]:
    """The feed-topic records of ``n_reports`` simulator reports, in ``order`` (production, recipient)."""
    recs = [r for r in records(n_reports, settings) if r.topic.startswith(FEED_PREFIX)]
    if order == "recipient":
        recs.sort(key=lambda r: (r.topic, r.offset))  # stable: each topic in its own order
    elif order != "production":
        raise ValueError(f"order: production or recipient, not {order!r}")
    return recs


def measure(recs: Sequence[Record], settings: Settings, path: Path, batch: int = 500) -> dict[str, Any]:
    """One pass of ``recs`` through the feeds projection into a fresh feed file at ``path``: CPU ms
    per item of each step (see the module), and the total."""
    from hub.domain import feedrow
    from hub.feeds.projection import FeedProjection
    from hub.projections import progress
    from hub.projections.base import classify

    feedrow.forget()  # each run starts with nothing kept, as a new sink process
    db = Database(f"sqlite:///{path}")
    proj = FeedProjection(db, settings)
    cpu = dict.fromkeys(STEPS, 0.0)
    added = 0
    clock = time.process_time
    try:
        for n in range(0, len(recs), batch):
            part = recs[n:n + batch]
            t0 = clock()
            rows = classify(part)
            t1 = clock()
            if rows.dead_letters:
                raise RuntimeError(f"undecodable bench record: {rows.dead_letters[0]}")
            with proj.db.transaction():  # Projection.apply's transaction, its steps timed apart
                added += proj.write(rows)
                progress.record(proj.db, proj.name, records=len(rows), added=len(rows),
                                last_record_ms=part[-1].timestamp, backlog=0)
                t2 = clock()
            t3 = clock()
            proj.after_commit()
            t4 = clock()
            for step, dt in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                cpu[step] += dt
    finally:
        proj.close()
        db.close()
    if added != len(recs):
        raise RuntimeError(f"{added} rows stored of {len(recs)} feed items")
    n = max(1, len(recs))
    out = {f"{k}_ms": 1000 * v / n for k, v in cpu.items()}
    out["total_ms"] = 1000 * sum(cpu.values()) / n
    return out


def reference_split(recs: Sequence[Record]) -> dict[str, float]:
    """The generic decoding path's two parts, CPU ms per item: Avro decode (each decoded item dropped at
    once, as classify drops it: holding 500 decoded items makes the garbage collector's work part of
    the figure), and row + JSON (a pass decoding and making the row, less the decode alone)."""
    from hub.domain.codec import FEED_ITEM, codec
    from hub.domain.feedjson import to_row

    c = codec()
    decode = both = 0.0
    for n in range(0, len(recs), 500):
        part = recs[n:n + 500]
        t0 = time.process_time()
        for r in part:
            c.decode(r.value, expect=FEED_ITEM)
        t1 = time.process_time()
        for r in part:
            to_row(c.decode(r.value, expect=FEED_ITEM))
        t2 = time.process_time()
        decode += t1 - t0
        both += t2 - t1
    n = max(1, len(recs))
    return {"decode_ms": 1000 * decode / n, "json_ms": 1000 * max(0.0, both - decode) / n}


def run(n_reports: int = 2_000, batch: int = 500, runs: int = 3, order: str = "production") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-feedrow-") as tmp:
        settings = load_settings({}, id_key=BENCH_KEY, audit_key=BENCH_KEY, data_dir=tmp)
        recs = feed_records(n_reports, settings, order)
        load = os.getloadavg()[0]
        passes = [measure(recs, settings, Path(tmp) / f"run{i}" / "hub.db", batch) for i in range(runs)]
        refs = [reference_split(recs) for _ in range(runs)]
        # the run with the median total (its steps add up to it), the lower middle one of an even count
        median = {k: round(v, 4) for k, v in sorted(passes, key=lambda p: p["total_ms"])[(runs - 1) // 2].items()}
        ref = {k: round(statistics.median(r[k] for r in refs), 4) for k in refs[0]}
        return {"reports": n_reports, "feed_items": len(recs), "batch": batch, "runs": runs, "order": order,
                "load_average": round(load, 1), "load_average_end": round(os.getloadavg()[0], 1),
                "median": median, "totals_ms": [round(p["total_ms"], 4) for p in passes],
                "items_per_s_one_core": round(1000 / median["total_ms"]) if median["total_ms"] else None,
                "generic_decode": ref}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m hub.tools.bench.feedrow",
        description="CPU ms per feed item of the feeds projection (classify = decode + row JSON, SQL, "
                    "commit, wake-up), in-process, into a fresh SQLite feed file, over the feed items the "
                    "pipeline makes of simulator reports; median of several runs.")
    ap.add_argument("--reports", type=int, default=2_000, help="simulator reports (default 2000)")
    ap.add_argument("--batch", type=int, default=500, help="records per consumed batch (default 500, as hub sink)")
    ap.add_argument("--runs", type=int, default=3, help="runs; the one with the median total is reported (default 3)")
    ap.add_argument("--order", choices=("production", "recipient"), default="production",
                    help="record order: as produced (default) or each recipient's topic in turn")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args(argv)
    if a.reports < 1 or a.batch < 1 or a.runs < 1:
        ap.error("--reports, --batch and --runs must be at least 1")
    from hub.platform.log import configure

    configure("WARNING")  # the projection's per-batch log line is part of what is measured, not printed
    res = run(a.reports, a.batch, a.runs, a.order)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    m, g = res["median"], res["generic_decode"]
    print(f"{res['reports']} reports → {res['feed_items']} feed items ({res['order']} order), batches of "
          f"{res['batch']}, the median of {res['runs']} runs; load average {res['load_average']} → "
          f"{res['load_average_end']}")
    print("CPU ms per feed item: " + "  ".join(f"{s} {m[f'{s}_ms']:.4f}" for s in STEPS)
          + f"  = total {m['total_ms']:.4f} ({res['items_per_s_one_core'] or 0:,} items/s on one core)")
    print(f"runs: {', '.join(f'{t:.4f}' for t in res['totals_ms'])}")
    print(f"generic decoding path: Avro decode {g['decode_ms']:.4f}  row + JSON {g['json_ms']:.4f}")


if __name__ == "__main__":
    main()
