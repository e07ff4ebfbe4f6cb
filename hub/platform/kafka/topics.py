"""The one place for topic names and their configuration (SPEC §2).

Every topic is created explicitly (``hub topics create``, idempotent; run by ``hub up`` and by
workers at start) -- never by broker auto-create. That includes the intake topic of every Kafka-native
agency in the agency directory (``hub.intake.agency.<CODE>``), also created by ``hub agency add
--kafka-native``; the directory's codes are passed in by the caller (this platform module does not
read the directory).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.platform.settings import Settings

log = structlog.get_logger(__name__)

INTAKE = "hub.intake"
DLQ = "hub.dlq"
AUDIT = "hub.audit"
FEED_PREFIX = "hub.feed."
RECEIPTS = "hub.receipts"  # what happened to each routed/shared version, for its provider (SPEC §13)


def feed(recipient: str) -> str:
    """Feed topic of one recipient (a state code or the centre)."""
    return f"{FEED_PREFIX}{recipient}"


AGENCY_INTAKE_PREFIX = "hub.intake.agency."


def agency_intake(code: str) -> str:
    """Intake topic of one Kafka-native agency (SPEC §7): only that agency's principal may write it."""
    return f"{AGENCY_INTAKE_PREFIX}{code}"


def recipient_of(topic: str) -> str:
    if not topic.startswith(FEED_PREFIX):
        raise ValueError(f"{topic} is not a feed topic")
    return topic[len(FEED_PREFIX):]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


