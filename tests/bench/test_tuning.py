"""The memory bounds of the pipeline's tables (issue 7: 10M dedup keys within 500 MB). No timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hub.pipeline.core.state import TABLES
from hub.pipeline.shell.app import TABLE_OPTIONS, create_app
from tests.conftest import hub_settings

ROOT = Path(__file__).resolve().parents[2]


def test_rocksdb_tables_get_the_bounded_options(tmp_path: Path) -> None:
    s = hub_settings(data_dir=str(tmp_path))
    app = create_app(s, store="rocksdb://", data_dir=str(tmp_path / "faust"))
    assert sorted(app.tables) == sorted(TABLES)  # the State's persisted tables, nothing else
    for name in TABLES:
        assert app.tables[name].options == TABLE_OPTIONS
    assert TABLE_OPTIONS["block_cache_size"] <= 64 * 2**20
    mem = create_app(s, store="memory://", data_dir=str(tmp_path / "faust2"))
    assert not mem.tables["reports"].options  # the memory store takes no RocksDB options


def test_dedup_size_measures_store_and_cache(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "hub.tools.bench.dedup_size", "--keys", "3000", "--dir", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, check=True, timeout=120)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["keys"] == 3000 and d["lookup_hits"] == d["lookups"] >= 3000
    # the worker reads its state from memory (State), not through a table cache: the store alone is measured
    assert d["rocksdb_options"] == TABLE_OPTIONS and d["table_cache_entries"] == 0
    assert d["peak_rss_mb"] >= d["peak_rss_store_only_mb"] > 0
    assert not any(tmp_path.iterdir())  # the store is removed afterwards
