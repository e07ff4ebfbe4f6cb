"""`hub bench --smoke` still works end to end. Not a benchmark: no figure is asserted against a time
or a rate -- only that every section ran for real and produced consistent results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.bench import report
from hub.bench.run import SECTIONS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    work = tmp_path_factory.mktemp("bench")
    out = work / "results.json"
    md = work / "BENCH.md"
    md.write_text("# Benchmarks\n\nprose kept\n\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\n\nafter\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), HUB_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, "-m", "hub", "bench", "--smoke", "--out", str(out), "--write-md", str(md)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout, md


@pytest.mark.slow
def test_every_section_ran(smoke: tuple[dict, str, Path]) -> None:
    res, stdout, _md = smoke
    assert set(SECTIONS) <= set(res)
    ref = res["reference"]
    assert ref["codec_floor_per_s"] > 0 and ref["passthrough_per_s"] > 0
    assert [t["workers"] for t in res["throughput"]] == [1, 2]
    for t in res["throughput"]:
        assert t["complete"], t  # every pre-loaded report came out of the pipeline
        assert t["processed"] >= t["reports"] > 0
        assert all(v > 0 for v in t["peak_rss_mb"].values())
        assert set(t["ratios"] if "ratios" in t else res["ratios"][f"{t['workers']}_worker"]) == {
            "to_codec_floor", "to_passthrough"}
    (lat,) = res["latency"]
    assert not lat["saturated"] and lat["processed"] >= lat["reports"]
    assert 0 < lat["with_feed_items"] <= lat["reports"]
    assert lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    rest = res["rest"]
    assert rest["single"]["all_accepted"], rest["single"]["statuses"]
    assert rest["batch"]["all_accepted"], rest["batch"]["statuses"]
    assert rest["batch"]["reports"] > rest["batch"]["requests"]
    assert rest["single"]["gateway_cpu_ms_per_request"] > 0
    for d in res["dedup"]:
        assert d["lookup_hits"] == d["lookups"] > 0
        assert d["disk_mb"] >= 0 and d["peak_rss_mb"] > 0
    assert set(res["targets"]) == {"throughput_reports_per_s", "ratio_to_codec_floor", "latency_p99_ms",
                                   "rest_requests_per_s", "dedup_10m_rss_mb", "search_p95_ms"}
    assert res["targets"]["dedup_10m_rss_mb"]["met"] is None  # 2,000 keys say nothing about 10M
    assert "codec floor" in stdout and "REST POST /v1/reports" in stdout


@pytest.mark.slow
def test_write_md_replaces_only_the_generated_block(smoke: tuple[dict, str, Path]) -> None:
    res, _stdout, md = smoke
    text = md.read_text()
    assert "old table" not in text
    assert text.startswith("# Benchmarks\n\nprose kept\n") and text.rstrip().endswith("after")
    assert text.count(report.BEGIN) == 1 and text.count(report.END) == 1
    assert res["machine"]["commit"].split("+")[0] in text
    for row in report.rows(res):
        assert f"| {row[0]} |" in text
