"""Thin Kafka I/O shared by the gateway, sinks and tools (not by faust agents): aiokafka clients with the
active profile's settings (:mod:`hub.platform.kafka.clients`) and :class:`Record`, one record to produce.

What a record holds (which topic, key, headers; the codec) is the domain's: :mod:`hub.domain.wire`
builds every record and sends encoded values (``send_avro``, ``send_audit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.platform.kafka.clients import client_settings
from hub.platform.settings import Settings

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Record:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    kwargs = client_settings(settings).producer | overrides
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap, **kwargs)


def consumer(settings: Settings, *topics: str, group_id: str | None, **overrides: Any) -> AIOKafkaConsumer:
    kwargs = client_settings(settings).consumer | overrides
    return AIOKafkaConsumer(*topics, bootstrap_servers=settings.bootstrap, group_id=group_id, **kwargs)
