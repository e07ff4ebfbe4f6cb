"""Validate stage (SPEC §2, §3): raw intake bytes -> an accepted report or a dead letter. Pure.

Everything that arrives on ``hub.intake`` is checked, whoever produced it: the value must decode
as a v1 Report, and the report must satisfy :func:`hub.domain.report.rule_errors`. The report id must be
the deterministic id of (agency, source_ref). Records on a Kafka-native agency's own intake topic
must also pass :func:`hub.pipeline.core.identity.check` against the ``directory`` given (identity from
the topic, never from the body). Failures become a DeadLetter carrying the raw bytes, the reason and
where the message came from, plus an audit REJECTED.

:func:`hop` is what the worker's validate agent puts on the topics for one intake record: an
accepted report becomes ONE record on ``hub.pipeline.validated`` — the intake bytes themselves
unless validate changed the report (assigned the keyed report id, filled the trace id), with
validate's RECEIVED/VALIDATED facts in its headers (the process stage writes those events into its
AuditBatch, with the same deterministic ids); a rejection becomes a dead letter plus one AuditBatch.
A ShareCommand (release v2, header ``kind: share``) is forwarded unchanged to the sequencer, but
only from ``hub.intake`` (:func:`hub.pipeline.core.identity.trusted_topic`: an agency's own intake topic
cannot inject shares).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hub.domain.audit_events import audit_event
from hub.domain.codec import REPORT, SHARE_COMMAND, Codec, DecodeError, codec
from hub.domain.report import report_id, rule_errors, to_millis
from hub.domain.wire import (
    KIND,
    SHARE,
    SOURCE,
    TRACE_ID,
    VALIDATED_AT,
    Record,
    audit_batch_record,
    dead_letter,
    dead_letter_record,
    header,
    position_detail,
    source_detail,
    source_position,
    validated_record,
)
from hub.pipeline.core import identity
from hub.platform.keys import id_key
from hub.platform.settings import Settings


class RecordEncoder(Protocol):
    """What validate needs of the worker's encoder (the shell's ``feedcodec.Encoder``): the codec, its
    per-schema counters and ``encode``. The pure core names the shape, never the shell's class."""

    codec: Codec
    counts: Counter[str]

    def encode(self, name: str, value: Mapping[str, Any]) -> bytes: ...

ACTOR = "pipeline.validate"


