"""The sink's figures: CPU per record of each projection in-process (``python -m
hub.tools.bench.projections``) and ``hub bench --only sink --sink-split`` (the feed projection in its
own process). Not a benchmark: only that the figures are produced and consistent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hub.projections.registry import NAMES
from hub.tools.bench.projections import run

ROOT = Path(__file__).resolve().parents[2]


def test_cpu_per_record_of_every_projection() -> None:
    res = run(30)
    assert set(res["projections"]) == set(NAMES)
    p = res["projections"]
    assert p["feeds"]["records"] == p["feeds"]["rows"] > 30  # every report reaches at least one recipient
    assert p["analyst"]["records"] > p["feeds"]["records"]  # the feed items and the receipts
    assert p["audit"]["rows"] > p["audit"]["records"] == 30  # one AuditBatch per report, several events each
    for name, fig in p.items():
        assert fig["decode_ms"] > 0 and fig["write_ms"] > 0, name
        assert abs(fig["total_ms"] - fig["decode_ms"] - fig["write_ms"]) < 0.001, name
    assert res["sink_cpu_ms_per_row"] > 0


def test_help_and_one_projection() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    helped = subprocess.run([sys.executable, "-m", "hub.tools.bench.projections", "--help"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "CPU per record" in helped.stdout
    out = subprocess.run([sys.executable, "-m", "hub.tools.bench.projections", "--reports", "10", "--only", "feeds",
                          "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    assert list(res["projections"]) == ["feeds"] and res["sink_cpu_ms_per_row"] is None
    bad = subprocess.run([sys.executable, "-m", "hub.tools.bench.projections", "--only", "nope"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "'nope' is not one of" in bad.stderr


def test_sink_split_runs_the_feed_projection_in_its_own_process(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HUB_LOG_LEVEL="WARNING", COLUMNS="400")  # no wrapped cells
    proc = subprocess.run([sys.executable, "-m", "hub", "bench", "--smoke", "--only", "sink", "--sink-split",
                           "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sink = json.loads(out.read_text())["sink"]
    assert sink["split"] and sink["complete"] and sink["stored_items"] == sink["feed_items"] > 0
    assert {"sink", "sink-feeds"} <= set(sink["peak_rss_mb"])
    assert sink["feeds_cpu_ms_per_item"] > 0 and sink["sink_cpu_ms_per_row"] > 0
    assert set(sink["seconds_per_projection"]) == {"feeds", "audit", "analyst"}
    assert "feeds in its own process" in proc.stdout


def test_feed_projection_steps() -> None:
    """``python -m hub.tools.bench.feedrow``: the feeds projection's CPU per item by step, both orders."""
    from hub.tools.bench.feedrow import STEPS
    from hub.tools.bench.feedrow import run as feedrow_run

    for order in ("production", "recipient"):
        res = feedrow_run(20, runs=3, order=order)
        m = res["median"]
        assert res["feed_items"] > 20 and res["order"] == order and len(res["totals_ms"]) == 3
        assert all(m[f"{s}_ms"] > 0 for s in ("classify", "sql", "commit")), m
        assert abs(m["total_ms"] - sum(m[f"{s}_ms"] for s in STEPS)) < 0.001
        assert res["generic_decode"]["decode_ms"] > 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    helped = subprocess.run([sys.executable, "-m", "hub.tools.bench.feedrow", "--help"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "CPU ms per feed item" in helped.stdout
    bad = subprocess.run([sys.executable, "-m", "hub.tools.bench.feedrow", "--runs", "0"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--runs must be at least 1" in bad.stderr
