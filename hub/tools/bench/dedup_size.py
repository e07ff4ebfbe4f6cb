"""Dedup-state size vs number of keys, measured in a fresh process (``python -m hub.tools.bench.dedup_size``).

It writes ``keys`` entries into a RocksDB opened with faust's own options
(:class:`faust.stores.rocksdb.RocksDBOptions`, i.e. what ``hub worker`` uses for its tables with
rocksdict installed), in the pipeline's representation of the ``reports`` table: key = the JSON of
the report id, value = the JSON of the record the worker persists
(:func:`hub.pipeline.core.state.to_json`) for one version routed to four recipients, with two
correlation keys and two party names, in its own incident. Then it looks up
random keys in the store (through the pipeline's ``TableCache`` when the code measured has one — the
worker since the checkpoint reads its in-memory State instead and only rebuilds it from the tables)
and prints one JSON line: seconds, peak RSS (VmHWM) of the store alone and after the lookups, and
the on-disk size after a flush.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from hub.domain.report import report_id
from hub.pipeline.core.state import IncidentGroup, Rec, Version, Views, to_json
from hub.tools.bench.procs import peak_rss_mb

BENCH_ID_KEY = b"bench-id-key-not-a-secret"  # ids of synthetic reports only

BATCH = 20_000
_VIEWS = Views()
_RECIPIENTS = _VIEWS.mask(["CARICC", "KZ", "RU", "TJ"])


def _state(i: int) -> tuple[bytes, bytes]:
    agency = ("KZ-CUSTOMS", "KG-DCS", "TJ-DCA", "UZ-CUSTOMS", "RU-FCS")[i % 5]
    state = agency[:2]
    rid = report_id(BENCH_ID_KEY, agency, f"{agency}-2026-{i:09d}")
    t = 1_780_000_000_000 + i
    version = Version(1, "SEIZURE", t - 7_200_000, (f"C:MSCU{i % 10_000_000:07d}", f"P:{i:08d}KZ"),
                      ("Rakhimov Farrukh", f"Vostok Tranzit LLC {i % 1000}"), i, t, _RECIPIENTS)
    sbit = _VIEWS.bit(state)
    rec = Rec(agency, state, sbit, (version,), (), (IncidentGroup(None, _RECIPIENTS | sbit),))
    return json.dumps(rid).encode(), json.dumps(to_json(rec, _VIEWS)).encode()


def table_options() -> dict[str, int]:
    """The RocksDB options the pipeline gives its tables (faust's defaults when it sets none)."""
    try:
        from hub.pipeline.shell.app import TABLE_OPTIONS
    except ImportError:
        return {}
    return dict(TABLE_OPTIONS)


class _Store:
    """The faust table as the TableCache sees it: ``get(report_id)`` -> decoded state."""

    def __init__(self, db: object) -> None:
        self.db = db

    def get(self, key: str) -> object:
        raw = self.db.get(json.dumps(key).encode())  # type: ignore[attr-defined]
        return json.loads(raw) if raw is not None else None


def _table_cache(db: object) -> tuple[object, int]:
    try:
        from hub.pipeline.shell.app import TableCache
    except ImportError:  # a pipeline without the cache reads the store directly
        return _Store(db), 0
    cache = TableCache(_Store(db))
    return cache, int(getattr(cache, "cap", 0))


def measure(keys: int, path: Path, lookups: int = 100_000,
            options: dict[str, int] | None = None) -> dict[str, float | int]:
    import rocksdict
    from faust.stores.rocksdb import RocksDBOptions

    if path.exists():
        shutil.rmtree(path)
    opts = table_options() if options is None else options
    db = RocksDBOptions(**opts).open(path)
    t0 = time.perf_counter()
    batch = rocksdict.WriteBatch(raw_mode=True)
    key_bytes = value_bytes = 0
    for i in range(keys):
        k, v = _state(i)
        key_bytes += len(k)
        value_bytes += len(v)
        batch.put(k, v)
        if (i + 1) % BATCH == 0:
            db.write(batch)
            batch = rocksdict.WriteBatch(raw_mode=True)
    db.write(batch)
    write_s = time.perf_counter() - t0
    rss_store = peak_rss_mb(os.getpid())
    # the worker reads the table through the pipeline's TableCache (decoded values kept in memory, up
    # to its cap): look keys up through one, enough of them to fill it, as the process agent would
    cache, cap = _table_cache(db)
    rng = random.Random(1)
    t1 = time.perf_counter()
    hits = 0
    n = max(lookups, min(keys, cap))
    for _ in range(n):
        _k, _v = _state(rng.randrange(keys))
        hits += cache.get(json.loads(_k)) is not None
    lookup_s = time.perf_counter() - t1
    lookups = n
    db.flush()
    db.close()
    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {"keys": keys, "write_seconds": round(write_s, 2), "lookups": lookups, "lookup_hits": hits,
            "lookups_per_s": round(lookups / lookup_s), "raw_bytes_per_key": round((key_bytes + value_bytes) / keys, 1),
            "disk_mb": round(disk / 2**20, 1), "rocksdb_options": opts,
            "table_cache_entries": cap, "peak_rss_store_only_mb": round(rss_store or 0, 1), "peak_rss_mb": round(peak_rss_mb(os.getpid()) or 0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, required=True, help="number of dedup keys to write")
    ap.add_argument("--dir", required=True, help="directory for the store (removed afterwards)")
    ap.add_argument("--options", help="JSON object of faust RocksDBOptions overrides (default: the pipeline's)")
    ap.add_argument("--lookups", type=int, default=100_000, help="random lookups after the writes")
    a = ap.parse_args(argv)
    path = Path(a.dir) / f"dedup-{a.keys}.db"
    try:
        opts = json.loads(a.options) if a.options else None
        print(json.dumps(measure(a.keys, path, min(a.lookups, a.keys), opts)))
    finally:
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