@dataclass
class Message:
    """One consumed Kafka record, as plain data."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp_ms: int | None = None

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@dataclass
class Validated:
    report: dict[str, Any] | None = None
    dead_letter: dict[str, Any] | None = None
    audit: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None  # short reason label for metrics when rejected
    kind: str | None = None  # of a decoded but rejected report (metrics labels)
    agency: str | None = None
    changed: bool = False  # validate changed the decoded report (its bytes must be written again)
    # normalize(decode(intake bytes)) when it equals ``report`` and the bytes go on unchanged: what the
    # process stage would decode from the validated record (steps.DecodedReports); a separate object
    plain: dict[str, Any] | None = None


def _millis(v: Any) -> int:
    return to_millis(v) if isinstance(v, datetime) else int(v)


def normalize(report: dict[str, Any]) -> dict[str, Any]:
    """Timestamps back to int milliseconds, so the report is plain data (and re-encodable)."""
    out = dict(report)
    out["event_time"] = _millis(report["event_time"])
    out["received_at"] = _millis(report["received_at"])
    return out


def validate(msg: Message, *, settings: Settings, now: datetime,
             directory: identity.Directory | None = None) -> Validated:
    """Decode and check one intake record. ``directory`` (code -> AgencyStanding) is needed for records
    on per-agency intake topics; without it they are rejected (fail closed)."""
    now_ms = to_millis(now)
    trace = msg.header("trace_id")
    position = source_detail(msg)
    if msg.value is None:
        return _reject(msg, "empty message value (tombstone)", "empty", now_ms, None, trace, position)
    try:
        decoded = codec().decode(msg.value, expect=REPORT)
    except DecodeError as e:
        return _reject(msg, f"undecodable: {e.problem}", "undecodable", now_ms, None, trace, position)
    except Exception as e:  # an agent never dies on bad input
        return _reject(msg, f"undecodable: {type(e).__name__}: {e}", "undecodable", now_ms, None, trace,
                       position)
    plain = normalize(decoded)
    report = dict(plain)
    changed = not report.get("trace_id") and bool(trace)
    report["trace_id"] = report.get("trace_id") or trace
    if not identity.trusted_topic(msg.topic):  # a Kafka-native agency's topic: identity from the topic
        try:
            sender, problem = identity.topic_agency(msg.topic) or "", identity.check(msg.topic, report, directory)
        except ValueError as exc:
            sender, problem = "", str(exc)
        if problem is not None:
            return _reject_identity(msg, problem, sender, report, now_ms, settings, position)
    errors = [str(e) for e in rule_errors(report, settings=settings, now=now)]
    expected = report_id(id_key(settings), report["agency"], report["source_ref"])
    if not report["report_id"]:  # Kafka-native agencies cannot compute keyed ids: the hub assigns them
        report["report_id"] = expected
        changed = True
    elif report["report_id"] != expected:
        errors.append("report_id: is not the hub's id for this agency and source_ref (leave it empty; "
                      "the hub assigns it)")
    rid = report["report_id"]
    if report["version"] < 1:
        errors.append("version: should be at least 1")
    if report["reporter_state"] not in settings.states:
        errors.append(f"reporter_state: {report['reporter_state']!r} is not a member or partner state")
    received = audit_event("RECEIVED", report_id=rid, version=report["version"], agency=report["agency"],
                           state=report["reporter_state"], actor=ACTOR, trace_id=report["trace_id"],
                           occurred_at=now_ms, detail=position)
    if errors:
        out = _reject(msg, "invalid: " + "; ".join(errors), "invalid", now_ms, report, report["trace_id"],
                      position)
        out.audit.insert(0, received)
        return out
    validated = audit_event("VALIDATED", report_id=rid, version=report["version"], agency=report["agency"],
                            state=report["reporter_state"], actor=ACTOR, trace_id=report["trace_id"],
                            occurred_at=now_ms)
    return Validated(report=report, audit=[received, validated], changed=changed,
                     plain=plain if not changed and plain == report else None)


def received_events(report: Mapping[str, Any], headers: Sequence[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """validate's RECEIVED and VALIDATED events of an accepted report, rebuilt by the process stage
    from the validated record's headers: the same events (and ids) :func:`validate` made."""
    at = header(headers, VALIDATED_AT)
    occurred = int(at) if at else None
    common = {"report_id": report["report_id"], "version": report["version"], "agency": report["agency"],
              "state": report["reporter_state"], "actor": ACTOR, "trace_id": report.get("trace_id"),
              "occurred_at": occurred}
    return [audit_event("RECEIVED", **common, detail=position_detail(header(headers, SOURCE))),
            audit_event("VALIDATED", **common)]


@dataclass
class Hop:
    """What validate puts on the topics for one intake record, and what it was (for metrics)."""

    records: list[Record]
    validated: Validated | None = None  # None for a forwarded ShareCommand
    share: bool = False


def hop(msg: Message, *, settings: Settings, now: datetime, enc: RecordEncoder,
        directory: identity.Directory | None = None) -> Hop:
    """The records of one intake message (see the module docstring). ``directory``: the agency
    directory for records on Kafka-native agencies' topics (see :func:`validate`)."""
    now_ms = to_millis(now)
    source = source_position(msg)
    if msg.header(KIND) == SHARE:
        return _share(msg, source, now_ms, enc)
    out = validate(msg, settings=settings, now=now, directory=directory)
    if out.report is None:
        return _rejected(out, enc)
    rep = out.report
    value = msg.value if not out.changed and msg.value is not None else enc.encode(REPORT, rep)
    return Hop([validated_record(rep["report_id"], value, trace_id=rep.get("trace_id"), source=source,
                                 validated_at=now_ms)], out)


