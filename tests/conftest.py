"""Shared fixtures: the brokers of a test session, settings pointing at them, subprocess env.

Two brokers (SPEC §12): the embedded one (Tansu) and a real Apache Kafka (single-node KRaft,
:mod:`hub.platform.kafka.server`, fetched with Maven on first use). A test or module marked
``@pytest.mark.both_brokers`` runs once per broker (ids ``[embedded]`` and ``[kafka]``): the
``broker_kind`` fixture is parametrized, ``broker`` is the session's broker of that kind and
:func:`start_broker` starts one of that kind for a test or module alone. Unmarked tests run on
the embedded broker. The terminal summary says how many ran on each and the Kafka version.
A Kafka that cannot be fetched or started fails the tests that need it (never a skip).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.platform import settings as settings_mod
from hub.platform.kafka.embedded import EmbeddedBroker
from hub.platform.kafka.server import KAFKA_VERSION, KafkaBroker
from hub.platform.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BROKER_KINDS = ("embedded", "kafka")
AnyBroker = EmbeddedBroker | KafkaBroker


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_brokers: run on the embedded broker and on Apache Kafka")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "broker_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_brokers"):
        metafunc.parametrize("broker_kind", BROKER_KINDS, indirect=True, scope="session")


# the secrets of the test profile (hub/platform/keys.py); subprocesses get them through hub_env
TEST_ID_KEY = b"test-id-key-not-a-secret"
TEST_AUDIT_KEY = b"test-audit-key-not-a-secret"
TEST_METRICS_TOKEN = "test-metrics-token-not-a-secret"  # the gateway's /metrics (hub/gateway/ops.py)


def hub_settings(**overrides: object) -> Settings:
    """Settings of the test profile: defaults, the test secrets, then ``overrides``."""
    return settings_mod.load({}, id_key=TEST_ID_KEY.decode(), audit_key=TEST_AUDIT_KEY.decode(),
                             metrics_token=TEST_METRICS_TOKEN, **overrides)


@pytest.fixture(scope="session")
def broker_kind(request: pytest.FixtureRequest) -> str:
    """``embedded`` or ``kafka`` (parametrized for tests marked both_brokers)."""
    return str(getattr(request, "param", "embedded"))


def start_broker(kind: str, workdir: Path, **kafka: Any) -> AnyBroker:
    """A new, started broker of ``kind`` with its files (log, Kafka's data) under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "kafka":
        return KafkaBroker(workdir / "kafka", **kafka).start()
    return EmbeddedBroker(log_path=str(workdir / "broker.log")).start()


def restart_broker(b: AnyBroker) -> AnyBroker:
    """The same broker again on the same port: Kafka with its data, the embedded one empty."""
    if isinstance(b, KafkaBroker):
        return b.start()
    return EmbeddedBroker(b.port, log_path=b.log_path).start()


def broker_settings(b: AnyBroker, **overrides: Any) -> Settings:
    """Hub settings pointing at ``b`` (partitions 2 unless given)."""
    overrides = {"partitions": 2} | overrides
    if isinstance(b, KafkaBroker):
        # shorter than production's 15 s so a SIGKILLed worker's partitions move soon, with headroom
        # for heartbeats on a loaded 2-core machine (6 s, Kafka's minimum, stalled once under load)
        return kafka_settings(b, **({"kafka_session_timeout_ms": 10_000} | overrides))
    return hub_settings(embedded_port=b.port, **overrides)


def kafka_settings(b: KafkaBroker, principal: str | None = None, **overrides: Any) -> Settings:
    """The test profile (its secrets) on Kafka broker ``b``, as ``principal`` on a SASL broker."""
    kafka = b.settings(principal)
    connection = {f: getattr(kafka, f) for f in ("kafka_bootstrap", *KAFKA_ENV)}
    return hub_settings(**(connection | overrides))


@pytest.fixture(scope="session")
def broker(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnyBroker]:
    """The session's broker of ``broker_kind``: shared by every test of that kind."""
    b = start_broker(broker_kind, tmp_path_factory.mktemp(f"broker-{broker_kind}"))
    yield b
    b.stop()


@pytest.fixture
def settings(broker: AnyBroker, tmp_path: Path) -> Settings:
    """Settings on the session broker, with a private data dir."""
    return broker_settings(broker, data_dir=str(tmp_path / "hub"))


KAFKA_ENV = ("kafka_session_timeout_ms", "kafka_security_protocol", "kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password",
             "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")


def hub_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for ``python -m hub …`` subprocesses that use ``settings``."""
    env = dict(os.environ)
    env.update({
        "HUB_EMBEDDED_PORT": str(settings.embedded_port),
        "HUB_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "HUB_DATA_DIR": settings.data_dir,
        "HUB_PARTITIONS": str(settings.partitions),
        "HUB_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    })
    env.update({settings_mod.env_name(k): str(getattr(settings, k)) for k in KAFKA_ENV})
    if settings.id_key:
        env["HUB_ID_KEY"] = settings.id_key
    if settings.audit_key:
        env["HUB_AUDIT_KEY"] = settings.audit_key
    if settings.metrics_token:
        env["HUB_METRICS_TOKEN"] = settings.metrics_token
    if settings.database_url:
        env["HUB_DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


HUB = [sys.executable, "-m", "hub"]


# ------------------------------------------------------------------ per-broker summary
_OUTCOMES: dict[str, Counter[str]] = {k: Counter() for k in BROKER_KINDS}


def _kind(item: pytest.Item) -> str:
    if ROOT / "tests" / "kafka" in item.path.parents:  # the Kafka-only suites (security, durability, compose)
        return "kafka"
    callspec = getattr(item, "callspec", None)
    return str(callspec.params.get("broker_kind", "")) if callspec else ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    kind = _kind(item)
    if kind not in _OUTCOMES:
        kind = "embedded" if "broker_kind" in getattr(item, "fixturenames", ()) else ""
    if not kind:
        return
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        word = "xfailed" if hasattr(rep, "wasxfail") else rep.outcome
        _OUTCOMES[kind][word] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not any(_OUTCOMES.values()):
        return
    names = {"embedded": "embedded broker (Tansu)", "kafka": f"Apache Kafka {KAFKA_VERSION} (KRaft)"}
    terminalreporter.section("tests per broker")
    for kind in BROKER_KINDS:
        c = _OUTCOMES[kind]
        parts = ", ".join(f"{c[w]} {w}" for w in ("passed", "failed", "skipped", "xfailed") if c[w])
        terminalreporter.write_line(f"{names[kind]}: {sum(c.values())} tests ({parts or 'none'})")
