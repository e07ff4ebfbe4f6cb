"""Validation inside the sequenced stage (validate.intake) and the admit step of the agency topics
(validate.admit): an accepted report is its bytes (the intake bytes unless validate changed the report),
its RECEIVED/VALIDATED and the record of it on hub.pipeline.validated; a rejection is a dead letter + one
AuditBatch; ShareCommands only from hub.intake; an agency topic's record passes the identity check, is
forwarded unchanged onto hub.intake and is then validated and audited under its own position."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.domain.codec import AUDIT_BATCH, DEAD_LETTER, REPORT, SHARE_COMMAND, codec
from hub.domain.wire import header
from hub.pipeline.core.identity import AgencyStanding
from hub.pipeline.core.validate import Message, admit, intake, validate
from hub.pipeline.shell.feedcodec import Encoder
from hub.platform.kafka.topics import AUDIT, DLQ, INTAKE, VALIDATED, agency_intake
from tests.conftest import hub_settings
from tests.factories import report

S = hub_settings()
NOW = datetime.now(UTC)
NOW_MS = int(NOW.timestamp() * 1000)
KZ = {"KZ-CUSTOMS": AgencyStanding("KZ-CUSTOMS", "KZ", kafka_native=True, revoked=False)}


def msg(value: bytes | None, topic: str = INTAKE, headers: list | None = None, partition: int = 0,
        offset: int = 7) -> Message:
    return Message(topic, partition, offset, b"KZ-CUSTOMS:x", value,
                   headers if headers is not None else [("trace_id", b"t-9")])


def test_an_accepted_report_keeps_the_intake_bytes_and_is_recorded_as_validated() -> None:
    r = report(trace_id="t-9")
    raw = codec().encode(REPORT, r)
    enc = Encoder(codec())
    m = msg(raw)
    it = intake(m, settings=S, now=NOW, enc=enc)
    assert it.value is raw and not it.rejected and it.report["report_id"] == r["report_id"]
    rec = it.accepted
    assert rec.topic == VALIDATED and rec.key == r["report_id"].encode() and rec.value is raw
    assert header(rec.headers, "source") == f"{INTAKE}/0/7" and header(rec.headers, "trace_id") == "t-9"
    assert int(header(rec.headers, "validated_at") or 0) == NOW_MS
    assert not enc.counts  # nothing encoded
    # the same RECEIVED/VALIDATED (ids, content) validate() makes: what the audit trail always had
    assert it.audit == validate(m, settings=S, now=NOW).audit
    assert [e["stage"] for e in it.audit] == ["RECEIVED", "VALIDATED"]
    assert it.audit[0]["detail"] == {"topic": INTAKE, "partition": "0", "offset": "7"}
    assert all(e["occurred_at"] == NOW_MS for e in it.audit)


def test_a_report_validate_changed_is_encoded_again() -> None:
    enc = Encoder(codec())
    it = intake(msg(codec().encode(REPORT, report(report_id="", trace_id=None))), settings=S, now=NOW, enc=enc)
    sent = codec().decode(it.value, expect=REPORT)
    assert sent["report_id"] == it.report["report_id"] != "" and sent["trace_id"] == "t-9"
    assert it.accepted.value is it.value and enc.counts["Report"] == 1


def test_a_rejection_is_a_dead_letter_and_one_audit_batch() -> None:
    enc = Encoder(codec())
    raw = codec().encode(REPORT, report(substances=[]))
    it = intake(msg(raw), settings=S, now=NOW, enc=enc)
    assert it.report is None and it.accepted is None
    dl, audit = it.rejected
    letter = codec().decode(dl.value, expect=DEAD_LETTER)
    assert dl.topic == DLQ and letter["reason"].startswith("invalid") and letter["value"] == raw
    assert (letter["source_topic"], letter["source_partition"], letter["source_offset"]) == (INTAKE, 0, 7)
    assert audit.topic == AUDIT
    events = codec().decode(audit.value, expect=AUDIT_BATCH)["events"]
    assert [e["stage"] for e in events] == ["RECEIVED", "REJECTED"]
    undecodable = intake(msg(b"garbage"), settings=S, now=NOW, enc=enc)
    assert [r.topic for r in undecodable.rejected] == [DLQ, AUDIT]


def _share() -> bytes:
    r = report()
    cmd = {"provenance": {"request_id": "Q-1", "requested_by": "officer:uz", "requested_state": "UZ",
                          "requested_at": 1, "granted_by": "agency:KZ-CUSTOMS", "granted_at": 2, "conditions": None},
           "report_id": r["report_id"], "version": 1, "to_states": ["UZ"], "report": r}
    return codec().encode(SHARE_COMMAND, cmd)


def test_share_commands_come_from_hub_intake_only() -> None:
    raw = _share()
    hdrs = [("kind", b"share"), ("trace_id", b"t-s")]
    it = intake(msg(raw, headers=hdrs), settings=S, now=NOW, enc=Encoder(codec()))
    assert it.share and it.share["to_states"] == ["UZ"] and not it.rejected
    assert it.accepted.topic == VALIDATED and it.accepted.value is raw and header(it.accepted.headers, "kind") == "share"
    refused = admit(msg(raw, topic=agency_intake("KZ-CUSTOMS"), headers=hdrs), settings=S, now=NOW,
                    enc=Encoder(codec()), directory=KZ)
    assert [r.topic for r in refused.records] == [DLQ, AUDIT] and not refused.forwarded
    assert "only hub.intake" in refused.validated.dead_letter["reason"]
    bad = intake(msg(b"\xc3\x01nope", headers=hdrs), settings=S, now=NOW, enc=Encoder(codec()))
    assert [r.topic for r in bad.rejected] == [DLQ, AUDIT]


def test_an_agency_topic_record_is_admitted_forwarded_and_audited_under_its_own_position() -> None:
    r = report(report_id="")  # Kafka-native agencies cannot compute keyed ids
    raw = codec().encode(REPORT, r)
    topic = agency_intake("KZ-CUSTOMS")
    original = msg(raw, topic=topic, partition=3, offset=41)
    ok = admit(original, settings=S, now=NOW, enc=Encoder(codec()), directory=KZ)
    (fwd,) = ok.records
    assert ok.forwarded and fwd.topic == INTAKE and fwd.key == original.key and fwd.value is raw
    assert header(fwd.headers, "admitted_from") == f"{topic}/3/41" and header(fwd.headers, "trace_id") == "t-9"
    # on hub.intake (any position) it is validated without the directory and audited as the original
    on_intake = Message(INTAKE, 0, 900, fwd.key, fwd.value, fwd.headers)
    it = intake(on_intake, settings=S, now=NOW, enc=Encoder(codec()))
    direct = validate(original, settings=S, now=NOW, directory=KZ)
    assert it.report == direct.report and it.report["report_id"]
    assert it.audit == direct.audit and it.audit[0]["detail"] == {"topic": topic, "partition": "3", "offset": "41"}
    assert header(it.accepted.headers, "source") == f"{topic}/3/41"
    # rejected anyway (e.g. a rule fails by now): the dead letter names the agency topic and its bytes
    bad = Message(INTAKE, 0, 901, fwd.key, codec().encode(REPORT, report(report_id="", substances=[])), fwd.headers)
    letter = codec().decode(intake(bad, settings=S, now=NOW, enc=Encoder(codec())).rejected[0].value,
                            expect=DEAD_LETTER)
    assert (letter["source_topic"], letter["source_partition"], letter["source_offset"]) == (topic, 3, 41)
    assert all(h["key"] != "admitted_from" for h in letter["headers"])


def test_the_identity_check_stays_on_the_agency_topic() -> None:
    raw = codec().encode(REPORT, report())
    for topic, directory in ((agency_intake("TJ-DRUGS"), KZ), (agency_intake("KZ-CUSTOMS"), None)):
        h = admit(msg(raw, topic=topic), settings=S, now=NOW, enc=Encoder(codec()), directory=directory)
        assert [r.topic for r in h.records] == [DLQ, AUDIT] and h.validated.reason == "identity", topic
    # admitted_from counts only on hub.intake: on an agency topic it is the agency's own header
    forged = msg(raw, topic=agency_intake("TJ-DRUGS"), headers=[("admitted_from", b"hub.intake.agency.KZ-CUSTOMS/0/1")])
    h = admit(forged, settings=S, now=NOW, enc=Encoder(codec()), directory=KZ)
    assert [r.topic for r in h.records] == [DLQ, AUDIT] and h.validated.reason == "identity"
