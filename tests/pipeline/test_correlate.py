"""Correlation keys and incident assignment (SPEC §4.3)."""

from __future__ import annotations

from hub.pipeline import correlate, dedup
from tests.factories import report

DAY = 24 * 3600 * 1000


def conv(**kw: object) -> dict:
    base = {"mode": "ROAD", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
            "wagon_number": None, "flight": None}
    return base | kw


def test_container_formatting_variants_give_one_key() -> None:
    variants = ["CSQU3054383", "csqu 305438 3", "CSQU-305438-3", " CSQU.305438.3 "]
    keys = {tuple(correlate.correlation_keys(report(conveyance=conv(container_numbers=[v])))) for v in variants}
    assert keys == {("C:CSQU3054383",)}


def test_invalid_check_digit_does_not_correlate() -> None:
    assert correlate.correlation_keys(report(conveyance=conv(container_numbers=["CSQU3054384"]))) == []


def test_plate_lookalikes_fold_and_kinds_do_not_mix() -> None:
    cyr = correlate.correlation_keys(report(conveyance=conv(vehicle_plate="01 А 123 ВС")))
    lat = correlate.correlation_keys(report(conveyance=conv(vehicle_plate="01a123bc")))
    assert cyr == lat == ["P:01A123BC"]
    wagon = correlate.correlation_keys(report(conveyance=conv(wagon_number="01A123BC")))
    assert wagon == ["W:01A123BC"]
    doc = correlate.correlation_keys(report(conveyance=conv(transport_document="cmr-77/12")))
    assert doc == ["D:CMR7712"]


def _index(*entries: dict) -> dict:
    idx: dict[str, list] = {}
    for e in entries:
        idx.setdefault(e.pop("key"), []).append(e)
    return idx


def test_incident_is_the_earliest_processed_match_within_7_days() -> None:
    t = 1_700_000_000_000
    r = report(source_ref="new", event_time=t, conveyance=conv(container_numbers=["CSQU3054383"],
                                                                vehicle_plate="01A123BC"))
    idx = _index(
        {"key": "C:CSQU3054383", "report_id": "R-b", "incident_id": "I-b", "event_time": t - DAY, "seq": 5,
         "agency": "x", "state": "UZ", "kind": "ALERT"},
        {"key": "P:01A123BC", "report_id": "R-a", "incident_id": "I-a", "event_time": t - 2 * DAY, "seq": 3,
         "agency": "y", "state": "TJ", "kind": "ALERT"},
        {"key": "P:01A123BC", "report_id": "R-old", "incident_id": "I-old", "event_time": t - 8 * DAY,
         "seq": 1, "agency": "z", "state": "RU", "kind": "ALERT"},
    )
    inc, matches = correlate.find_incident(r, idx, None)
    assert inc == "I-a"
    assert {m["report_id"] for m in matches} == {"R-a", "R-b"}
    # an update keeps its incident
    assert correlate.find_incident(r, idx, "I-own")[0] == "I-own"
    # no match -> own deterministic incident
    alone = report(source_ref="alone", conveyance=conv(container_numbers=["MSCU1234566"]))
    inc2, m2 = correlate.find_incident(alone, idx, None)
    assert inc2 == correlate.new_incident_id(alone["report_id"]) and m2 == []


def test_index_expires_old_entries() -> None:
    old = {"report_id": "R-1", "event_time": 0, "seq": 1}
    new = {"report_id": "R-2", "event_time": 10 * DAY, "seq": 2}
    assert [e["report_id"] for e in correlate.add_to_index([old], new, horizon_ms=3 * DAY)] == ["R-2"]


def test_dedup_verdicts() -> None:
    r1, r2, r3 = report(version=1), report(version=2), report(version=3)
    assert dedup.classify(r1, None) == dedup.NEW
    s = dedup.accept(r1, None, incident_id="I", recipients=["UZ"])
    assert dedup.classify(r1, s) == dedup.DUPLICATE
    s = dedup.accept(r3, s, incident_id="I", recipients=["TJ"])
    assert dedup.classify(r2, s) == dedup.STALE
    assert dedup.classify(report(version=4), s) == dedup.UPDATE
    assert s["recipients"] == ["TJ", "UZ"] and s["versions"] == [1, 3]


def test_sweep_expires_whole_keys_and_reports_no_change() -> None:
    entries = [{"report_id": "R-1", "event_time": 0, "seq": 1}, {"report_id": "R-2", "event_time": 5 * DAY, "seq": 2}]
    assert correlate.sweep(entries, horizon_ms=1) == [entries[1]]
    assert correlate.sweep(entries, horizon_ms=6 * DAY) == []
    assert correlate.sweep(entries, horizon_ms=0) is None


def test_update_keeps_its_first_processing_position() -> None:
    a1 = {"report_id": "R-a", "event_time": DAY, "seq": 1}
    b = {"report_id": "R-b", "event_time": DAY, "seq": 2}
    a2 = {"report_id": "R-a", "event_time": DAY, "seq": 3}
    out = correlate.add_to_index([a1, b], a2, horizon_ms=0)
    assert [(e["report_id"], e["seq"]) for e in out] == [("R-a", 1), ("R-b", 2)]
