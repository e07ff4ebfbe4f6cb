"""Dead-letter tools (read and re-inject), used by ``hub dlq``. Pure helpers + thin Kafka I/O."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hub.domain.codec import DEAD_LETTER, DecodeError, codec
from hub.domain.report import from_json
from hub.domain.wire import REPLAYED_FROM, intake_record
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.topics import AGENCY_INTAKE_PREFIX, DLQ, INTAKE
from hub.platform.keys import id_key
from hub.platform.settings import Settings


def summary(dl: Mapping[str, Any]) -> dict[str, Any]:
    """A dead letter as JSON-friendly data (bytes shown as text when they are UTF-8, else hex)."""
    value: bytes = dl["value"]
    try:
        shown = value.decode("utf-8")
    except UnicodeDecodeError:
        shown = "hex:" + value.hex()
    failed = dl["failed_at"]
    return {
        "dead_letter_id": dl["dead_letter_id"],
        "source": f"{dl['source_topic']}/{dl['source_partition']}/{dl['source_offset']}",
        "stage": dl["stage"],
        "reason": dl["reason"],
        "report_id": dl.get("report_id"),
        "failed_at": failed.isoformat() if isinstance(failed, datetime) else failed,
        "key": (dl.get("key") or b"").decode("utf-8", "replace"),
        "headers": {h["key"]: h["value"].decode("utf-8", "replace") for h in dl.get("headers") or []},
        "value_bytes": len(value),
        "value": shown if len(shown) <= 400 else shown[:400] + "…",
    }


def replay_record(dl: Mapping[str, Any], *, fixed: Any | None, agency: str | None, state: str | None,
                  settings: Settings, now: datetime | None = None) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) to put back on hub.intake: the raw bytes, or a fixed JSON report
    validated like any connector input (raises ReportInvalid/AgencyMismatch with field errors)."""
    headers = [(h["key"], h["value"]) for h in dl.get("headers") or [] if h["key"] != REPLAYED_FROM]
    headers.append((REPLAYED_FROM, dl["dead_letter_id"].encode()))
    if fixed is None:
        return dl.get("key"), dl["value"], headers
    if not agency or not state:
        raise ValueError("a fixed report needs --agency and --state (the credential it is published under)")
    report = from_json(fixed, agency=agency, state=state, settings=settings, now=now or datetime.now(UTC),
                       id_key=id_key(settings))
    rec = intake_record(report)
    fresh = {k for k, _ in rec.headers}
    return rec.key, rec.value, [h for h in headers if h[0] not in fresh] + rec.headers


async def read_all(settings: Settings, idle_seconds: float = 2.0) -> list[dict[str, Any]]:
    """Every dead letter from the beginning, reading until the topic has been idle for a while
    (end offsets are not trusted: the embedded broker reports them wrongly)."""
    c = consumer(settings, DLQ, group_id=None)
    await c.start()
    out: list[dict[str, Any]] = []
    try:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_seconds:
            batch = await c.getmany(timeout_ms=200)
            for msgs in batch.values():
                for m in msgs:
                    idle_since = time.monotonic()
                    try:
                        out.append(codec().decode(m.value, expect=DEAD_LETTER))
                    except DecodeError as e:
                        out.append({"dead_letter_id": f"?{m.partition}/{m.offset}", "source_topic": DLQ,
                                    "source_partition": m.partition, "source_offset": m.offset, "key": m.key,
                                    "value": m.value or b"", "headers": [], "stage": "dlq",
                                    "reason": f"undecodable dead letter: {e.problem}", "failed_at": 0})
    finally:
        await c.stop()
    return out


def replay_topic(dl: Mapping[str, Any], *, fixed: Any | None) -> str:
    """Where a replayed dead letter goes: the raw bytes of a record from a Kafka-native agency's own
    intake topic go back to that topic (so its identity is checked again: hub.intake is the gateway's
    and trusted); everything else, and a fixed report (published under the operator's --agency/--state),
    to hub.intake."""
    src = str(dl.get("source_topic") or "")
    return src if fixed is None and src.startswith(AGENCY_INTAKE_PREFIX) else INTAKE


async def send_intake(settings: Settings, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]],
                      topics: list[str] | None = None) -> None:
    """Produce ``records`` to ``topics`` (one per record; default hub.intake for all)."""
    p = producer(settings)
    await p.start()
    try:
        for i, (key, value, headers) in enumerate(records):
            await p.send_and_wait(topics[i] if topics else INTAKE, value, key=key, headers=headers)
    finally:
        await p.stop()


def load_fixed(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
