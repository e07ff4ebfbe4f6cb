"""What the hub knows of one agency of the directory, as more than one slice needs it.

The agency directory (:mod:`hub.directory.agencies`) reads it from the hub database; the Kafka-native
identity check (:mod:`hub.pipeline.core.identity`) decides with it. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgencyStanding:
    """What the identity check needs to know about one agency of the directory."""

    code: str
    state: str
    kafka_native: bool
    revoked: bool
