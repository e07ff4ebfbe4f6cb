"""`hub dlq list|replay` against a private embedded broker (real subprocesses)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.domain.codec import DEAD_LETTER, REPORT, codec
from hub.pipeline.core.validate import Message, dead_letter
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.topics import DLQ, INTAKE, ensure_topics
from hub.platform.settings import Settings
from tests.conftest import HUB, broker_settings, hub_env, start_broker
from tests.factories import json_report


@pytest.fixture(scope="module")
def s(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp("dlq")
    broker = start_broker(broker_kind, tmp / "broker")
    try:
        yield broker_settings(broker, data_dir=str(tmp), partitions=1)
    finally:
        broker.stop()


async def _seed(st: Settings) -> list[dict]:
    await ensure_topics(st)
    letters = [
        dead_letter(Message(INTAKE, 0, 11, b"KZ-CUSTOMS:bad", b"\x00garbage", [("trace_id", b"t-77")]),
                    stage="validate", reason="undecodable: wrong marker", now_ms=1_700_000_000_000),
        dead_letter(Message(INTAKE, 0, 12, b"KZ-CUSTOMS:x", "плохой".encode(), []),
                    stage="validate", reason="undecodable: wrong marker", now_ms=1_700_000_000_000),
    ]
    p = producer(st)
    await p.start()
    for d in letters:
        await p.send_and_wait(DLQ, codec().encode(DEAD_LETTER, d), key=d["dead_letter_id"].encode())
    await p.stop()
    return letters


async def _read_intake(st: Settings, n: int) -> list:
    c = consumer(st, INTAKE, group_id=None)
    await c.start()
    got: list = []
    end = time.monotonic() + 60
    try:
        while len(got) < n and time.monotonic() < end:
            for msgs in (await c.getmany(timeout_ms=300)).values():
                got += msgs
    finally:
        await c.stop()
    return got


def hub(st: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *args], env=hub_env(st), capture_output=True, text=True, timeout=120)


@pytest.mark.both_brokers
def test_list_and_replay(s: Settings, tmp_path: Path) -> None:
    letters = asyncio.run(_seed(s))
    listed = hub(s, "dlq", "list", "--json", "--idle", "1")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(x) for x in listed.stdout.splitlines()]
    assert [r["dead_letter_id"] for r in rows] == [d["dead_letter_id"] for d in letters]
    assert rows[0]["source"] == "hub.intake/0/11" and rows[0]["headers"] == {"trace_id": "t-77"}
    assert rows[1]["value"] == "плохой"

    raw = hub(s, "dlq", "replay", letters[0]["dead_letter_id"], "--idle", "1")
    assert raw.returncode == 0, raw.stderr

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(json_report(kind="ALERT")))  # an ALERT needs risk indicators
    refused = hub(s, "dlq", "replay", letters[1]["dead_letter_id"], "--fixed", str(bad), "--agency", "KZ-CUSTOMS",
                  "--state", "KZ", "--idle", "1")
    assert refused.returncode != 0 and "risk_indicators" in refused.stderr

    good = tmp_path / "good.json"
    good.write_text(json.dumps(json_report(source_ref="FIXED-1")))
    fixed = hub(s, "dlq", "replay", letters[1]["dead_letter_id"], "--fixed", str(good), "--agency", "KZ-CUSTOMS",
                "--state", "KZ", "--idle", "1")
    assert fixed.returncode == 0, fixed.stderr

    got = asyncio.run(_read_intake(s, 2))
    assert len(got) == 2
    assert got[0].value == b"\x00garbage" and got[0].key == b"KZ-CUSTOMS:bad"
    assert dict(got[0].headers) == {"trace_id": b"t-77", "replayed_from": letters[0]["dead_letter_id"].encode()}
    rep = codec().decode(got[1].value, expect=REPORT)
    assert (rep["agency"], rep["source_ref"], got[1].key) == ("KZ-CUSTOMS", "FIXED-1", b"KZ-CUSTOMS:FIXED-1")
    assert dict(got[1].headers)["idempotency_key"] == b"KZ-CUSTOMS|FIXED-1|1"


def test_help() -> None:
    out = subprocess.run([*HUB, "dlq", "replay", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--fixed" in out.stdout
    out = subprocess.run([*HUB, "worker", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "/readyz" in out.stdout


async def _read_topic_until_idle(st: Settings, topic: str, idle: float = 2.0) -> list:
    c = consumer(st, topic, group_id=None)
    await c.start()
    got: list = []
    try:
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle:
            for msgs in (await c.getmany(timeout_ms=300)).values():
                if msgs:
                    idle_since = time.monotonic()
                got += msgs
    finally:
        await c.stop()
    return got


def test_raw_replay_of_a_kafka_native_record_goes_back_to_its_own_topic(s: Settings) -> None:
    """A record rejected on an agency's own intake topic (e.g. a forged agency claim) must not become
    trusted by a raw replay: hub.intake is the gateway's, where identity is not re-checked."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from hub.platform.kafka.clients import client_settings

    native = "hub.intake.agency.KZ-NATIVE"

    async def seed() -> dict:
        await ensure_topics(s)
        admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap, **client_settings(s).admin)
        await admin.start()
        try:
            if native not in await admin.list_topics():
                await admin.create_topics([NewTopic(native, 1, 1)])
        finally:
            await admin.close()
        d = dead_letter(Message(native, 0, 5, b"UZ-CUSTOMS:forged", b"forged-bytes", []), stage="validate",
                        reason="identity: agency: 'UZ-CUSTOMS' is not the topic's agency KZ-NATIVE",
                        now_ms=1_700_000_000_000)
        p = producer(s)
        await p.start()
        await p.send_and_wait(DLQ, codec().encode(DEAD_LETTER, d), key=d["dead_letter_id"].encode())
        await p.stop()
        return d

    d = asyncio.run(seed())
    r = hub(s, "dlq", "replay", d["dead_letter_id"], "--idle", "1")
    assert r.returncode == 0, r.stderr
    back = [m for m in asyncio.run(_read_topic_until_idle(s, native)) if m.value == b"forged-bytes"]
    assert len(back) == 1 and dict(back[0].headers)["replayed_from"] == d["dead_letter_id"].encode()
    on_intake = [m for m in asyncio.run(_read_topic_until_idle(s, INTAKE)) if m.value == b"forged-bytes"]
    assert on_intake == [], "a raw replay made a Kafka-native record the gateway's"
