"""docker-compose.yml's Kafka is the Kafka the tests run, so the compose file is not untested prose.

Without Docker: the compose file is read for what it runs (image version, the mounted repository
files, its host keys, published ports, principals, required secrets), and the kafka service's own
entrypoint (deploy/kafka/start.sh) is run for real on the fetched Apache Kafka jars -- with
loopback host keys in place of the container's -- followed by what the compose init jobs run
(`hub kafka acls apply` as admin, `hub topics create` as hub-topics) and a client per principal.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.platform.kafka import acls, topics
from hub.platform.kafka.embedded import free_port, port_open
from hub.platform.kafka.server import (
    CONFIG_DIR,
    HOST_KEYS,
    KAFKA_VERSION,
    KafkaBroker,
    _cluster_id,
    fetch,
    java,
    read_properties,
)
from hub.platform.kafka.tls import make_tls
from tests.conftest import HUB, ROOT, hub_env, kafka_settings
from tests.platform.kafka.test_security import allowed, denied, produce

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
KAFKA = SERVICES["kafka"]
PRINCIPAL_OF = {"kafka-acls": "admin", "topics": acls.TOPICS, "worker": acls.WORKER, "gateway": acls.GATEWAY,
                "sink": acls.SINK}


def compose_host_properties() -> dict[str, str]:
    return read_properties((CONFIG_DIR / "compose.properties").read_text())


def listeners(value: str) -> dict[str, tuple[str, int]]:
    out = {}
    for item in value.split(","):
        name, _, addr = item.partition("://")
        host, _, port = addr.rpartition(":")
        out[name] = (host, int(port))
    return out


def test_compose_runs_the_tested_kafka_and_its_configuration() -> None:
    assert KAFKA["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert KAFKA["entrypoint"] == ["/bin/bash", "/etc/kafka/hub/start.sh"]
    assert "./deploy/kafka:/etc/kafka/hub:ro" in KAFKA["volumes"]
    start = (CONFIG_DIR / "start.sh").read_text()
    assert 'cat "$CONF/server-sasl.properties" "$HOST"' in start  # the file the security tests run
    # compose adds only host-specific keys -- the same ones the tests add (hub.platform.kafka.server.HOST_KEYS)
    assert set(compose_host_properties()) == HOST_KEYS
    sasl = read_properties((CONFIG_DIR / "server-sasl.properties").read_text())
    assert not set(sasl) & HOST_KEYS


def test_compose_publishes_no_plaintext_listener() -> None:
    props = read_properties((CONFIG_DIR / "server-sasl.properties").read_text()) | compose_host_properties()
    protocol = dict(x.split(":") for x in props["listener.security.protocol.map"].split(","))
    lst = listeners(props["listeners"])
    for name, (host, _port) in lst.items():
        if protocol[name] == "PLAINTEXT":  # only the controller, and only on the container's loopback
            assert name == "CONTROLLER" and host == "127.0.0.1", (name, host)
        else:
            assert protocol[name] == "SASL_SSL", name
    published = [p.split(":") for p in KAFKA["ports"]]
    assert published, "the host needs a way in (SASL_SSL)"
    for host_ip, host_port, container_port in published:
        assert host_ip == "127.0.0.1", "published beyond the host's loopback"
        name = next(n for n, (_h, port) in lst.items() if port == int(container_port))
        assert protocol[name] == "SASL_SSL", f"port {host_port} publishes {name} ({protocol[name]})"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")


def test_one_principal_per_service_and_secrets_required() -> None:
    users = KAFKA["environment"]["KAFKA_SCRAM_USERS"]
    assert re.findall(r"([\w.-]+)=\$\{", users) == list(acls.SERVICES)
    assert users.endswith("${KAFKA_AGENCY_SCRAM_USERS:-}")  # agencies: hub-agency-CODE=password pairs
    for svc, principal in PRINCIPAL_OF.items():
        env = SERVICES[svc]["environment"]
        assert env["HUB_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and env["HUB_KAFKA_SASL_USERNAME"] == principal
        assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", env["HUB_KAFKA_SASL_PASSWORD"]), svc
    assert SERVICES["topics"]["depends_on"] == {"kafka-acls": {"condition": "service_completed_successfully"}}
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "KAFKA_ADMIN_PASSWORD", "KAFKA_SSL_PASSWORD",
                   "HUB_WORKER_KAFKA_PASSWORD", "HUB_GATEWAY_KAFKA_PASSWORD", "HUB_SINK_KAFKA_PASSWORD",
                   "HUB_TOPICS_KAFKA_PASSWORD", "KAFKA_CLUSTER_ID", "HUB_ID_KEY", "HUB_AUDIT_KEY"):
        uses = re.findall(r"\$\{" + secret + r"(:[?-])?[^}]*\}", text)
        assert uses and all(u == ":?" for u in uses), f"{secret} must be required (no default)"
    assert SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")


@pytest.fixture(scope="module")
def compose_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """deploy/kafka/start.sh (the compose entrypoint) on loopback ports, as a KafkaBroker handle."""
    wd = tmp_path_factory.mktemp("compose-kafka")
    libs = fetch()
    bin_dir = wd / "bin"  # the image's kafka-*.sh, as thin wrappers around the fetched jars
    bin_dir.mkdir()
    for script, main in (("kafka-storage.sh", "kafka.tools.StorageTool"), ("kafka-server-start.sh", "kafka.Kafka")):
        (bin_dir / script).write_text(f'#!/bin/sh\nexec "{java()}" -Xmx512m -cp "{libs}/*" {main} "$@"\n')
        (bin_dir / script).chmod(0o755)
    port, cport = free_port(), free_port()
    tls = make_tls(wd / "secrets", "ssl-secret-1")
    ours = {"node.id": "1", "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}", "controller.quorum.voters": f"1@127.0.0.1:{cport}",
            "log.dirs": str(wd / "data"), "ssl.keystore.location": str(tls.keystore),
            "ssl.truststore.location": str(tls.ca_pem)}
    assert set(ours) == set(compose_host_properties())  # the same keys, other values
    (wd / "host.properties").write_text("".join(f"{k}={v}\n" for k, v in ours.items()))
    handle = KafkaBroker(wd / "handle", sasl=True, users=tuple(acls.principals(["KZ-CUSTOMS"])), port=port)
    handle.ca_file.parent.mkdir(parents=True)
    handle.ca_file.write_bytes(tls.ca_pem.read_bytes())
    users = " ".join(f"{n}={handle.passwords[n]}" for n in acls.principals(["KZ-CUSTOMS"]))
    env = dict(os.environ, KAFKA_BIN=str(bin_dir), KAFKA_CONF=str(CONFIG_DIR), KAFKA_HOST_PROPERTIES=str(wd / "host.properties"),
               KAFKA_RUN_DIR=str(wd / "run"), KAFKA_CLUSTER_ID=_cluster_id(), KAFKA_ADMIN_PASSWORD=handle.passwords["admin"],
               KAFKA_SSL_PASSWORD=tls.keystore_password, KAFKA_SCRAM_USERS=users)
    log = (wd / "kafka.log").open("wb")
    proc = subprocess.Popen(["bash", str(CONFIG_DIR / "start.sh")], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        handle.proc = proc
        deadline = time.monotonic() + 90
        while not port_open(port):
            assert proc.poll() is None, (wd / "kafka.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (wd / "kafka.log").read_text()[-3000:]
            time.sleep(0.3)
        handle.wait_ready(60)
        yield handle
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_compose_entrypoint_runs_and_the_init_jobs_work(compose_kafka: KafkaBroker, tmp_path: Path) -> None:
    admin_props = read_properties((compose_kafka.workdir.parent / "run" / "admin.properties").read_text())
    assert admin_props["security.protocol"] == "SASL_SSL" and "username=\"admin\"" in admin_props["sasl.jaas.config"]
    for argv, principal in ((["kafka", "acls", "apply", "--agency", "KZ-CUSTOMS"], "admin"),
                            (["topics", "create"], acls.TOPICS)):
        s = kafka_settings(compose_kafka, principal, data_dir=str(tmp_path / "hub"))
        r = subprocess.run([*HUB, *argv], env=hub_env(s), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    allowed(produce(compose_kafka.settings(acls.GATEWAY), topics.INTAKE))
    denied(produce(compose_kafka.settings(acls.GATEWAY), topics.feed("KZ")))
    # the agency principal exists (SCRAM) but its topic is not there yet: the directory creates it
    denied(produce(compose_kafka.settings(acls.agency_principal("KZ-CUSTOMS")), topics.INTAKE))
