"""Validate stage: decode + rules; failures become dead letters with the raw bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.domain.codec import REPORT, codec
from hub.domain.report import report_id
from hub.pipeline.core.validate import Message, validate
from tests.conftest import TEST_ID_KEY, hub_settings
from tests.factories import report

S = hub_settings()
NOW = datetime.now(UTC)


def msg(value: bytes | None, offset: int = 7) -> Message:
    return Message("hub.intake", 1, offset, b"KZ-CUSTOMS:x", value, [("trace_id", b"t-9")])


def test_valid_report_passes_with_received_and_validated() -> None:
    out = validate(msg(codec().encode(REPORT, report())), settings=S, now=NOW)
    assert out.report is not None and out.dead_letter is None
    assert [a["stage"] for a in out.audit] == ["RECEIVED", "VALIDATED"]
    assert isinstance(out.report["event_time"], int)


def test_undecodable_bytes_go_to_the_dead_letter_unchanged() -> None:
    out = validate(msg(b"\x00not avro"), settings=S, now=NOW)
    assert out.report is None
    dl = out.dead_letter
    assert dl["value"] == b"\x00not avro" and dl["key"] == b"KZ-CUSTOMS:x"
    assert (dl["source_topic"], dl["source_partition"], dl["source_offset"]) == ("hub.intake", 1, 7)
    assert dl["headers"] == [{"key": "trace_id", "value": b"t-9"}]
    assert dl["reason"].startswith("undecodable")
    assert [a["stage"] for a in out.audit] == ["REJECTED"]
    codec().encode("org.caricc.hub.DeadLetter", dl)  # it is a valid DeadLetter


def test_rule_failures_are_named() -> None:
    bad = report(kind="ALERT", risk_indicators=[], handling_code="H3", handling_note=None,
                 event_time=int((NOW + timedelta(hours=3)).timestamp() * 1000),
                 conveyance={"mode": "SEA", "container_numbers": ["CSQU3054384"], "transport_document": None,
                             "vehicle_plate": None, "wagon_number": None, "flight": None},
                 addressees=["XX"], reporter_state="ZZ")
    out = validate(msg(codec().encode(REPORT, bad)), settings=S, now=NOW)
    reason = out.dead_letter["reason"]
    for needle in ("risk_indicators", "handling_note", "event_time", "check digit should be 3", "addressees[0]",
                   "reporter_state"):
        assert needle in reason, needle
    assert [a["stage"] for a in out.audit] == ["RECEIVED", "REJECTED"]
    assert out.audit[1]["report_id"] == bad["report_id"]


def test_forged_report_id_is_rejected() -> None:
    out = validate(msg(codec().encode(REPORT, report(report_id="R-forged"))), settings=S, now=NOW)
    assert "report_id: is not the hub's id" in out.dead_letter["reason"]


def test_a_kafka_native_report_gets_its_keyed_id_from_validate() -> None:
    """The SDK cannot compute keyed ids (it has no hub key): an empty id is assigned by the hub."""
    out = validate(msg(codec().encode(REPORT, report(report_id=""))), settings=S, now=NOW)
    assert out.report is not None, out.dead_letter
    assert out.report["report_id"] == report_id(TEST_ID_KEY, "KZ-CUSTOMS", "KZ-CUS-2026-00042")
    assert [a["report_id"] for a in out.audit] == [out.report["report_id"]] * 2


def test_seizure_without_substances_is_rejected() -> None:
    out = validate(msg(codec().encode(REPORT, report(substances=[]))), settings=S, now=NOW)
    assert "a SEIZURE needs at least one substance" in out.dead_letter["reason"]
