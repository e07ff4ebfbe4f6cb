"""The one place for configuration: ``HUB_*`` environment variables and an optional TOML file.

Precedence: environment variable > config file (``HUB_CONFIG`` or ``--config``) > default.
In the TOML file, keys are the setting names in lower case without the ``HUB_`` prefix
(e.g. ``kafka_bootstrap = "kafka:9092"``). ``hub --help`` prints this table.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def _split(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(v.strip().upper() for v in value if v.strip())
    return tuple(v.strip().upper() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = field(
        default="", metadata={"help": "Kafka bootstrap servers; empty = start the embedded broker (Tansu)"}
    )
    embedded_port: int = field(default=19092, metadata={"help": "port of the embedded broker"})
    kafka_security_protocol: str = field(
        default="PLAINTEXT", metadata={"help": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (every Kafka client)"}
    )
    kafka_sasl_mechanism: str = field(
        default="SCRAM-SHA-512", metadata={"help": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols)"}
    )
    kafka_sasl_username: str = field(default="", metadata={"help": "SASL principal of this process"})
    kafka_sasl_password: str = field(default="", metadata={"help": "SASL password (secret: set it in the environment)"})
    kafka_ssl_cafile: str = field(
        default="", metadata={"help": "CA bundle (PEM) that signed the brokers' certificates; empty = system CAs"}
    )
    kafka_ssl_certfile: str = field(default="", metadata={"help": "client certificate (PEM) for mutual TLS"})
    kafka_ssl_keyfile: str = field(default="", metadata={"help": "private key (PEM) of the client certificate"})
    kafka_session_timeout_ms: int = field(
        default=15_000, metadata={"help": "consumer-group session on Apache Kafka: a crashed worker's partitions "
                                          "move to the others after this long (heartbeat every 1/5)"}
    )
    data_dir: str = field(default=".hub", metadata={"help": "directory for the database, outboxes and logs"})
    database_url: str = field(
        default="", metadata={"help": "sqlite:///PATH or postgresql://…; empty = sqlite in HUB_DATA_DIR "
                                   "(SQLite: the feed store in PATH's sibling NAME.feed.db)"}
    )
    schema_registry_url: str = field(
        default="", metadata={"help": "Confluent-compatible Schema Registry; empty = single-object encoding"}
    )
    members: tuple[str, ...] = field(
        default=("KZ", "KG", "TJ", "TM", "UZ", "AZ", "RU"), metadata={"help": "member states (comma list)"}
    )
    partners: tuple[str, ...] = field(
        default=("AF", "GE", "AM", "IR", "PK", "TR", "CN"), metadata={"help": "partner states (comma list)"}
    )
    centre: str = field(default="CARICC", metadata={"help": "pseudo-recipient of the centre's analysts"})
    partitions: int = field(default=4, metadata={"help": "partitions of each hub topic"})
    replication_factor: int = field(default=1, metadata={"help": "replication factor of hub topics"})
    retention_ms: int = field(
        default=30 * 24 * 3600 * 1000, metadata={"help": "retention of intake/feed/dlq topics (ms)"}
    )
    gateway_host: str = field(default="127.0.0.1", metadata={"help": "gateway bind address"})
    gateway_port: int = field(default=8080, metadata={"help": "gateway HTTP port"})
    worker_port: int = field(default=6066, metadata={"help": "first worker's web/metrics port"})
    sink_port: int = field(default=9108, metadata={"help": "audit sink metrics port"})
    workers: int = field(default=1, metadata={"help": "worker processes started by `hub up`"})
    log_level: str = field(default="INFO", metadata={"help": "DEBUG, INFO, WARNING, ERROR"})
    log_format: str = field(default="auto", metadata={"help": "json, console or auto (console on a terminal)"})
    max_future_seconds: int = field(default=3600, metadata={"help": "how far event_time may be in the future"})
    correlation_window_days: int = field(default=7, metadata={"help": "event-time window for correlation"})
    # -- secrets (hub/platform/keys.py); never shown in reprs or logs
    id_key: str = field(default="", repr=False, metadata={
        "help": "secret of the keyed report and incident ids (HMAC); empty = created in HUB_DATA_DIR/id.key "
                "on first start (required with HUB_KAFKA_BOOTSTRAP); must never change for a running hub"})
    audit_key: str = field(default="", repr=False, metadata={
        "help": "secret of the audit store's HMAC chain; empty = created in HUB_DATA_DIR/audit.key on first "
                "start (required with HUB_KAFKA_BOOTSTRAP); must never change for a running hub"})
    # -- gateway (hub/gateway/denials.py, hub/gateway/ops.py)
    denial_window_seconds: int = field(default=60, metadata={
        "help": "ACCESS_DENIED audit aggregation window: the first denial of a source (client address, "
                "actor, state) per window is audited at once, the rest as one counted record per window"})
    metrics_token: str = field(default="", repr=False, metadata={
        "help": "bearer token Prometheus sends for the gateway's /metrics; empty = created in "
                "HUB_DATA_DIR/metrics.token on first start (required with HUB_KAFKA_BOOTSTRAP)"})
    # -- harden: audit anchors (docs/audit.md)
    audit_anchor_file: str = field(default="", metadata={
        "help": "append-only file that `hub audit anchor` writes the audit chain head to and `hub audit verify` "
                "checks; empty = HUB_DATA_DIR/audit-anchors.jsonl (keep it off the database host)"})
    # -- harden: file drop limits (docs/connectors.md)
    filedrop_max_bytes: int = field(default=32 * 2**20, metadata={
        "help": "largest file the file drop reads (bytes); larger files go to failed/ unread"})
    # -- harden: Kafka-native identity (hub/directory/agencies.py DirectoryCache)
    directory_refresh_ms: int = field(default=5000, metadata={
        "help": "how often workers re-read the agency directory: a revocation applies to Kafka-native records "
                "within this bound"})

    @property
    def embedded(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.embedded_port}"

    @property
    def states(self) -> tuple[str, ...]:
        return self.members + self.partners

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every possible feed recipient: members, partners and the centre."""
        return self.members + self.partners + (self.centre,)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'hub.db'}"

    def replace(self, **changes: Any) -> Settings:
        return load({}, base=self, **changes)


def env_name(name: str) -> str:
    return f"HUB_{name.upper()}"


def _coerce(f: Any, value: Any) -> Any:
    if f.type in ("int", int):
        return int(value)
    if f.type in ("tuple[str, ...]",):
        return _split(value)
    return str(value)


def load(
    environ: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    base: Settings | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from defaults, an optional TOML file, the environment and explicit overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {f.name: getattr(base, f.name) for f in fields(Settings)} if base else {}
    path = config_file or environ.get("HUB_CONFIG")
    if path:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in fields(Settings)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown settings {', '.join(unknown)}")
        values.update(data)
    for f in fields(Settings):
        if env_name(f.name) in environ:
            values[f.name] = environ[env_name(f.name)]
    values.update(overrides)
    out = {}
    for f in fields(Settings):
        if f.name in values:
            try:
                out[f.name] = _coerce(f, values[f.name])
            except ValueError as exc:
                raise ValueError(f"{env_name(f.name)}: {exc}") from exc
    return Settings(**out)


def help_table() -> str:
    """Every setting with its variable, default and meaning (for ``hub --help``)."""
    lines = []
    for f in fields(Settings):
        default = f.default
        if isinstance(default, tuple):
            default = ",".join(default)
        lines.append(f"{env_name(f.name)} (default {default!s:.40}): {f.metadata.get('help', '')}")
    return "\n".join(lines)
