"""A real Schema Registry (Apicurio Registry 3, Confluent API) and kcat against the hub on Apache Kafka.

`hub registry` runs Apicurio Registry from Maven Central (hub/platform/kafka/registry.py). The hub's
schemas are registered through it by the hub's codec (Confluent wire format: magic 0 + schema id); the
registry itself accepts the shipped evolution (v1 → v2) under BACKWARD compatibility and refuses a
breaking schema. A worker in registry mode (HUB_SCHEMA_REGISTRY_URL) routes reports on Apache Kafka;
Confluent's own client (confluent-kafka's AvroDeserializer + SchemaRegistryClient) reads the feed
topics back through the registry, and kcat (Debian) lists and consumes the hub's topics.
The two-endpoint stub in tests/domain/test_codec_registry.py stays for unit tests needing no server.
"""

from __future__ import annotations

import copy
import json
import shutil
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from hub.domain.codec import FEED_ITEM, REPORT, TOP_LEVEL, Codec, SchemaRegistry, default_catalogue
from hub.platform.kafka.registry import Registry, java21, running_pid
from hub.platform.kafka.server import KafkaBroker
from hub.platform.settings import Settings
from tests.conftest import HUB, kafka_settings, start_broker
from tests.factories import feed_item, report
from tests.reliability import load
from tests.reliability.harness import Cluster

pytestmark = [pytest.mark.timeout(600)]
REPORTS = 20
HANG = 180  # upper bound on a wait: only to fail instead of hanging


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    r = Registry(tmp_path_factory.mktemp("registry")).start()
    yield r
    r.stop()


def subject_versions(r: Registry, subject: str) -> list[int]:
    resp = httpx.get(f"{r.url}/subjects/{subject}/versions", timeout=10)
    return list(resp.json()) if resp.status_code == 200 else []


def test_hub_schemas_registered_through_the_codec_in_the_confluent_wire_format(registry: Registry) -> None:
    """The codec registers Report and FeedItem (subject = record name) and writes magic 0 + the registry's id"""
    c = Codec(registry=SchemaRegistry(registry.url))
    client = SchemaRegistryClient({"url": registry.url, "timeout": 30})
    deser = AvroDeserializer(client)
    for name, value in ((REPORT, report()), (FEED_ITEM, feed_item())):
        data = c.encode(name, value)
        sid = struct.unpack(">I", data[1:5])[0]
        assert data[0] == 0
        latest = client.get_latest_version(name)  # what the registry holds under the subject
        assert latest.schema_id == sid
        assert json.loads(latest.schema.schema_str)["name"] == name.rsplit(".", 1)[1]
        # another codec (another process) resolves the writer schema by id, from the registry
        assert Codec(registry=SchemaRegistry(registry.url)).decode(data, expect=name) == c.decode(data)
        # Confluent's deserializer reads the same bytes through the same registry
        decoded = deser(data, SerializationContext("hub.test", MessageField.VALUE))
        key = "report_id" if name == REPORT else "item_id"
        assert decoded[key] == value[key]
        # the same schema again is the same id (registration is idempotent)
        assert Codec(registry=SchemaRegistry(registry.url)).encode(name, value)[1:5] == data[1:5]


