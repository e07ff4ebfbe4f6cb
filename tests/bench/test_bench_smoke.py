"""`hub bench --smoke` still works end to end. Not a benchmark: no figure is asserted against a time
or a rate -- only that every section ran for real and produced consistent results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.tools.bench import report, trace
from hub.tools.bench.run import RUNNABLE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.both_brokers  # `hub bench --smoke` and `hub bench --smoke --kafka`


# The officer page drives Chromium and does not depend on the broker (tests/bench/test_bench_pages.py runs
# it once). On Apache Kafka the smoke runs the sections whose measured path is the broker's (consumers,
# producers, groups, the stores fed from topics); REST, fan-out, dedup state and search run on the
# embedded broker only: their Kafka part is the same producer/consumer code as the sections kept.
KAFKA_SECTIONS = ("reference", "throughput", "latency", "sse", "sink", "backfill")


def sections(broker_kind: str) -> list[str]:
    """The sections `hub bench --smoke` runs on ``broker_kind``."""
    keep = KAFKA_SECTIONS if broker_kind == "kafka" else RUNNABLE
    return [s for s in RUNNABLE if s in keep and s != "pages"]


@pytest.fixture(scope="module")
def smoke(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    work = tmp_path_factory.mktemp("bench")
    out = work / "results.json"
    md = work / "BENCH.md"
    md.write_text("# Benchmarks\n\nprose kept\n\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\n\nafter\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), HUB_LOG_LEVEL="WARNING")
    kafka = ["--kafka"] if broker_kind == "kafka" else []
    only = ",".join(sections(broker_kind))
    proc = subprocess.run([sys.executable, "-m", "hub", "bench", "--smoke", *kafka, "--only", only, "--out", str(out),
                           "--write-md", str(md)], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["bootstrap"].startswith("Apache Kafka" if kafka else "embedded"), res["bootstrap"]
    return json.loads(out.read_text()), proc.stdout, md


@pytest.mark.slow
def test_every_section_ran(smoke: tuple[dict, str, Path], broker_kind: str) -> None:
    res, stdout, _md = smoke
    ran = set(sections(broker_kind))
    assert {"machine", "ratios", "targets"} | ran <= set(res)
    assert not (set(RUNNABLE) - ran) & set(res)  # what --only left out is not reported as run
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
    (sse,) = res["sse"]
    assert sse["subscribers"] == 15  # one SSE client per recipient (7 members, 7 partners, the centre)
    assert 0 < sse["seen_by_subscribers"] <= sse["reports"] and sse["processed"] >= sse["reports"]
    assert sse["p50_ms"] <= sse["p95_ms"] <= sse["p99_ms"] <= sse["max_ms"]
    assert sse["pipeline_p50_ms"] is not None and sse["serving_p50_ms"] is not None
    assert sse["seen_by_subscribers"] <= sse["routed_reports"] <= sse["reports"]
    # the sink + gateway part by step: the processes' trace lines were joined to the reports seen
    bd = sse["breakdown"]
    assert 0 < bd["reports"] <= sse["seen_by_subscribers"]
    assert [s["step"] for s in bd["steps"]] == [s[0] for s in trace.STEPS]
    assert all(s["p50_ms"] is not None and s["p50_ms"] <= s["p99_ms"] <= s["max_ms"] for s in bd["steps"])
    # the worker part by step: the worker's checkpoint lines of the measured window
    wb = sse["worker_breakdown"]
    assert 0 < wb["records"] <= sse["reports"] and 0 < wb["batches"] <= wb["records"]
    assert [s["step"] for s in wb["steps"]] == [s[0] for s in trace.WORKER_STEPS]
    assert all(s["p50_ms"] is not None and s["p50_ms"] <= s["p99_ms"] <= s["max_ms"] for s in wb["steps"])
    sink = res["sink"]
    assert sink["complete"] and sink["feed_items"] == 2 * sink["reports"] > 0
    assert sink["audit_events"] == 4 * sink["reports"] and sink["items_per_s"] > 0 and sink["events_per_s"] > 0
    assert sink["indexed_items"] == sink["feed_items"] and sink["sink_cpu_ms_per_row"] > 0  # the analyst index too
    assert set(sink["seconds_per_projection"]) == {"feeds", "audit", "analyst"} and sink["indexed_per_s"] > 0
    bf = res["backfill"]
    assert bf["complete"], bf
    assert bf["accepted"] == bf["reports"] == res["plan"]["backfill_reports"] and bf["statuses"] == {
        "202": bf["batches"]}
    assert bf["processed"] >= bf["reports"] and bf["feed_items"] >= bf["routed"] > 0 and bf["audit_events"] > 0
    assert bf["indexed_items"] >= bf["routed"]  # the time includes the analyst index
    assert {"gateway", "worker-1", "sink", "broker"} <= set(bf["peak_rss_mb"]) and bf["seconds"] > 0
    assert set(res["targets"]) == {"throughput_reports_per_s", "ratio_to_codec_floor", "latency_p99_ms",
                                   "rest_requests_per_s", "rest_cpu_ms_per_request", "rest_batch_reports_per_s",
                                   "sse_p99_ms_at_100", "sse_p99_ms_at_1000", "backfill_seconds", "backfill_rss_mb",
                                   "dedup_10m_rss_mb", "search_p95_ms", "sink_feed_items_per_s", "fanout_p99_ms",
                                   "page_first_items_ms", "page_live_item_main_thread_ms"}
    assert res["targets"]["backfill_seconds"]["met"] is None  # 600 reports say nothing about 204,013
    assert res["targets"]["sse_p99_ms_at_100"]["measured"] == sse["p99_ms"]
    assert "codec floor" in stdout and "SSE" in stdout and "backfill" in stdout and "sink:" in stdout
    if broker_kind == "kafka":
        return
    rest = res["rest"]
    assert rest["single"]["all_accepted"], rest["single"]["statuses"]
    assert rest["batch"]["all_accepted"], rest["batch"]["statuses"]
    assert rest["batch"]["reports"] > rest["batch"]["requests"]
    assert rest["single"]["gateway_cpu_ms_per_request"] > 0
    for d in res["dedup"]:
        assert d["lookup_hits"] == d["lookups"] > 0
        assert d["disk_mb"] >= 0 and d["peak_rss_mb"] > 0
    fo = res["fanout"]  # issue 20: many SSE streams on one gateway
    assert fo["streams"] == res["plan"]["fanout_streams"] > 0 and fo["kb_per_stream"] is not None
    assert 0 < fo["deliveries"] <= fo["deliveries_expected"] and fo["p50_ms"] <= fo["p99_ms"] <= fo["max_ms"]
    assert res["targets"]["fanout_p99_ms"]["met"] is None  # 20 streams say nothing about 500
    assert res["targets"]["dedup_10m_rss_mb"]["met"] is None  # 2,000 keys say nothing about 10M
    assert "REST POST /v1/reports" in stdout and "fan-out" in stdout


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


def test_help_names_every_section() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "hub", "bench", "--help"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    for option in ("--sse-rate", "--sink-reports", "--backfill-reports", "--only", "--page-items"):
        assert option in text
    assert "204,013" in text and "SSE" in text and "sink" in text and "Chromium" in text
