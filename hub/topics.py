"""The one place for topic names and their configuration (SPEC §2).

Every topic is created explicitly (``hub topics create``, idempotent; run by ``hub up`` and by
workers at start) -- never by broker auto-create. That includes the intake topic of every Kafka-native
agency in the agency directory (``hub.intake.agency.<CODE>``), also created by ``hub agency add
--kafka-native``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.settings import Settings

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
        TopicSpec(INTAKE, p, r, retention),
        TopicSpec(DLQ, 1, r, forever),
        TopicSpec(AUDIT, p, r, forever),
        TopicSpec(RECEIPTS, p, r, forever),
    ]
    specs += [TopicSpec(feed(x), p, r, retention) for x in settings.recipients]
    specs += [TopicSpec(name, 1 if name in SEQUENCED_TOPICS else p, r, cfg) for name, cfg in EXTRA_TOPICS.items()]
    return specs


def agency_intake_specs(settings: Settings, codes: list[str] | None = None) -> list[TopicSpec]:
    """The intake topics of the Kafka-native agencies (``codes``; default: those of the agency
    directory in the hub database), configured like ``hub.intake``."""
    if codes is None:
        from hub.agencies import kafka_native_codes

        codes = kafka_native_codes(settings)
    retention = {"retention.ms": str(settings.retention_ms), "cleanup.policy": "delete"}
    return [TopicSpec(agency_intake(c), settings.partitions, settings.replication_factor, retention) for c in codes]


# Internal topics of the pipeline stages (name -> config), registered by hub.pipeline.
# hub.pipeline.validated: accepted reports keyed by report_id, on ONE partition -- the sequencer of
# dedup/correlate/enrich/route, whose state (identifier index, incidents, party names) is global.
VALIDATED = "hub.pipeline.validated"
EXTRA_TOPICS: dict[str, dict[str, str]] = {
    VALIDATED: {"retention.ms": str(7 * 24 * 3600 * 1000), "cleanup.policy": "delete"},
}
# internal topics that must have exactly one partition (global order)
SEQUENCED_TOPICS = frozenset({VALIDATED})


async def ensure_topics(settings: Settings, admin_kwargs: dict | None = None) -> list[str]:
    """Create the topics that do not exist yet. Returns the names created. Safe to run twice."""
    from hub.embedded import client_settings

    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap, **(admin_kwargs or client_settings(settings).admin)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in all_topics(settings) + agency_intake_specs(settings) if t.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(t.name, t.partitions, t.replication, topic_configs=t.config)
                    for t in missing
                ]
            )
            log.info("topics created", topics=[t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()
