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


def _checkpoint(records: list[float], fetched: list[float | None], taken: float, **moments: float) -> str:
    m = {"decided_ms": taken + 1, "sent_ms": taken + 2, "outputs_ms": taken + 12, "state_ms": taken + 20,
         "acked_ms": taken + 21} | moments
    return orjson.dumps({"event": "checkpoint", "level": "debug", "records": len(records), "record_ms": records,
                         "fetched_ms": fetched, "taken_ms": taken} | m).decode()


def test_the_worker_steps_of_each_intake_record_come_from_its_batch_line() -> None:
    log = "\n".join([
        _checkpoint([990.0], [995.0], 1000.0),  # done (acked) at 1021
        # two records: one arrived while the batch before was still in its checkpoint, one after
        _checkpoint([1005.0, 1025.0], [1010.0, 1027.0], 1030.0),
        _checkpoint([2000.0], [None], 2010.0),  # no fetch moment: left out
        _checkpoint([], [], 3000.0, sent_ms=None),  # nothing produced: left out
    ])
    per = trace.worker_moments(trace.lines(log, "checkpoint"))
    assert len(per) == 3
    first, waited, later = per
    assert first["free"] == 995.0  # no batch before: not busy
    assert waited["free"] == 1021.0  # waited for the first batch's checkpoint
    assert later["free"] == 1027.0  # arrived after it
    bd = trace.worker_breakdown(trace.lines(log, "checkpoint"))
    assert bd["records"] == 3 and bd["batches"] == 4 and bd["batch_records_max"] == 2
    steps = {s["step"]: s for s in bd["steps"]}
    assert [s["step"] for s in bd["steps"]] == [s[0] for s in trace.WORKER_STEPS]
    assert steps["busy"]["max_ms"] == 11.0 and steps["outputs"]["p50_ms"] == 10.0
    assert steps["take"]["max_ms"] == 9.0  # the waiting one: free at 1021, taken at 1030
    for m in per:  # a record's steps add up to its intake record → inputs acknowledged time
        assert sum(m[b] - m[a] for _s, _w, a, b in trace.WORKER_STEPS) == m["acked_ms"] - m["record"]