def test_registry_accepts_the_shipped_evolution_and_refuses_a_breaking_schema(registry: Registry) -> None:
    """Under BACKWARD compatibility the registry accepts v1 → v2 of every schema and refuses a breaking FeedItem"""
    client = SchemaRegistryClient({"url": registry.url, "timeout": 30})
    cat = default_catalogue()
    prefix = f"t{uuid.uuid4().hex[:6]}-"  # subjects of this test only
    for name in TOP_LEVEL:
        subject = prefix + name
        client.set_compatibility(subject_name=subject, level="BACKWARD")
        for sv in cat.versions[name]:  # every shipped release, oldest first
            client.register_schema(subject, Schema(json.dumps(sv.expanded), "AVRO"))
        assert len(subject_versions(registry, subject)) == len({sv.canonical for sv in cat.versions[name]}), subject
    breaking = copy.deepcopy(cat.latest(FEED_ITEM).expanded)
    breaking["fields"].append({"name": "must_have", "type": "string"})  # new field without a default
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(prefix + FEED_ITEM, Schema(json.dumps(breaking), "AVRO"))
    assert refused.value.http_status_code == 409, refused.value
    compatible = copy.deepcopy(cat.latest(FEED_ITEM).expanded)
    compatible["fields"].append({"name": "may_have", "type": ["null", "string"], "default": None})
    client.register_schema(prefix + FEED_ITEM, Schema(json.dumps(compatible), "AVRO"))
    assert len(subject_versions(registry, prefix + FEED_ITEM)) == len(cat.versions[FEED_ITEM]) + 1


def test_registry_keeps_its_schemas_across_a_restart(tmp_path: Path) -> None:
    """`hub registry start/stop/start`: the schema registered before the stop has the same id after it"""
    env = {"HUB_DATA_DIR": str(tmp_path)}
    port = str(__import__("hub.platform.kafka.embedded", fromlist=["free_port"]).free_port())

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        import os
        return subprocess.run([*HUB, "registry", *args], env=os.environ | env, capture_output=True, text=True,
                              timeout=400)

    started = hub("start", "--port", port)
    assert started.returncode == 0, started.stdout + started.stderr
    url = f"http://127.0.0.1:{port}/apis/ccompat/v7"
    assert f"export HUB_SCHEMA_REGISTRY_URL={url}" in started.stdout
    workdir = tmp_path / "registry"
    pid = running_pid(workdir)
    assert pid is not None
    again = hub("start", "--port", port)
    assert again.returncode == 1 and f"already running (pid {pid})" in again.stderr, again.stderr
    sid = Codec(registry=SchemaRegistry(url)).encode(REPORT, report())[1:5]
    stopped = hub("stop")
    assert stopped.returncode == 0 and f"stopped pid {pid}" in stopped.stdout, stopped.stdout + stopped.stderr
    assert running_pid(workdir) is None
    assert hub("start", "--port", port).returncode == 0
    try:
        client = SchemaRegistryClient({"url": url, "timeout": 30})
        assert client.get_latest_version(REPORT).schema_id == struct.unpack(">I", sid)[0]
    finally:
        assert hub("stop").returncode == 0


@dataclass
class FeedRun:
    kafka: KafkaBroker
    settings: Settings
    registry: Registry
    ids: set[str]


@pytest.fixture(scope="module")
def feed_run(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedRun]:
    """A worker in registry mode on a private Apache Kafka, REPORTS reports routed to the feed topics."""
    tmp = tmp_path_factory.mktemp("feed-run")
    kafka = start_broker("kafka", tmp)
    cl = Cluster(kafka_settings(kafka, data_dir=str(tmp / "hub"), partitions=2), tmp,
                 env_extra={"HUB_SCHEMA_REGISTRY_URL": registry.url})
    (tmp / "hub").mkdir()
    try:
        cl.worker()
        run = f"SR{uuid.uuid4().hex[:6]}"
        load.produce(cl.settings, REPORTS, run)
        yield FeedRun(kafka, cl.settings, registry, load.ids(REPORTS, run))
    finally:
        cl.stop_all()
        kafka.stop()


