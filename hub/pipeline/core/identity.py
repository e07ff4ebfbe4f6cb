"""Kafka-native identity (SPEC §7): who may have sent a record, from where it arrived. Pure.

Identity never comes from a record's body. Records on ``hub.intake`` come from the gateway, which took
the reporter's identity from its agency key (on real Kafka only the gateway's principal may write that
topic; ACLs in hub/platform/kafka/acls.py). A Kafka-native agency produces to its own ``hub.intake.agency.<CODE>``
(only its principal may write it), so the topic names the sender, and :func:`check` verifies the
record's claims against the agency directory: the agency must be known, not revoked, registered as
Kafka-native, be the topic's agency, and report for its own state.

The directory is passed in as a plain mapping (``code -> AgencyStanding``), read by the shell from the
hub database (:class:`hub.directory.agencies.DirectoryCache`); ``None`` means "not available", and the check
then fails closed (the record goes to the DLQ, from which it can be replayed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.domain.agency import AgencyStanding
from hub.platform.kafka.topics import AGENCY_INTAKE_PREFIX, INTAKE

Directory = Mapping[str, AgencyStanding]


def topic_agency(topic: str) -> str | None:
    """The agency a per-agency intake topic belongs to; None for ``hub.intake`` (the gateway's).
    ValueError for any other topic (not an intake topic)."""
    if topic == INTAKE:
        return None
    if topic.startswith(AGENCY_INTAKE_PREFIX) and len(topic) > len(AGENCY_INTAKE_PREFIX):
        return topic[len(AGENCY_INTAKE_PREFIX):]
    raise ValueError(f"{topic} is not an intake topic")


def trusted_topic(topic: str) -> bool:
    """True for the gateway's intake topic (identity already established by the agency key); only
    there may hub-internal commands such as ShareCommands arrive."""
    return topic == INTAKE


def check(topic: str, report: Mapping[str, Any], directory: Directory | None) -> str | None:
    """None when the report may have come from ``topic``; otherwise the problem, in plain words."""
    code = topic_agency(topic)
    if code is None:
        return None
    if directory is None:
        return f"the agency directory is not available to check {topic} (fails closed; replay the record later)"
    standing = directory.get(code)
    if standing is None:
        return f"agency {code} is not in the agency directory"
    if standing.revoked:
        return f"agency {code} is revoked"
    if not standing.kafka_native:
        return f"agency {code} is not registered as a Kafka-native agency"
    if report.get("agency") != code:
        return f"agency: {report.get('agency')!r} is not the topic's agency {code}"
    if report.get("reporter_state") != standing.state:
        return f"reporter_state: {report.get('reporter_state')!r} is not {code}'s state {standing.state}"
    return None
