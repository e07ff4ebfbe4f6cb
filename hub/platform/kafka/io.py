"""Thin Kafka I/O helpers shared by the gateway, sinks and tools (not by faust agents).

Producers use the active profile's settings (:mod:`hub.platform.kafka.clients`), encode with the one codec and
wait for the broker's acknowledgement (acks=all) before returning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.domain.codec import codec
from hub.domain.wire import Headers, audit_record
from hub.platform.kafka.clients import client_settings
from hub.platform.settings import Settings


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    kwargs = client_settings(settings).producer | overrides
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap, **kwargs)


def consumer(settings: Settings, *topics: str, group_id: str | None, **overrides: Any) -> AIOKafkaConsumer:
    kwargs = client_settings(settings).consumer | overrides
    return AIOKafkaConsumer(*topics, bootstrap_servers=settings.bootstrap, group_id=group_id, **kwargs)


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
