"""`hub bench --smoke --only search` works end to end (not a benchmark: nothing is asserted against
a time). The search section fills a store through the analyst projection and times real searches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hub.tools.bench import report

ROOT = Path(__file__).resolve().parents[2]


def test_search_section_runs(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HUB_LOG_LEVEL="WARNING")
    env.pop("HUB_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "hub", "bench", "--smoke", "--only", "search", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    s = res["search"]
    assert s["database"] == "sqlite" and s["items"] == 2_000 and s["reports"] > 0
    assert sum(s["feeds"].values()) == s["items"] and s["largest_feed"] == max(s["feeds"].values())
    assert s["searches"] == 60 and 0 < s["with_results"] <= s["searches"]
    assert s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"] <= s["max_ms"] and s["cpu_p50_ms"] <= s["cpu_p95_ms"]
    assert set(s["p95_by_kind_ms"]) <= {"container", "plate", "name", "fuzzy", "substance", "place", "text", "combined"}
    assert set(s["other_p95_ms"]) == {"incidents", "incident", "stats"}
    t = res["targets"]["search_p95_ms"]
    assert t["target"] == 50 and t["met"] is None  # 2,000 items say nothing about 200,000
    assert any(row[0].startswith("analyst search over 2,000 stored items") for row in report.rows(res))
    assert "analyst search" in proc.stdout
