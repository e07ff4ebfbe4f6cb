"""What validate puts on the topics (validate.hop): one validated record per accepted report — the
intake bytes unless validate changed the report — with RECEIVED/VALIDATED in its headers; rejections
a dead letter + one AuditBatch; ShareCommands forwarded from hub.intake only."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.domain.codec import AUDIT_BATCH, DEAD_LETTER, REPORT, SHARE_COMMAND, codec
from hub.domain.wire import header
from hub.pipeline.core.validate import Message, hop, received_events, validate
from hub.pipeline.shell.feedcodec import Encoder
from hub.platform.kafka.topics import AUDIT, DLQ, INTAKE, VALIDATED
from tests.conftest import hub_settings
from tests.factories import report

S = hub_settings()
NOW = datetime.now(UTC)


def msg(value: bytes | None, topic: str = INTAKE, headers: list | None = None) -> Message:
    return Message(topic, 1, 7, b"KZ-CUSTOMS:x", value, headers if headers is not None else [("trace_id", b"t-9")])


def test_an_accepted_report_is_one_record_with_the_intake_bytes() -> None:
    r = report(trace_id="t-9")
    raw = codec().encode(REPORT, r)
    enc = Encoder(codec())
    h = hop(msg(raw), settings=S, now=NOW, enc=enc)
    (rec,) = h.records
    assert rec.topic == VALIDATED and rec.key == r["report_id"].encode() and rec.value is raw
    assert header(rec.headers, "source") == f"{INTAKE}/1/7" and header(rec.headers, "trace_id") == "t-9"
    assert int(header(rec.headers, "validated_at") or 0) > 0
    assert not enc.counts  # nothing encoded


def test_received_events_from_the_headers_equal_validates_own() -> None:
    m = msg(codec().encode(REPORT, report(trace_id="t-9")))
    out = validate(m, settings=S, now=NOW)
    (rec,) = hop(m, settings=S, now=NOW, enc=Encoder(codec())).records
    rebuilt = received_events(out.report, rec.headers)
    assert [e["event_id"] for e in rebuilt] == [e["event_id"] for e in out.audit]
    assert [e["stage"] for e in rebuilt] == ["RECEIVED", "VALIDATED"]
    assert rebuilt[0]["detail"] == {"topic": INTAKE, "partition": "1", "offset": "7"}
    assert all(e["occurred_at"] == int(header(rec.headers, "validated_at") or 0) for e in rebuilt)


def test_a_report_validate_changed_is_encoded_again() -> None:
    enc = Encoder(codec())
    h = hop(msg(codec().encode(REPORT, report(report_id="", trace_id=None))), settings=S, now=NOW, enc=enc)
    (rec,) = h.records
    sent = codec().decode(rec.value, expect=REPORT)
    assert sent["report_id"] == h.validated.report["report_id"] != "" and sent["trace_id"] == "t-9"
    assert enc.counts["Report"] == 1


def test_a_rejection_is_a_dead_letter_and_one_audit_batch() -> None:
    enc = Encoder(codec())
    h = hop(msg(codec().encode(REPORT, report(substances=[]))), settings=S, now=NOW, enc=enc)
    dl, audit = h.records
    assert dl.topic == DLQ and codec().decode(dl.value, expect=DEAD_LETTER)["reason"].startswith("invalid")
    assert audit.topic == AUDIT
    events = codec().decode(audit.value, expect=AUDIT_BATCH)["events"]
    assert [e["stage"] for e in events] == ["RECEIVED", "REJECTED"]
    undecodable = hop(msg(b"garbage"), settings=S, now=NOW, enc=enc)
    assert [r.topic for r in undecodable.records] == [DLQ, AUDIT]


def _share() -> bytes:
    r = report()
    cmd = {"provenance": {"request_id": "Q-1", "requested_by": "officer:uz", "requested_state": "UZ",
                          "requested_at": 1, "granted_by": "agency:KZ-CUSTOMS", "granted_at": 2, "conditions": None},
           "report_id": r["report_id"], "version": 1, "to_states": ["UZ"], "report": r}
    return codec().encode(SHARE_COMMAND, cmd)


def test_share_commands_are_forwarded_from_hub_intake_only() -> None:
    raw = _share()
    hdrs = [("kind", b"share"), ("trace_id", b"t-s")]
    h = hop(msg(raw, headers=hdrs), settings=S, now=NOW, enc=Encoder(codec()))
    (rec,) = h.records
    assert h.share and rec.topic == VALIDATED and rec.value is raw and header(rec.headers, "kind") == "share"
    refused = hop(msg(raw, topic="hub.intake.agency.KZ-CUSTOMS", headers=hdrs), settings=S, now=NOW, enc=Encoder(codec()))
    assert [r.topic for r in refused.records] == [DLQ, AUDIT]
    assert "only hub.intake" in refused.validated.dead_letter["reason"]
    bad = hop(msg(b"\xc3\x01nope", headers=hdrs), settings=S, now=NOW, enc=Encoder(codec()))
    assert [r.topic for r in bad.records] == [DLQ, AUDIT]


def test_records_on_an_agency_topic_pass_the_identity_check() -> None:
    from hub.pipeline.core.identity import AgencyStanding
    from hub.platform.kafka.topics import agency_intake

    raw = codec().encode(REPORT, report())
    kz = {"KZ-CUSTOMS": AgencyStanding("KZ-CUSTOMS", "KZ", kafka_native=True, revoked=False)}
    ok = hop(msg(raw, topic=agency_intake("KZ-CUSTOMS")), settings=S, now=NOW, enc=Encoder(codec()), directory=kz)
    assert [r.topic for r in ok.records] == [VALIDATED]
    for topic, directory in ((agency_intake("TJ-DRUGS"), kz), (agency_intake("KZ-CUSTOMS"), None)):
        h = hop(msg(raw, topic=topic), settings=S, now=NOW, enc=Encoder(codec()), directory=directory)
        assert [r.topic for r in h.records] == [DLQ, AUDIT] and h.validated.reason == "identity", topic


def test_the_decoded_report_is_handed_on_only_when_it_is_what_process_would_decode() -> None:
    from hub.pipeline.core.validate import normalize
    from hub.pipeline.shell.steps import DecodedReports

    for r, headers, handed in ((report(trace_id="t-9"), None, True),
                               (report(trace_id=None), [], True),  # no trace anywhere: bytes unchanged
                               (report(trace_id=None), None, False),  # trace filled from the header
                               (report(trace_id=""), [], False),  # "" becomes None: not the decoded report
                               (report(report_id="", trace_id="t-9"), None, False)):  # id assigned
        m = msg(codec().encode(REPORT, r), headers=headers)
        h = hop(m, settings=S, now=NOW, enc=Encoder(codec()))
        (rec,) = h.records
        plain = h.validated.plain
        assert (plain is not None) == handed, r
        if plain is not None:
            assert rec.value is m.value
            assert plain == normalize(codec().decode(rec.value, expect=REPORT))
            assert plain is not h.validated.report

    d = DecodedReports(limit=2)
    d.put(b"a", {"n": 1})
    d.put(b"b", {"n": 2})
    d.put(b"c", {"n": 3})  # the oldest goes
    assert len(d) == 2 and d.take(b"a") is None
    assert d.take(b"b") == {"n": 2} and d.take(b"b") is None  # taken once
    assert (d.hits, d.misses) == (1, 2)
    d.put(bytearray(b"x"), {"n": 4})  # type: ignore[arg-type]  # not a key: ignored, never an error
    assert d.take(bytearray(b"x")) is None and len(d) == 1  # type: ignore[arg-type]
