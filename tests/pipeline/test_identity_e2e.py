"""Kafka-native identity end to end (issue 12 finding 4, SPEC §7): a real `hub worker` process on a
private embedded broker, agencies registered with the real CLI.

Identity comes from where a record arrived, never from its body: each Kafka-native agency produces to
its own ``hub.intake.agency.<CODE>``. A record there whose agency is unknown, revoked, not registered
as Kafka-native, not the topic's agency, or whose state is not that agency's state, lands in the DLQ
with its raw bytes and a REJECTED audit event naming the problem; a revocation takes effect while the
worker runs. Records on plain ``hub.intake`` are the gateway's (only the gateway may write it).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from connectors.sdk import KafkaTransport, Publisher
from hub.domain.codec import AUDIT_BATCH, AUDIT_EVENT, DEAD_LETTER, REPORT, codec
from hub.domain.report import report_id
from hub.platform.kafka.clients import client_settings
from hub.platform.kafka.embedded import EmbeddedBroker, free_port, stop_process
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.topics import AUDIT, DLQ, INTAKE, ensure_topics
from hub.platform.settings import Settings
from tests.conftest import HUB, TEST_ID_KEY, hub_env, hub_settings
from tests.factories import json_report, report

pytestmark = pytest.mark.slow
WAIT = 120.0  # hang guard only
NATIVE = "hub.intake.agency."


def topic(code: str) -> str:
    return f"{NATIVE}{code}"


def cli(s: Settings, *args: str) -> str:
    r = subprocess.run([*HUB, *args], env=hub_env(s), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


async def create_topics(s: Settings, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap, **client_settings(s).admin)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 2, 1) for n in names])
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    tmp = tmp_path_factory.mktemp("identity-e2e")
    broker = EmbeddedBroker(log_path=str(tmp / "broker.log")).start()
    s = hub_settings(embedded_port=broker.port, data_dir=str(tmp / "hub"), partitions=2, directory_refresh_ms=200)
    asyncio.run(ensure_topics(s))
    cli(s, "agency", "add", "KZ-NATIVE", "--state", "KZ", "--name", "KZ customs (Kafka)", "--kafka-native")
    cli(s, "agency", "add", "KG-NATIVE", "--state", "KG", "--name", "KG border (Kafka)", "--kafka-native")
    cli(s, "agency", "revoke", "KG-NATIVE")
    cli(s, "agency", "add", "UZ-REST", "--state", "UZ", "--name", "UZ customs (REST only)")
    # topics that exist without a Kafka-native agency behind them (created by hand, or left over)
    asyncio.run(create_topics(s, [topic("GHOST"), topic("UZ-REST")]))
    log = tmp / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*HUB, "worker", "--port", str(free_port()), "--store", "memory"],
                                env=hub_env(s, HUB_DIRECTORY_REFRESH_MS="200"), stdout=out, stderr=subprocess.STDOUT)
    try:
        yield s, log
    finally:
        stop_process(proc, 20)
        broker.stop()


class Reader:
    def __init__(self, s: Settings) -> None:
        self.c = consumer(s, DLQ, AUDIT, group_id=None)
        self.dlq: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []

    async def poll(self) -> None:
        batch = await self.c.getmany(timeout_ms=200)
        for tp, msgs in batch.items():
            for m in msgs:
                if tp.topic == DLQ:
                    self.dlq.append(codec().decode(m.value, expect=DEAD_LETTER))
                    continue
                name, value = codec().decode_named(m.value)
                self.audit += value["events"] if name == AUDIT_BATCH else [value] if name == AUDIT_EVENT else []

    async def until(self, cond: Any, what: str) -> None:
        end = time.monotonic() + WAIT
        while not cond():
            assert time.monotonic() < end, f"gave up waiting for {what}"
            await self.poll()

    def routed(self, rid: str) -> bool:
        return any(a["stage"] == "ROUTED" and a["report_id"] == rid for a in self.audit)

    def rejected(self, src: tuple[str, int, int]) -> list[dict[str, Any]]:
        return [a for a in self.audit if a["stage"] == "REJECTED" and a["detail"].get("topic") == src[0]
                and a["detail"].get("partition") == str(src[1]) and a["detail"].get("offset") == str(src[2])]


async def send(s: Settings, records: list[tuple[str, bytes, bytes]]) -> list[tuple[str, int, int]]:
    p = producer(s)
    await p.start()
    try:
        futs = [await p.send(t, v, key=k) for t, k, v in records]
        return [(t, md.partition, md.offset) for (t, _k, _v), md in zip(records, [await f for f in futs], strict=True)]
    finally:
        await p.stop()


def avro(agency: str, state: str, ref: str) -> bytes:
    return codec().encode(REPORT, report(agency, state, source_ref=ref, report_id="", tlp="GREEN", addressees=[]))


def test_identity_comes_from_the_topic(native: tuple[Settings, Path], tmp_path: Path) -> None:
    s, log = native
    p = uuid.uuid4().hex[:6]

    # the SDK's Kafka-native mode produces to the agency's own topic, and the hub accepts it there
    with Publisher(tmp_path / "outbox.db", KafkaTransport(s, "KZ-NATIVE", "KZ")) as pub:
        pub.publish(json_report(source_ref=f"{p}-sdk", tlp="GREEN"))
        assert pub.drain(timeout=60)["sent"] == 1
    forged = {
        "not the topic's agency": (topic("KZ-NATIVE"), avro("UZ-CUSTOMS", "UZ", f"{p}-claims-uz")),
        "is not KZ-NATIVE's state": (topic("KZ-NATIVE"), avro("KZ-NATIVE", "UZ", f"{p}-wrong-state")),
        "agency GHOST is not in the agency directory": (topic("GHOST"), avro("GHOST", "KZ", f"{p}-ghost")),
        "agency KG-NATIVE is revoked": (topic("KG-NATIVE"), avro("KG-NATIVE", "KG", f"{p}-revoked")),
        "UZ-REST is not registered as a Kafka-native agency": (topic("UZ-REST"), avro("UZ-REST", "UZ", f"{p}-rest")),
    }
    gateway_value = avro("UZ-CUSTOMS", "UZ", f"{p}-via-gateway")
    positions = asyncio.run(send(s, [(t, f"x:{p}".encode(), v) for t, v in forged.values()]
                                 + [(INTAKE, f"UZ-CUSTOMS:{p}-via-gateway".encode(), gateway_value)]))
    sdk_id = report_id(TEST_ID_KEY, "KZ-NATIVE", f"{p}-sdk")
    gw_id = report_id(TEST_ID_KEY, "UZ-CUSTOMS", f"{p}-via-gateway")

    async def check() -> None:
        rd = Reader(s)
        await rd.c.start()
        try:
            srcs = positions[:-1]
            await rd.until(lambda: rd.routed(sdk_id) and rd.routed(gw_id)
                           and all(rd.rejected(src) for src in srcs)
                           and len([d for d in rd.dlq if d["source_topic"].startswith(NATIVE)]) >= len(srcs),
                           "the SDK and gateway reports routed, every forged record rejected")
            for (reason, (t, value)), src in zip(forged.items(), srcs, strict=True):
                dl = [d for d in rd.dlq if (d["source_topic"], d["source_partition"], d["source_offset"]) == src]
                assert len(dl) == 1, reason
                assert dl[0]["value"] == value and dl[0]["stage"] == "validate", reason
                assert dl[0]["reason"].startswith("identity:") and reason in dl[0]["reason"], dl[0]["reason"]
                ev = rd.rejected(src)
                assert len(ev) == 1 and reason in ev[0]["reason"], ev
                assert ev[0]["agency"] == t.removeprefix(NATIVE), "the audit names who really sent it"
            # a claim of another agency never lands in that agency's trail
            claimed = report_id(TEST_ID_KEY, "UZ-CUSTOMS", f"{p}-claims-uz")
            assert not [a for a in rd.audit if a["report_id"] == claimed]
            assert not [d for d in rd.dlq if d["source_topic"] == INTAKE]

            # revocation while the worker runs: records after it are rejected (within the refresh bound)
            cli(s, "agency", "revoke", "KZ-NATIVE")
            n = 0
            end = time.monotonic() + WAIT
            while True:
                assert time.monotonic() < end, "the revocation never took effect"
                n += 1
                src = (await send(s, [(topic("KZ-NATIVE"), b"k", avro("KZ-NATIVE", "KZ", f"{p}-after-{n}"))]))[0]
                rid = report_id(TEST_ID_KEY, "KZ-NATIVE", f"{p}-after-{n}")
                await rd.until(lambda src=src, rid=rid: rd.rejected(src) or rd.routed(rid),  # type: ignore[misc]
                               f"record {n} after the revocation")
                if rd.rejected(src):
                    assert "agency KZ-NATIVE is revoked" in rd.rejected(src)[0]["reason"]
                    break
                await asyncio.sleep(0.2)
        finally:
            await rd.c.stop()

    asyncio.run(check())
    assert b"Traceback" not in log.read_bytes()
