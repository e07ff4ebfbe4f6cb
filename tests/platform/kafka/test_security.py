"""Security on Apache Kafka (SPEC §7, §10): SASL/SCRAM over TLS with a CA made by the test, the
ACLs of hub/platform/kafka/acls.py per service principal and per Kafka-native agency, and denials that are seen
as denials (an authorization error within seconds), never as a hang.

One broker for the module: deploy/kafka/server-sasl.properties (what docker-compose.yml runs),
a SCRAM user per principal of hub/platform/kafka/acls.py, the ACLs applied with `hub kafka acls apply` (as the
compose init job does) and the topics created by the `hub-topics` principal (`hub topics create`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from hub.platform.kafka import acls, topics
from hub.platform.kafka.clients import KafkaSecurityError, client_settings, security
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.server import KafkaBroker
from hub.platform.settings import Settings
from tests.conftest import HUB, hub_env, kafka_settings
from tests.helpers import stop_process, wait_until

AGENCIES = ("KZ-CUSTOMS", "UZ-DRUG")
DENIAL_BOUND_S = 20.0  # bounds a hang; a denial arrives in milliseconds


@pytest.fixture(scope="module")
def sasl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    wd = tmp_path_factory.mktemp("kafka-sasl")
    b = KafkaBroker(wd / "kafka", sasl=True, users=tuple(acls.principals(AGENCIES))).start()
    try:
        admin_env = hub_env(kafka_settings(b, data_dir=str(wd / "hub")))
        r = subprocess.run([*HUB, "kafka", "acls", "apply", *(a for c in AGENCIES for a in ("--agency", c))],
                           env=admin_env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        topics_env = hub_env(kafka_settings(b, acls.TOPICS, data_dir=str(wd / "hub")))
        r = subprocess.run([*HUB, "topics", "create"], env=topics_env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        asyncio.run(_create(b.settings(acls.TOPICS), [topics.agency_intake(c) for c in AGENCIES]))
        yield b
    finally:
        b.stop()


async def _create(s: Settings, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap, **client_settings(s).admin)
    await admin.start()
    try:
        topics.raise_topic_errors(await admin.create_topics([NewTopic(n, 1, 1) for n in names]))
    finally:
        await admin.close()


def as_(b: KafkaBroker, principal: str, **overrides: Any) -> Settings:
    return b.settings(principal, **overrides)


async def produce(s: Settings, topic: str) -> Any:
    p = AIOKafkaProducer(bootstrap_servers=s.bootstrap, request_timeout_ms=10_000, **client_settings(s).producer)
    await p.start()
    try:
        return await p.send_and_wait(topic, b"probe", key=b"k")
    finally:
        await p.stop()


async def consume(s: Settings, topic: str, group: str | None) -> int:
    """Read what is there (one poll); an authorization failure raises."""
    c = AIOKafkaConsumer(topic, bootstrap_servers=s.bootstrap, group_id=group, request_timeout_ms=10_000,
                         **client_settings(s).consumer)
    await c.start()
    try:
        got = await c.getmany(timeout_ms=3000)
        return sum(len(v) for v in got.values())
    finally:
        await c.stop()


def allowed(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def denied(coro: Any, *errors: type[BaseException]) -> float:
    """Run ``coro``; it must fail with one of ``errors`` (an authorization error), within the bound."""
    t0 = time.monotonic()
    with pytest.raises(errors or (TopicAuthorizationFailedError,)):
        asyncio.run(asyncio.wait_for(coro, DENIAL_BOUND_S))
    return time.monotonic() - t0


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_scram_over_tls_authenticates_each_mechanism(sasl: KafkaBroker, mechanism: str) -> None:
    s = as_(sasl, acls.GATEWAY, kafka_sasl_mechanism=mechanism)
    md = allowed(produce(s, topics.INTAKE))
    assert md.topic == topics.INTAKE and md.offset >= 0


def test_wrong_password_and_unknown_user_are_refused(sasl: KafkaBroker) -> None:
    bad = dataclasses.replace(as_(sasl, acls.GATEWAY), kafka_sasl_password="not-the-password")
    denied(produce(bad, topics.INTAKE), KafkaError)
    nobody = dataclasses.replace(as_(sasl, acls.GATEWAY), kafka_sasl_username="mallory")
    denied(produce(nobody, topics.INTAKE), KafkaError)


def test_tls_needs_the_ca_and_plaintext_gets_nowhere(sasl: KafkaBroker) -> None:
    # without the test CA the broker's certificate does not verify (system CAs only)
    no_ca = dataclasses.replace(as_(sasl, acls.GATEWAY), kafka_ssl_cafile="")
    denied(produce(no_ca, topics.INTAKE), KafkaError, OSError)
    # PLAINTEXT / SASL without TLS against the SASL_SSL listener: no connection is usable
    for proto in ("PLAINTEXT", "SASL_PLAINTEXT"):
        plain = dataclasses.replace(as_(sasl, acls.GATEWAY), kafka_security_protocol=proto)
        denied(produce(plain, topics.INTAKE), KafkaError, KafkaConnectionError, OSError, asyncio.TimeoutError)


def test_security_settings_are_checked() -> None:
    from hub.platform import settings as settings_mod

    with pytest.raises(KafkaSecurityError, match="HUB_KAFKA_SECURITY_PROTOCOL"):
        security(settings_mod.load({}, kafka_bootstrap="k:9092", kafka_security_protocol="TLS"))
    with pytest.raises(KafkaSecurityError, match="HUB_KAFKA_SASL_USERNAME"):
        security(settings_mod.load({}, kafka_bootstrap="k:9092", kafka_security_protocol="SASL_SSL"))
    with pytest.raises(KafkaSecurityError, match="HUB_KAFKA_SASL_MECHANISM"):
        security(settings_mod.load({}, kafka_bootstrap="k:9092", kafka_security_protocol="SASL_PLAINTEXT",
                                   kafka_sasl_mechanism="GSSAPI", kafka_sasl_username="u", kafka_sasl_password="p"))
    with pytest.raises(KafkaSecurityError, match="embedded broker has no TLS/SASL"):
        security(settings_mod.load({}, kafka_security_protocol="SASL_SSL"))
    env = {"HUB_KAFKA_BOOTSTRAP": "k:9094", "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
           "HUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "HUB_KAFKA_SASL_USERNAME": "hub-worker",
           "HUB_KAFKA_SASL_PASSWORD": "pw"}
    sec = security(settings_mod.load(env))
    assert sec["security_protocol"] == "SASL_SSL" and sec["sasl_mechanism"] == "SCRAM-SHA-256"
    assert sec["sasl_plain_username"] == "hub-worker" and sec["ssl_context"] is not None
    cs = client_settings(settings_mod.load(env))
    for kwargs in (cs.producer, cs.consumer, cs.admin):  # every client gets the same security
        assert {k: kwargs[k] for k in sec} == sec


# ------------------------------------------------------------------ agencies


def test_agency_writes_only_its_own_intake_topic(sasl: KafkaBroker) -> None:
    kz = as_(sasl, acls.agency_principal("KZ-CUSTOMS"))
    md = allowed(produce(kz, topics.agency_intake("KZ-CUSTOMS")))
    assert md.topic == topics.agency_intake("KZ-CUSTOMS")
    took = [denied(produce(kz, t)) for t in (topics.agency_intake("UZ-DRUG"), topics.INTAKE, topics.AUDIT,
                                              topics.DLQ, topics.feed("KZ"), topics.VALIDATED)]
    assert max(took) < DENIAL_BOUND_S


def test_agency_reads_no_feed_and_not_even_its_own_topic(sasl: KafkaBroker) -> None:
    kz = as_(sasl, acls.agency_principal("KZ-CUSTOMS"))
    for t in (topics.feed("KZ"), topics.feed("CARICC"), topics.AUDIT, topics.agency_intake("KZ-CUSTOMS")):
        denied(consume(kz, t, None))
    denied(consume(kz, topics.feed("KZ"), "hub-sink"), GroupAuthorizationFailedError, TopicAuthorizationFailedError)


# ------------------------------------------------------------------ services


def test_gateway_writes_intake_and_audit_only(sasl: KafkaBroker) -> None:
    gw = as_(sasl, acls.GATEWAY)
    allowed(produce(gw, topics.INTAKE))
    allowed(produce(gw, topics.AUDIT))
    for t in (topics.feed("UZ"), topics.DLQ, topics.VALIDATED, topics.agency_intake("KZ-CUSTOMS")):
        denied(produce(gw, t))
    for t in (topics.INTAKE, topics.feed("UZ"), topics.AUDIT):
        denied(consume(gw, t, None))


def test_sink_reads_audit_and_feeds_in_its_group_and_writes_only_the_dlq(sasl: KafkaBroker) -> None:
    sink = as_(sasl, acls.SINK)
    assert allowed(consume(sink, topics.AUDIT, acls.SINK_GROUP)) >= 0
    assert allowed(consume(sink, topics.feed("UZ"), acls.SINK_GROUP)) >= 0
    allowed(produce(sink, topics.DLQ))
    denied(consume(sink, topics.AUDIT, f"other-{uuid.uuid4().hex[:6]}"), GroupAuthorizationFailedError)
    denied(consume(sink, topics.INTAKE, None))
    for t in (topics.INTAKE, topics.AUDIT, topics.feed("UZ")):
        denied(produce(sink, t))


def test_worker_reads_intake_writes_outputs_and_reads_no_audit(sasl: KafkaBroker) -> None:
    w = as_(sasl, acls.WORKER)
    assert allowed(consume(w, topics.INTAKE, acls.PIPELINE_GROUP)) >= 0
    assert allowed(consume(w, topics.agency_intake("UZ-DRUG"), acls.PIPELINE_GROUP)) >= 0
    # hub.intake too: the admit step forwards the agency topics' records it checked (one consume hop)
    for t in (topics.feed("UZ"), topics.DLQ, topics.AUDIT, topics.VALIDATED, topics.INTAKE):
        allowed(produce(w, t))
    denied(consume(w, topics.AUDIT, None))
    denied(consume(w, topics.feed("UZ"), None))
    denied(produce(w, topics.agency_intake("KZ-CUSTOMS")))


def test_hub_topics_principal_creates_and_nothing_else(sasl: KafkaBroker) -> None:
    t = as_(sasl, acls.TOPICS)
    allowed(_create(t, [f"hub.scratch.{uuid.uuid4().hex[:6]}"]))
    # no Write anywhere: even the idempotent producer's InitProducerId is refused
    denied(produce(t, topics.INTAKE), ClusterAuthorizationFailedError, TopicAuthorizationFailedError)
    # services cannot create topics (only faust's own hub-pipeline-* ones for the worker)
    denied(_create(as_(sasl, acls.GATEWAY), [f"hub.scratch.{uuid.uuid4().hex[:6]}"]), KafkaError)


def test_hub_runs_end_to_end_with_one_principal_per_service(sasl: KafkaBroker, tmp_path: Path) -> None:
    """gateway, worker and sink each as their own principal: a posted report reaches the feed store"""
    from tests.reliability import load
    from tests.reliability.harness import Tokens

    base = kafka_settings(sasl, data_dir=str(tmp_path / "hub"), partitions=4, kafka_session_timeout_ms=10_000)
    Path(base.data_dir).mkdir(parents=True)
    key = Tokens(base).agency("agency", load.AGENCY, load.STATE)
    officer = Tokens(base).officer("caricc", "analyst-sasl", "CARICC")
    port, wport = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    logs: dict[str, Path] = {}
    try:
        for name, principal, args in (("worker", acls.WORKER, ["worker", "--port", str(wport)]),
                                      ("sink", acls.SINK, ["sink", "--port", "0"]),
                                      ("gateway", acls.GATEWAY, ["gateway", "--port", str(port)])):
            logs[name] = tmp_path / f"{name}.log"
            with logs[name].open("wb") as out:
                env = hub_env(kafka_settings(sasl, principal, data_dir=base.data_dir, partitions=4,
                                             kafka_session_timeout_ms=10_000))
                procs.append(subprocess.Popen([*HUB, *args], env=env,
                                              stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        url = f"http://127.0.0.1:{port}"

        def everyone_alive() -> None:
            for (name, log), p in zip(logs.items(), procs, strict=True):
                assert p.poll() is None, f"{name} exited {p.returncode}:\n{log.read_text()[-3000:]}"

        def ready(u: str) -> bool:
            everyone_alive()
            try:
                return httpx.get(u, timeout=3).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(lambda: ready(f"{url}/readyz"), 120, "gateway ready")
        wait_until(lambda: ready(f"http://127.0.0.1:{wport}/readyz"), 180, "worker ready")
        run = f"S{uuid.uuid4().hex[:6]}"
        r = httpx.post(f"{url}/v1/reports/batch", json=[load.json_report(i, run) for i in range(5)],
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 202, r.text

        def arrived() -> bool:
            everyone_alive()
            return len(load.read_feed(url, "CARICC", officer)) >= 5

        wait_until(arrived, 180, "5 items in the CARICC feed")
        seen = load.read_feed(url, "CARICC", officer)
        assert sorted(i["report_id"] for i in seen) == sorted(load.ids(5, run))
    finally:
        for p in procs:
            stop_process(p, 20)
