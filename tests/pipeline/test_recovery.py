"""A restarted worker recovers its tables from the changelogs (real processes, private broker)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from hub.domain.codec import REPORT, codec
from hub.platform.kafka.embedded import free_port, stop_process
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.topics import AUDIT, INTAKE, ensure_topics
from hub.platform.settings import Settings
from tests.conftest import HUB, AnyBroker, broker_settings, hub_env
from tests.factories import report
from tests.helpers import audit_events

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]


def start(s: Settings, port: int, log: Path, store: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([*HUB, "worker", "--port", str(port), "--store", store], env=hub_env(s),
                                stdout=out, stderr=subprocess.STDOUT)


def stop(p: subprocess.Popen[bytes]) -> None:
    stop_process(p, 30)


def wait_ready(port: int) -> None:
    end = time.monotonic() + 90
    while time.monotonic() < end:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("worker never became ready")


async def stages_for(c: object, rid: str, want: set[str], seen: list[str]) -> None:
    end = time.monotonic() + 90
    while not want <= set(seen) and time.monotonic() < end:
        for msgs in (await c.getmany(timeout_ms=300)).values():  # type: ignore[attr-defined]
            for m in msgs:
                for ev in audit_events(m.value):
                    if ev["report_id"] == rid:
                        seen.append(ev["stage"])


@pytest.mark.parametrize("store", ["memory", "rocksdb"])
def test_restart_keeps_dedup_state(module_broker: AnyBroker, tmp_path: Path, store: str) -> None:
    s = broker_settings(module_broker, data_dir=str(tmp_path / "hub"))
    r = report(source_ref=f"RECOVER-{store}")
    value = codec().encode(REPORT, r)
    port = free_port()
    log = tmp_path / "worker.log"

    async def run() -> list[str]:
        await ensure_topics(s)
        c = consumer(s, AUDIT, group_id=None)
        await c.start()
        p = producer(s)
        await p.start()
        seen: list[str] = []
        try:
            w = start(s, port, log, store)
            try:
                await p.send_and_wait(INTAKE, value, key=b"KZ-CUSTOMS:r")
                await stages_for(c, r["report_id"], {"ROUTED"}, seen)
            finally:
                stop(w)
            assert "ROUTED" in seen, log.read_text()[-3000:]
            w = start(s, port, log, store)
            try:
                await asyncio.to_thread(wait_ready, port)
                await p.send_and_wait(INTAKE, value, key=b"KZ-CUSTOMS:r")
                await stages_for(c, r["report_id"], {"DUPLICATE"}, seen)
            finally:
                stop(w)
        finally:
            await p.stop()
            await c.stop()
        return seen

    seen = asyncio.run(run())
    assert seen.count("ROUTED") == 1, seen
    assert "DUPLICATE" in seen, seen
