"""`hub bench --smoke --only pages` works end to end (not a benchmark: nothing is asserted against a
time). The section starts a real stack (broker, `hub sink`, `hub gateway`), seeds a state's feed, opens
the officer page in headless Chromium, signs in, loads it three times and traces live items."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hub.tools.bench import report
from hub.tools.bench.page import busy_ms, main_thread

ROOT = Path(__file__).resolve().parents[2]


def test_pages_section_runs(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HUB_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, "-m", "hub", "bench", "--smoke", "--only", "pages", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    p = res["pages"]
    assert p["items"] == p["rows_shown"] == 300  # every seeded item is a row of the page
    assert len(p["loads"]) == 3 and all(0 < first <= every for first, every in p["loads"])
    assert p["first_items_ms"] <= p["first_items_max_ms"] and p["all_items_ms"] <= p["all_items_max_ms"]
    # every live item was seen by the page (behind the "N new" bar) and traced
    assert p["live"] == p["live_traced"] == 3 and "3" in p["new_bar"]
    assert 0 < p["live_main_thread_cpu_median_ms"] <= p["live_main_thread_cpu_max_ms"]
    assert 0 < p["live_main_thread_median_ms"] <= p["live_main_thread_max_ms"]
    assert p["live_main_thread_cpu_median_ms"] <= p["live_with_follow_ups_cpu_max_ms"]
    assert p["main_thread_tasks_traced"] > 0
    for name in ("page_first_items_ms", "page_live_item_main_thread_ms"):
        t = res["targets"][name]
        assert t["measured"] is not None and t["met"] is None  # 300 items say nothing about 10,000
    assert any(row[0].startswith("officer page (Chromium), 300 items") for row in report.rows(res))
    assert "officer page (Chromium)" in proc.stdout
    work = next((tmp_path / "bench-results").glob("work-*"))
    trace = json.loads((work / "pages" / "live-items-trace.json").read_text())["traceEvents"]  # kept for a look
    names = {e.get("name") for e in trace}
    assert {"bench-armed-0", "bench-frame-0"} <= names and "ThreadControllerImpl::RunTask" in names
    # the tracer's own per-frame walk of the whole document (a category the bench leaves out) is not
    # in the trace, so it cannot be counted as the page's time
    assert "DOMStats" not in names


def test_main_thread_time_counts_nested_tasks_once() -> None:
    """A trace's top-level tasks: ``RunTask`` nested in ``ThreadControllerImpl::RunTask`` is one task;
    other threads and processes are not the page's main thread; the window is (mark, until]."""
    meta = [{"ph": "M", "name": "thread_name", "pid": 1, "tid": 10, "args": {"name": "CrRendererMain"}},
            {"ph": "M", "name": "thread_name", "pid": 1, "tid": 11, "args": {"name": "Compositor"}},
            {"ph": "M", "name": "thread_name", "pid": 2, "tid": 10, "args": {"name": "CrRendererMain"}}]

    def task(name: str, ts: float, dur: float, tdur: float, pid: int = 1, tid: int = 10) -> dict:
        return {"ph": "X", "name": name, "pid": pid, "tid": tid, "ts": ts, "dur": dur, "tdur": tdur}

    events = [*meta, {"ph": "R", "name": "bench-armed-0", "pid": 1, "tid": 10, "ts": 1000},
              task("ThreadControllerImpl::RunTask", 900, 200, 150),  # holds the mark: not counted
              task("ThreadControllerImpl::RunTask", 2000, 5000, 3000), task("RunTask", 2001, 4990, 2990),
              task("ThreadControllerImpl::RunTask", 8000, 1000, 1000, tid=11),  # the compositor
              task("ThreadControllerImpl::RunTask", 8000, 1000, 1000, pid=2),  # another page
              task("ThreadControllerImpl::RunTask", 9000, 2000, 500),
              task("ThreadControllerImpl::RunTask", 20000, 2000, 500),  # after the window
              {"ph": "R", "name": "bench-frame-0", "pid": 1, "tid": 10, "ts": 12000}]
    tasks, marks = main_thread(events)
    assert marks == {"bench-armed-0": 1000, "bench-frame-0": 12000}
    assert len(tasks) == 4
    assert busy_ms(tasks, marks["bench-armed-0"], marks["bench-frame-0"]) == 7.0
    assert busy_ms(tasks, marks["bench-armed-0"], marks["bench-frame-0"], cpu=True) == 3.5
