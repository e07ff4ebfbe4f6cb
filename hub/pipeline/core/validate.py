"""Validate stage (SPEC §2, §3): raw intake bytes -> an accepted report or a dead letter. Pure.

Everything that arrives on an intake topic is checked, whoever produced it: the value must decode
as a v1 Report, and the report must satisfy :func:`hub.domain.report.rule_errors`. The report id must be
the deterministic id of (agency, source_ref). Records on a Kafka-native agency's own intake topic
must also pass :func:`hub.pipeline.core.identity.check` against the ``directory`` given (identity from
the topic, never from the body). Failures become a DeadLetter carrying the raw bytes, the reason and
where the message came from, plus an audit REJECTED.

The worker consumes every report once (docs/pipeline.md "One consume hop"): validation runs inside
the sequenced stage, on ``hub.intake`` (one partition), through :func:`intake` -- what one intake record
is before decide(): an accepted report (its bytes, RECEIVED/VALIDATED events and the record of it on
``hub.pipeline.validated``, produced in the same batch and never consumed again), a ShareCommand
(release v2, header ``kind: share``), or a rejection (a dead letter plus one AuditBatch).

A Kafka-native agency's own topic (``hub.intake.agency.<CODE>``, any number of partitions) is read by
the stateless admit step, :func:`admit`: the same checks with the identity check; a rejection is a
dead letter plus one AuditBatch exactly as before, an accepted record is forwarded unchanged onto
``hub.intake`` with the header ``admitted_from`` (its position on the agency topic), where
:func:`intake` validates it again without the identity check and audits it under its original
position. ShareCommands come only from ``hub.intake`` (:func:`hub.pipeline.core.identity.trusted_topic`:
an agency's own intake topic cannot inject shares).
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
    ADMITTED_FROM,
    KIND,
    SHARE,
    TRACE_ID,
    Record,
    admitted_record,
    audit_batch_record,
    dead_letter,
    dead_letter_record,
    header,
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


def _millis(v: Any) -> int:
    return to_millis(v) if isinstance(v, datetime) else int(v)


def normalize(report: dict[str, Any]) -> dict[str, Any]:
    """Timestamps back to int milliseconds, so the report is plain data (and re-encodable)."""
    out = dict(report)
    out["event_time"] = _millis(report["event_time"])
    out["received_at"] = _millis(report["received_at"])
    return out


def validate(msg: Message, *, settings: Settings, now: datetime,
             directory: identity.Directory | None = None, admitted: bool = False) -> Validated:
    """Decode and check one intake record. ``directory`` (code -> AgencyStanding) is needed for records
    on per-agency intake topics; without it they are rejected (fail closed). ``admitted``: the record's
    identity was already checked by :func:`admit` (``msg`` is then its :func:`origin`)."""
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
    report = normalize(decoded)
    changed = not report.get("trace_id") and bool(trace)
    report["trace_id"] = report.get("trace_id") or trace
    if not admitted and not identity.trusted_topic(msg.topic):  # an agency's topic: identity from the topic
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
    return Validated(report=report, audit=[received, validated], changed=changed)


def origin(msg: Message) -> Message:
    """Where an intake record came from: for a record :func:`admit` forwarded onto ``hub.intake`` (header
    ``admitted_from``), its position, key, bytes and headers on the agency's own topic; else ``msg``.
    Dead letters and RECEIVED events name that position, so they are what they were before the
    forward (and a replayed dead letter goes back to the agency topic, identity checked again)."""
    at = msg.header(ADMITTED_FROM)
    if at is None or not identity.trusted_topic(msg.topic):
        return msg
    topic, partition, offset = at.rsplit("/", 2)
    return Message(topic, int(partition), int(offset), msg.key, msg.value,
                   [(k, v) for k, v in msg.headers if k != ADMITTED_FROM], msg.timestamp_ms)


@dataclass
class Hop:
    """What the admit step puts on the topics for one record of an agency's topic."""

    records: list[Record]
    validated: Validated | None = None
    forwarded: bool = False


