"""The one place that builds the keyword arguments of every Kafka client: aiokafka producers,
consumers and admin clients, the low-level client of the readiness probe, and the faust app.

Two profiles (SPEC §12):

* **Apache Kafka** (``HUB_KAFKA_BOOTSTRAP`` set): what Kafka has -- idempotent producers with
  ``acks=all``, faust's own defaults for fetch waits and table recovery (with its consistency
  check), RocksDB tables in the worker (``hub.cli.worker.default_store``), and a group session of
  ``HUB_KAFKA_SESSION_TIMEOUT_MS`` (15 s; faust's own 60 s would leave a crashed worker's partitions
  idle for a minute before a restarted or surviving worker gets them).
* **embedded** (Tansu, ``HUB_KAFKA_BOOTSTRAP`` empty): the same, plus the overrides that exist only
  for that broker's defects. They live in :mod:`hub.platform.kafka.embedded` and are applied here, nowhere else.

Security (SPEC §10) applies to every client alike: ``HUB_KAFKA_SECURITY_PROTOCOL`` (PLAINTEXT, SSL,
SASL_PLAINTEXT, SASL_SSL), ``HUB_KAFKA_SASL_MECHANISM`` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512),
``HUB_KAFKA_SASL_USERNAME``/``HUB_KAFKA_SASL_PASSWORD``, and ``HUB_KAFKA_SSL_CAFILE`` (the CA that
signed the brokers' certificates; empty = the system's CAs), ``HUB_KAFKA_SSL_CERTFILE`` and
``HUB_KAFKA_SSL_KEYFILE`` (mutual TLS). Host names are verified against the brokers' certificates.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, field
from typing import Any

from hub.platform.kafka import embedded
from hub.platform.settings import Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaSecurityError(ValueError):
    """The HUB_KAFKA_* security settings are inconsistent (named in the message)."""


@dataclass(frozen=True)
class ClientSettings:
    """Keyword arguments for aiokafka clients under the active profile (security included in each)."""

    producer: dict[str, Any] = field(default_factory=dict)
    consumer: dict[str, Any] = field(default_factory=dict)
    admin: dict[str, Any] = field(default_factory=dict)
    embedded: bool = False
    security: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=16)
def _ssl_context(cafile: str, certfile: str, keyfile: str) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    return create_ssl_context(cafile=cafile or None, certfile=certfile or None, keyfile=keyfile or None)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of the SSL and SASL_SSL protocols (one per file set, shared), else None."""
    if settings.kafka_security_protocol.upper() not in ("SSL", "SASL_SSL"):
        return None
    if bool(settings.kafka_ssl_certfile) != bool(settings.kafka_ssl_keyfile):
        raise KafkaSecurityError("HUB_KAFKA_SSL_CERTFILE and HUB_KAFKA_SSL_KEYFILE go together")
    return _ssl_context(settings.kafka_ssl_cafile, settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)


def security(settings: Settings) -> dict[str, Any]:
    """aiokafka's security keyword arguments from the HUB_KAFKA_* settings (validated)."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol not in PROTOCOLS:
        raise KafkaSecurityError(f"HUB_KAFKA_SECURITY_PROTOCOL={protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    if settings.embedded and protocol != "PLAINTEXT":
        raise KafkaSecurityError(f"HUB_KAFKA_SECURITY_PROTOCOL={protocol}: the embedded broker has no TLS/SASL; "
                                 "set HUB_KAFKA_BOOTSTRAP to an Apache Kafka cluster")
    out: dict[str, Any] = {"security_protocol": protocol}
    ctx = ssl_context(settings)
    if ctx is not None:
        out["ssl_context"] = ctx
    if protocol.startswith("SASL_"):
        mechanism = settings.kafka_sasl_mechanism.upper()
        if mechanism not in MECHANISMS:
            raise KafkaSecurityError(f"HUB_KAFKA_SASL_MECHANISM={mechanism!r}: expected one of {', '.join(MECHANISMS)}")
        if not settings.kafka_sasl_username or not settings.kafka_sasl_password:
            raise KafkaSecurityError(f"{protocol} needs HUB_KAFKA_SASL_USERNAME and HUB_KAFKA_SASL_PASSWORD")
        out |= {"sasl_mechanism": mechanism, "sasl_plain_username": settings.kafka_sasl_username,
                "sasl_plain_password": settings.kafka_sasl_password}
    return out


def client_settings(settings: Settings) -> ClientSettings:
    """aiokafka settings for the active profile (embedded Tansu or Apache Kafka), security included."""
    sec = security(settings)
    producer: dict[str, Any] = {"acks": "all", "linger_ms": 5, "max_batch_size": 256 * 1024,
                                "enable_idempotence": True}
    consumer: dict[str, Any] = {"auto_offset_reset": "earliest", "enable_auto_commit": False,
                                "session_timeout_ms": settings.kafka_session_timeout_ms,
                                "heartbeat_interval_ms": max(1, settings.kafka_session_timeout_ms // 5)}
    if settings.embedded:
        producer |= embedded.PRODUCER_OVERRIDES
        consumer |= embedded.CONSUMER_OVERRIDES
    return ClientSettings(producer | sec, consumer | sec, dict(sec), settings.embedded, sec)


def faust_credentials(settings: Settings) -> Any:
    """faust's ``broker_credentials`` for the security settings (None for PLAINTEXT)."""
    import faust

    sec = security(settings)
    protocol = sec["security_protocol"]
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(sec["ssl_context"])
    return faust.SASLCredentials(username=sec["sasl_plain_username"], password=sec["sasl_plain_password"],
                                 ssl_context=sec.get("ssl_context"), mechanism=sec["sasl_mechanism"])


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` under the active profile, security included."""
    common: dict[str, Any] = {
        "broker": f"kafka://{settings.bootstrap}",
        "producer_acks": -1,
        "producer_enable_idempotence": True,
        "topic_allow_declare": True,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        "processing_guarantee": "at_least_once",
        "broker_session_timeout": settings.kafka_session_timeout_ms / 1000,
        "broker_heartbeat_interval": settings.kafka_session_timeout_ms / 5000,
    }
    creds = faust_credentials(settings)
    if creds is not None:
        common["broker_credentials"] = creds
    if settings.embedded:
        common |= embedded.FAUST_OVERRIDES
    return common
