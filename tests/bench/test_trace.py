"""The sse section's breakdown (hub.tools.bench.trace): log lines of the sink and the gateway joined to
each report by the (state, cursor) its SSE event had."""

from __future__ import annotations

import orjson

from hub.tools.bench import trace


def _sink(first: int, last: int, t: float, state: str = "KZ", projection: str = "feeds") -> str:
    return orjson.dumps({"event": "projection batch", "projection": projection, "level": "debug",
                         "cursors": {state: [first, last]}, "polled_ms": t - 5, "fetched_ms": t + 10, "gate_asked_ms": t + 11,
                         "gate_held_ms": t + 31, "committed_ms": t + 35, "woken_ms": t + 36}).decode()


def _page(first: int, last: int, t: float, state: str = "KZ") -> str:
    return orjson.dumps({"event": "feed page sent", "state": state, "first": first, "last": last,
                         "woke_ms": t + 37, "read_start_ms": t + 38, "read_ms": t + 40, "audited_ms": t + 60,
                         "sent_ms": t + 61}).decode()


def test_each_report_gets_the_moments_of_its_own_batch_and_page() -> None:
    sink_log = "\n".join(["not json", _sink(1, 2, 1000.0), _sink(3, 3, 2000.0),
                          _sink(1, 9, 0.0, projection="analyst"),  # another projection: not the feed's path
                          '{"event": "feed items stored"}'])
    gw_log = "\n".join([_page(1, 2, 1000.0), _page(3, 3, 2000.0), _page(1, 1, 5000.0, state="UZ")])
    records = {"a": 1000.0, "b": 1001.0, "c": 2000.0, "lost": 3000.0}
    seen = {"a": 1063.0, "b": 1064.0, "c": 2070.0}
    where = {"a": ("KZ", 1), "b": ("KZ", 2), "c": ("KZ", 3), "lost": ("KZ", 4)}
    per = trace.moments(records, seen, where, trace.lines(sink_log, "projection batch"),
                        trace.lines(gw_log, "feed page sent"))
    assert set(per) == {"a", "b", "c"}  # "lost" was never seen
    assert per["c"]["gate_held_ms"] == 2031.0 and per["c"]["audited_ms"] == 2060.0
    assert per["a"]["fetched_ms"] == per["b"]["fetched_ms"] == 1010.0
    bd = trace.breakdown(per)
    assert bd["reports"] == 3
    steps = {s["step"]: s for s in bd["steps"]}
    assert [s["step"] for s in bd["steps"]] == [s[0] for s in trace.STEPS]
    assert steps["gate"]["p50_ms"] == 20.0 and steps["audit"]["p99_ms"] == 20.0
    assert steps["client"]["max_ms"] == 9.0  # c: seen 2070, sent 2061
    assert steps["fetch"]["p50_ms"] == 10.0 and per["b"]["fetched_ms"] - per["b"]["record"] == 9.0
    assert steps["busy"]["max_ms"] == 0.0  # every poll began before its records were written
    # a report's steps add up to its feed record → SSE time
    for rid, m in per.items():
        total = sum(m[b] - m[a] for _s, _w, a, b in trace.STEPS)
        assert total == seen[rid] - records[rid]


def test_a_report_outside_every_logged_range_is_left_out() -> None:
    per = trace.moments({"a": 1.0}, {"a": 2.0}, {"a": ("KZ", 7)},
                        trace.lines(_sink(1, 6, 0.0), "projection batch"), trace.lines(_page(1, 9, 0.0), "feed page sent"))
    assert per == {}
    assert trace.breakdown(per) == {"reports": 0, "steps": [
        {"step": s, "what": w, "p50_ms": None, "p99_ms": None, "max_ms": None} for s, w, _a, _b in trace.STEPS]}