def _rejected(out: Validated, enc: RecordEncoder) -> Hop:
    """A rejection: the dead letter and one AuditBatch (RECEIVED if decodable, REJECTED)."""
    enc.counts.update(("DeadLetter", "AuditBatch"))
    return Hop([dead_letter_record(out.dead_letter or {}, enc.codec), audit_batch_record(out.audit, enc.codec)], out)


def _share(msg: Message, source: str, now_ms: int, enc: RecordEncoder) -> Hop:
    trace = msg.header(TRACE_ID)
    position = source_detail(msg)
    if not identity.trusted_topic(msg.topic):
        out = _reject(msg, "share command on an agency intake topic (only hub.intake carries them)", "invalid",
                      now_ms, None, trace, position)
        return _rejected(out, enc)
    try:
        cmd = codec().decode(msg.value or b"", expect=SHARE_COMMAND)
    except Exception as e:
        problem = e.problem if isinstance(e, DecodeError) else f"{type(e).__name__}: {e}"
        out = _reject(msg, f"undecodable: {problem}", "undecodable", now_ms, None, trace, position)
        return _rejected(out, enc)
    return Hop([validated_record(cmd["report_id"], msg.value or b"", trace_id=trace, source=source,
                                 validated_at=now_ms, kind=SHARE)], share=True)


def _reject_identity(msg: Message, problem: str, sender: str, report: dict[str, Any], now_ms: int,
                     settings: Settings, position: dict[str, Any]) -> Validated:
    """A record whose claimed identity does not hold. Its audit names the sender (the topic's agency);
    it enters a report's trail only when it claims the sender's own agency (then the report id is in
    the sender's namespace) -- a forged claim never lands in another agency's trail."""
    reason = f"identity: {problem}"
    own = report["agency"] == sender
    if own:
        report = dict(report)
        report["report_id"] = report["report_id"] or report_id(id_key(settings), sender, report["source_ref"])
    detail = {**position, "claimed_agency": report["agency"], "claimed_state": report["reporter_state"]}
    ev = audit_event(
        "REJECTED", report_id=report["report_id"] if own else None, version=report["version"] if own else None,
        agency=sender, state=report["reporter_state"] if own else None, actor=ACTOR, reason=reason[:2000],
        trace_id=report["trace_id"], occurred_at=now_ms, detail=detail, unique=source_position(msg))
    out = Validated(dead_letter=dead_letter(msg, stage="validate", reason=reason, now_ms=now_ms,
                                            report_id=report["report_id"] if own else None),
                    audit=[ev], reason="identity", kind=report["kind"], agency=sender)
    if own:
        out.audit.insert(0, audit_event("RECEIVED", report_id=report["report_id"], version=report["version"],
                                        agency=sender, state=report["reporter_state"], actor=ACTOR,
                                        trace_id=report["trace_id"], occurred_at=now_ms, detail=position))
    return out


def _reject(msg: Message, reason: str, label: str, now_ms: int, report: dict[str, Any] | None,
            trace: str | None, position: dict[str, Any]) -> Validated:
    rid = report["report_id"] if report else None
    ev = audit_event(
        "REJECTED", report_id=rid, version=report["version"] if report else None,
        agency=report["agency"] if report else None, state=report["reporter_state"] if report else None,
        actor=ACTOR, reason=reason[:2000], trace_id=trace, occurred_at=now_ms, detail=position,
        unique=source_position(msg),
    )
    return Validated(dead_letter=dead_letter(msg, stage="validate", reason=reason, now_ms=now_ms, report_id=rid),
                     audit=[ev], reason=label, kind=report["kind"] if report else None,
                     agency=report["agency"] if report else None)
