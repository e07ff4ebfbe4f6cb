"""Wire records: what travels on the hub's topics, built in one place (SPEC §2, §3, §7, §9).

Every producer of a record calls a builder here -- the gateway, the SDK, DLQ replay, the bench,
the pipeline and the sink -- so keys, headers and ids cannot drift apart.

| record        | topic                                   | key                                  | headers                               |
|---------------|-----------------------------------------|--------------------------------------|---------------------------------------|
| intake report | ``hub.intake`` (Kafka-native agencies:  | ``agency:source_ref``                | ``trace_id``, ``idempotency_key``,    |
|               | their own intake topic)                 |                                      | ``report_id`` (when assigned)         |
| admitted      | ``hub.intake`` (the worker's admit step | as on the agency topic               | the agency record's + ``admitted_from``|
|               | forwards an agency topic's record)      |                                      | (its ``topic/partition/offset``)      |
| dead letter   | ``hub.dlq``                             | ``dead_letter_id``                   | --                                    |
| audit event   | ``hub.audit``                           | report id, else actor, else event id | ``event_id``                          |
| feed item     | ``hub.feed.<RECIPIENT>``                | incident id (as the recipient sees it) | ``trace_id``, ``item_id``           |
| validated     | ``hub.pipeline.validated`` (internal:   | report id                            | ``trace_id``, ``source``,             |
|               | the record of what was accepted; written|                                      | ``validated_at`` (+ ``kind: share``)  |
|               | by the sequenced stage, not consumed)   |                                      |                                       |
| audit batch   | ``hub.audit``                           | like its first event                 | ``events`` (how many)                 |
| receipt       | ``hub.receipts``                        | report id                            | ``receipt_id``                        |

Dead-letter ids are deterministic in the source position and the stage that failed, so a
redelivered bad message yields the same dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from hub.domain.codec import AUDIT_BATCH, AUDIT_EVENT, DEAD_LETTER, REPORT, Codec, codec
from hub.platform.kafka.io import Headers, Record
from hub.platform.kafka.topics import AUDIT, DLQ, INTAKE, RECEIPTS, VALIDATED

TRACE_ID = "trace_id"
IDEMPOTENCY_KEY = "idempotency_key"
REPORT_ID = "report_id"
EVENT_ID = "event_id"
ITEM_ID = "item_id"
SOURCE = "source"
REPLAYED_FROM = "replayed_from"
ADMITTED_FROM = "admitted_from"  # on hub.intake: the agency-topic position the admit step forwarded it from
VALIDATED_AT = "validated_at"  # when validate accepted the report (epoch ms): its RECEIVED/VALIDATED time
KIND = "kind"  # "share": a ShareCommand (release v2) on hub.intake / hub.pipeline.validated
SHARE = "share"
EVENTS = "events"
RECEIPT_ID = "receipt_id"


class Source(Protocol):
    """Where a consumed record came from (an aiokafka ConsumerRecord or hub.pipeline Message)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any


def headers(**values: str | bytes | None) -> Headers:
    """Kafka headers from keyword values; None values are left out."""
    return [(k, v if isinstance(v, bytes) else v.encode()) for k, v in values.items() if v is not None]


def header(hdrs: Iterable[tuple[str, bytes | None]] | None, name: str) -> str | None:
    """The first header called ``name`` as text (None when absent)."""
    for k, v in hdrs or ():
        if k == name and v is not None:
            return v.decode("utf-8", "replace")
    return None


# -- intake ---------------------------------------------------------------------------------------
def intake_key(agency: str, source_ref: str) -> bytes:
    return f"{agency}:{source_ref}".encode()


def idempotency_key(agency: str, source_ref: str, version: int) -> str:
    """(agency, source_ref, version): what makes a submission a resubmission (SPEC §4.1)."""
    return f"{agency}|{source_ref}|{version}"


def intake_headers(report: Mapping[str, Any]) -> Headers:
    return headers(trace_id=report.get("trace_id") or None,
                   idempotency_key=idempotency_key(report["agency"], report["source_ref"], report["version"]),
                   report_id=report.get("report_id") or None)


def intake_record(report: Mapping[str, Any], *, topic: str = INTAKE, enc: Codec | None = None) -> Record:
    """A report (Avro form) as the record a connector puts on an intake topic."""
    return Record(topic, intake_key(report["agency"], report["source_ref"]),
                  (enc or codec()).encode(REPORT, report), intake_headers(report))


# -- dead letters ---------------------------------------------------------------------------------
def dead_letter_id(topic: str, partition: int, offset: int, stage: str) -> str:
    ident = hashlib.sha256(f"{topic}\x1f{partition}\x1f{offset}\x1f{stage}".encode()).hexdigest()[:24]
    return f"D-{ident}"


def dead_letter(src: Source, *, stage: str, reason: str, now_ms: int, report_id: str | None = None) -> dict[str, Any]:
    """A DeadLetter (Avro form) keeping the raw bytes, key, headers and position of ``src``."""
    hdrs: Sequence[tuple[str, bytes | None]] = list(src.headers or [])
    return {
        "dead_letter_id": dead_letter_id(src.topic, src.partition, src.offset, stage),
        "source_topic": src.topic,
        "source_partition": src.partition,
        "source_offset": src.offset,
        "key": src.key,
        "value": src.value or b"",
        "headers": [{"key": k, "value": v or b""} for k, v in hdrs],
        "stage": stage,
        "reason": reason,
        "failed_at": now_ms,
        "report_id": report_id,
    }