def all_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic the hub uses, with partitions and configs."""
    retention = {"retention.ms": str(settings.retention_ms), "cleanup.policy": "delete"}
    forever = {"retention.ms": "-1", "cleanup.policy": "delete"}
    p, r = settings.partitions, settings.replication_factor
    specs = [
        TopicSpec(INTAKE, 1, r, retention),  # the sequencer: ONE partition (SEQUENCED_TOPICS)
        TopicSpec(DLQ, 1, r, forever),
        TopicSpec(AUDIT, p, r, forever),
        TopicSpec(RECEIPTS, p, r, forever),
    ]
    specs += [TopicSpec(feed(x), p, r, retention) for x in settings.recipients]
    specs += [TopicSpec(name, 1 if name in SEQUENCED_TOPICS else p, r, cfg) for name, cfg in EXTRA_TOPICS.items()]
    return specs


def agency_intake_specs(settings: Settings, codes: Iterable[str]) -> list[TopicSpec]:
    """The intake topics of the Kafka-native agencies ``codes`` (the agency directory's:
    :func:`hub.directory.agencies.kafka_native_codes`), configured like ``hub.intake``."""
    retention = {"retention.ms": str(settings.retention_ms), "cleanup.policy": "delete"}
    return [TopicSpec(agency_intake(c), settings.partitions, settings.replication_factor, retention) for c in codes]


# Internal topics of the pipeline stages (name -> config), registered by hub.pipeline.
# hub.pipeline.validated: the record of what the sequenced stage accepted (keyed by report_id, ONE
# partition, in decision order), written in the same batch as the decisions; the worker never reads it.
VALIDATED = "hub.pipeline.validated"
EXTRA_TOPICS: dict[str, dict[str, str]] = {
    VALIDATED: {"retention.ms": str(7 * 24 * 3600 * 1000), "cleanup.policy": "delete"},
}
# topics that must have exactly one partition (global order): hub.intake is the sequencer of
# validate/dedup/correlate/enrich/route, whose state (identifier index, incidents, party names) is global
SEQUENCED_TOPICS = frozenset({INTAKE, VALIDATED})


async def check_sequenced(settings: Settings, admin_kwargs: dict | None = None) -> None:
    """Refuse (RuntimeError naming the topic and what to do) when a sequenced topic has more than one
    partition: e.g. a ``hub.intake`` created with several partitions before the worker consumed it in one
    hop (partitions cannot be removed; see docs/pipeline.md "Upgrading")."""
    from hub.platform.kafka.clients import client_settings

    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap, **(admin_kwargs or client_settings(settings).admin)
    )
    await admin.start()
    try:
        for d in await admin.describe_topics(sorted(SEQUENCED_TOPICS)):
            n = len(d.get("partitions") or [])
            if d.get("error_code", 0) == 0 and n > 1:
                raise RuntimeError(
                    f"topic {d['topic']} has {n} partitions; the pipeline's sequencer needs exactly 1 (global "
                    "order of decisions). Drain it (let the worker finish on the old release), delete it and "
                    "run `hub topics create` (docs/pipeline.md, Upgrading)")
    finally:
        await admin.close()


async def ensure_topics(settings: Settings, admin_kwargs: dict | None = None,
                        specs: list[TopicSpec] | None = None, *, agency_codes: Iterable[str] = ()) -> list[str]:
    """Create the topics (default: every hub topic, with the intake topics of the Kafka-native
    agencies ``agency_codes``) that do not exist yet and wait until the broker's metadata lists each
    with its partitions. Returns the names created. Safe to run twice.

    The agency codes are the caller's to pass (the directory is a slice above this module):
    ``agency_codes=hub.directory.agencies.kafka_native_codes(settings)``."""
    import asyncio
    import time

    from hub.platform.kafka.clients import client_settings

    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap, **(admin_kwargs or client_settings(settings).admin)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = all_topics(settings) + agency_intake_specs(settings, agency_codes) if specs is None else specs
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            resp = await admin.create_topics(
                [
                    NewTopic(t.name, t.partitions, t.replication, topic_configs=t.config)
                    for t in missing
                ]
            )
            raise_topic_errors(resp)
            # the controller has them; a broker's metadata may lag (Kafka): wait until it lists them
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                described = await admin.describe_topics([t.name for t in missing])
                if all(d.get("error_code", 0) == 0 and len(d.get("partitions") or []) == t.partitions
                       for d, t in zip(sorted(described, key=lambda d: d["topic"]),
                                       sorted(missing, key=lambda t: t.name), strict=False)):
                    break
                await asyncio.sleep(0.2)
            log.info("topics created", topics=[t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()


def changelog_topics(app: Any) -> list[TopicSpec]:
    """The changelog topic of every table of a faust ``app``, as faust would declare it.

    Created before the worker starts (``hub worker``): faust declares them itself at start-up, but on
    Apache Kafka a just-created changelog can be missing from the consumer's metadata for a moment,
    and a table write then crashes the agent (faust PartitionsMismatch: 'changelog ... has 0
    partitions'; found by the Kafka runs of tests/reliability)."""
    out = []
    for table in app.tables.values():
        t = table.changelog_topic
        config = {str(k): str(v) for k, v in (t.config or {}).items()}
        policies = [name for name, on in (("compact", t.compacting), ("delete", t.deleting)) if on]
        if policies:
            config["cleanup.policy"] = ",".join(policies)
        if t.retention:
            config["retention.ms"] = str(int(float(t.retention) * 1000))
        out.append(TopicSpec(t.get_topic_name(), int(t.partitions or table.partitions or app.conf.topic_partitions),
                             int(t.replicas or app.conf.topic_replication_factor), config))
    return out


def raise_topic_errors(resp: Any) -> None:
    """CreateTopics answers per topic instead of raising: a refused creation (e.g. no Create ACL) must
    not pass unnoticed. A topic created meanwhile by someone else (TopicAlreadyExists) is fine."""
    from aiokafka.errors import TopicAlreadyExistsError, for_code

    for entry in resp.topic_errors:
        topic, code = entry[0], entry[1]
        if code and for_code(code) is not TopicAlreadyExistsError:
            msg = entry[2] if len(entry) > 2 else ""
            raise for_code(code)(f"creating topic {topic}: {msg or for_code(code).__name__}")