def test_confluent_client_reads_the_hubs_feed_topics_through_the_registry(feed_run: FeedRun) -> None:
    """confluent-kafka's Consumer + AvroDeserializer + SchemaRegistryClient read every routed report's feed items"""
    deser = AvroDeserializer(SchemaRegistryClient({"url": feed_run.registry.url, "timeout": 30}))
    consumer = Consumer({"bootstrap.servers": feed_run.settings.kafka_bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["^hub\\.feed\\..*"])
    seen: dict[str, set[str]] = {}
    deadline = time.monotonic() + HANG
    try:
        while set(seen) != feed_run.ids:
            assert time.monotonic() < deadline, f"feed items of {len(seen)}/{REPORTS} reports read"
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            value = msg.value()
            assert value[:1] == b"\x00", "a feed item not in the Confluent wire format"
            item: dict[str, Any] = deser(value, SerializationContext(msg.topic(), MessageField.VALUE))
            assert msg.topic() == f"hub.feed.{item['recipient']}"
            assert dict(msg.headers() or [])["item_id"].decode() == item["item_id"]
            assert msg.key().decode() == item["incident_id"]
            seen.setdefault(item["report"]["report_id"], set()).add(item["recipient"])
    finally:
        consumer.close()
    assert set(seen) == feed_run.ids
    assert all(recipients for recipients in seen.values())


def test_kcat_lists_and_consumes_the_hubs_topics(feed_run: FeedRun) -> None:
    """kcat -L lists the hub's topics on Apache Kafka; kcat -C reads a feed topic whose payloads decode as FeedItems"""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed (Debian package kcat; ./dev test installs it)"
    boot = feed_run.settings.kafka_bootstrap
    meta = subprocess.run([kcat, "-b", boot, "-L", "-J"], capture_output=True, text=True, timeout=60, check=True)
    topics = {t["topic"]: len(t["partitions"]) for t in json.loads(meta.stdout)["topics"]}
    for name in ("hub.intake", "hub.pipeline.validated", "hub.audit", "hub.dlq", "hub.receipts", "hub.feed.CARICC"):
        assert name in topics, sorted(topics)
    assert topics["hub.intake"] == 1 and topics["hub.audit"] == 2  # the sequencer; the configured partitions
    # the documented command (deploy/README.md): keys, headers and payload lengths of a feed topic
    shown = subprocess.run([kcat, "-b", boot, "-C", "-t", "hub.feed.CARICC", "-o", "beginning", "-e", "-q",
                            "-f", "%p %o %k %h %S\n"], capture_output=True, text=True, timeout=60, check=True)
    lines = shown.stdout.splitlines()
    assert lines and all("item_id=" in line for line in lines), shown.stdout
    raw = subprocess.run([kcat, "-b", boot, "-C", "-t", "hub.feed.CARICC", "-o", "beginning", "-e", "-q",
                          "-f", "%R%s"], capture_output=True, timeout=60, check=True).stdout
    codec = Codec(registry=SchemaRegistry(feed_run.registry.url))
    items, at = [], 0
    while at < len(raw):
        (n,) = struct.unpack_from(">i", raw, at)
        items.append(codec.decode(raw[at + 4:at + 4 + n], expect=FEED_ITEM))
        at += 4 + n
    assert len(items) == len(lines)
    assert {i["report"]["report_id"] for i in items} <= feed_run.ids
    assert all(i["recipient"] == "CARICC" for i in items)


def test_java_21_is_found_for_the_registry() -> None:
    """The registry's Java is ≥ 21 even where `java` on PATH is Kafka's 17"""
    out = subprocess.run([java21(), "-version"], capture_output=True, text=True, timeout=30)
    version = out.stderr.split('"')[1]
    assert int(version.split(".")[0]) >= 21, out.stderr


def test_compose_runs_the_tested_registry() -> None:
    """docker-compose.yml's registry is the Apicurio version `hub registry` runs, schemas in an H2 file on a volume"""
    import yaml

    from hub.platform.kafka.registry import APICURIO_VERSION
    from tests.conftest import ROOT

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    reg = compose["services"]["registry"]
    assert reg["image"] == f"apicurio/apicurio-registry:{APICURIO_VERSION}"
    assert reg["environment"]["APICURIO_DATASOURCE_URL"].startswith("jdbc:h2:file:/var/lib/registry/")
    assert "registry-data:/var/lib/registry" in reg["volumes"] and "registry-data" in compose["volumes"]
    assert all(p.startswith("127.0.0.1:") for p in reg["ports"])
    assert "HUB_SCHEMA_REGISTRY_URL" in compose["x-hub"]["environment"]