def admit(msg: Message, *, settings: Settings, now: datetime, enc: RecordEncoder,
          directory: identity.Directory | None = None) -> Hop:
    """One record of a Kafka-native agency's own intake topic: rejected (dead letter + AuditBatch, as
    :func:`validate` says) or forwarded unchanged onto ``hub.intake`` (header ``admitted_from``)."""
    now_ms = to_millis(now)
    if msg.header(KIND) == SHARE:
        out = _reject(msg, "share command on an agency intake topic (only hub.intake carries them)", "invalid",
                      now_ms, None, msg.header(TRACE_ID), source_detail(msg))
        return _rejected(out, enc)
    out = validate(msg, settings=settings, now=now, directory=directory)
    if out.report is None:
        return _rejected(out, enc)
    return Hop([admitted_record(msg.key, msg.value or b"", msg.headers, source_position(msg))], out, forwarded=True)


@dataclass
class Intake:
    """What one ``hub.intake`` record is to the sequenced stage (:func:`intake`). Exactly one of:
    ``report`` (accepted: ``value`` its bytes -- the intake bytes unless validate changed the report --,
    ``audit`` its RECEIVED and VALIDATED, ``accepted`` the record on hub.pipeline.validated), ``share``
    (a decoded ShareCommand; ``accepted`` its record), or ``rejected`` (dead letter + AuditBatch)."""

    source: Message  # :func:`origin` of the record
    validated: Validated | None = None  # for metrics (None for a share)
    report: dict[str, Any] | None = None
    value: bytes | None = None
    audit: list[dict[str, Any]] = field(default_factory=list)
    share: dict[str, Any] | None = None
    accepted: Record | None = None
    rejected: list[Record] = field(default_factory=list)


def intake(msg: Message, *, settings: Settings, now: datetime, enc: RecordEncoder) -> Intake:
    """Validate one record of ``hub.intake`` inside the sequenced stage (see the module docstring).
    ``now``: the decision time (deterministic for a replayed record)."""
    now_ms = to_millis(now)
    src = origin(msg)
    if msg.header(KIND) == SHARE:
        return _share(msg, src, now_ms, enc)
    out = validate(src, settings=settings, now=now, admitted=src is not msg)
    if out.report is None:
        return Intake(src, out, rejected=_rejected(out, enc).records)
    rep = out.report
    value = msg.value if not out.changed and msg.value is not None else enc.encode(REPORT, rep)
    rec = validated_record(rep["report_id"], value, trace_id=rep.get("trace_id"), source=source_position(src),
                           validated_at=now_ms)
    return Intake(src, out, report=rep, value=value, audit=out.audit, accepted=rec)


def _rejected(out: Validated, enc: RecordEncoder) -> Hop:
    """A rejection: the dead letter and one AuditBatch (RECEIVED if decodable, REJECTED)."""
    enc.counts.update(("DeadLetter", "AuditBatch"))
    return Hop([dead_letter_record(out.dead_letter or {}, enc.codec), audit_batch_record(out.audit, enc.codec)], out)


def _share(msg: Message, src: Message, now_ms: int, enc: RecordEncoder) -> Intake:
    trace = msg.header(TRACE_ID)
    try:
        cmd = codec().decode(msg.value or b"", expect=SHARE_COMMAND)
    except Exception as e:
        problem = e.problem if isinstance(e, DecodeError) else f"{type(e).__name__}: {e}"
        out = _reject(src, f"undecodable: {problem}", "undecodable", now_ms, None, trace, source_detail(src))
        return Intake(src, out, rejected=_rejected(out, enc).records)
    rec = validated_record(cmd["report_id"], msg.value or b"", trace_id=trace, source=source_position(src),
                           validated_at=now_ms, kind=SHARE)
    return Intake(src, share=cmd, accepted=rec)


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