def dead_letter_record(dl: Mapping[str, Any], enc: Codec | None = None) -> Record:
    return Record(DLQ, dl["dead_letter_id"].encode(), (enc or codec()).encode(DEAD_LETTER, dl))


# -- audit ----------------------------------------------------------------------------------------
def audit_key(event: Mapping[str, Any]) -> bytes:
    """Everything about one report on one partition; other events grouped by actor."""
    return (event.get("report_id") or event.get("actor") or event["event_id"]).encode()


def audit_record(event: Mapping[str, Any], enc: Codec | None = None) -> Record:
    return Record(AUDIT, audit_key(event), (enc or codec()).encode(AUDIT_EVENT, event),
                  [(EVENT_ID, event["event_id"].encode())])


def audit_batch_record(events: Sequence[Mapping[str, Any]], enc: Codec | None = None, *,
                       value: bytes | None = None) -> Record:
    """Several audit events (e.g. every stage of one report) in one AuditBatch record (release v2).
    ``value``: the events already encoded as an AuditBatch (the pipeline's own encoder)."""
    if value is None:
        value = (enc or codec()).encode(AUDIT_BATCH, {"events": list(events)})
    return Record(AUDIT, audit_key(events[0]), value, [(EVENTS, str(len(events)).encode())])


AUDIT_BATCH_EVENTS = 200  # events per AuditBatch record (keeps a record well under the 1 MB limit)


def audit_batch_records(events: Sequence[Mapping[str, Any]], per_record: int = AUDIT_BATCH_EVENTS,
                        enc: Codec | None = None) -> list[Record]:
    """AuditBatch records (v2) holding ``events`` in order, ``per_record`` events each: one
    :func:`audit_batch_record` per chunk."""
    enc = enc or codec()
    return [audit_batch_record(events[i:i + per_record], enc) for i in range(0, len(events), per_record)]


# -- the pipeline's own hop and receipts ----------------------------------------------------------
def source_position(src: Source) -> str:
    """``topic/partition/offset`` of a consumed record: the ``source`` header, and what makes an
    audit event about that record unique."""
    return f"{src.topic}/{src.partition}/{src.offset}"


def source_detail(src: Source) -> dict[str, Any]:
    """The position of a consumed record as an audit event's ``detail`` (topic, partition, offset)."""
    return {"topic": src.topic, "partition": src.partition, "offset": src.offset}


def position_detail(position: str | None) -> dict[str, str]:
    """:func:`source_detail` read back from a :func:`source_position` (e.g. the ``source`` header);
    empty parts when there is none."""
    topic, partition, offset = (position or "//").rsplit("/", 2)
    return {"topic": topic, "partition": partition, "offset": offset}


def admitted_record(key: bytes | None, value: bytes, hdrs: Sequence[tuple[str, bytes]], position: str) -> Record:
    """A record of a Kafka-native agency's own topic whose identity the worker's admit step checked,
    forwarded unchanged onto ``hub.intake`` with ``admitted_from`` = its ``topic/partition/offset``."""
    return Record(INTAKE, key, value, [*((k, v) for k, v in hdrs if k != ADMITTED_FROM),
                                       (ADMITTED_FROM, position.encode())])


def validated_record(report_id: str, value: bytes, *, trace_id: str | None, source: str, validated_at: int,
                     kind: str | None = None) -> Record:
    """An accepted report (or a ShareCommand, ``kind="share"``) as the record of what the sequenced stage
    accepted (written in the same batch as its decision, never consumed by the worker). The headers
    carry the RECEIVED/VALIDATED facts: where it came from and when it was validated."""
    return Record(VALIDATED, report_id.encode(), value,
                  headers(trace_id=trace_id or "", source=source, validated_at=str(validated_at), kind=kind))


def receipt_record(receipt_id: str, report_id: str, value: bytes) -> Record:
    return Record(RECEIPTS, report_id.encode(), value, [(RECEIPT_ID, receipt_id.encode())])


# -- feed items -----------------------------------------------------------------------------------
def feed_headers(trace_id: str | None, item_id: str) -> Headers:
    return [(TRACE_ID, (trace_id or "").encode()), (ITEM_ID, item_id.encode())]


async def send_avro(prod: AIOKafkaProducer, topic: str, schema: str, value: Mapping[str, Any], *,
                    key: str | bytes | None = None, headers: Headers | None = None) -> Any:
    """Encode and send one value; returns the RecordMetadata once the broker acknowledged it."""
    data = codec().encode(schema, value)
    k = key.encode() if isinstance(key, str) else key
    return await prod.send_and_wait(topic, data, key=k, headers=list(headers or []))


async def send_audit(prod: AIOKafkaProducer, events: Iterable[Mapping[str, Any]]) -> None:
    """Send audit events (keyed by report id, else actor) and wait for all acknowledgements."""
    futures = []
    for ev in events:
        rec = audit_record(ev)
        futures.append(await prod.send(rec.topic, rec.value, key=rec.key, headers=rec.headers))
    for f in futures:
        await f
