"""`hub projection rebuild NAME`: a projection's tables dropped and rebuilt from its topics hold what
the live projection had written (on SQLite and PostgreSQL, the embedded broker)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.audit.store import AuditStore
from hub.platform.db import Database
from hub.projections import progress
from hub.projections.registry import NAMES
from hub.sink import Sink
from tests.conftest import HUB, AnyBroker, broker_settings, hub_env, start_broker
from tests.projections.conftest import history, produce, snapshot


async def run_until(sink: Sink, done: callable, timeout: float = 120.0) -> None:  # type: ignore[valid-type]
    task = asyncio.create_task(sink.run())
    deadline = time.monotonic() + timeout
    try:
        while not await asyncio.to_thread(done):
            assert time.monotonic() < deadline, "projections did not catch up (hang guard)"
            assert not task.done(), task.exception() if task.done() else ""
            await asyncio.sleep(0.2)
    finally:
        sink.stop()
        await task


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[AnyBroker]:
    """A broker of this test alone: a rebuild reads its topics from the beginning, so they must hold
    only what this test produced (the session's broker carries other tests' feed items)."""
    b = start_broker("embedded", tmp_path / "broker")
    yield b
    b.stop()


def test_every_projection_rebuilt_from_its_topics_equals_the_original(private_broker: AnyBroker, db_url: str,
                                                                       tmp_path: Path) -> None:
    s = broker_settings(private_broker, data_dir=str(tmp_path / "hub"), database_url=db_url)
    h = history(s)
    asyncio.run(produce(s, h))
    n_items, n_receipts = len(h["items"]), len(h["receipts"])
    n_events = sum(len(b["events"]) for b in h["audit"])
    want = {"feeds": n_items, "audit": n_events, "analyst": n_items + n_receipts, "provider": n_events + n_receipts}
    db = Database(db_url)
    group = f"rb-{time.time_ns()}"

    def caught_up() -> bool:
        got = {v["projection"]: v["records"] for v in progress.read(db)}
        return all(got.get(n, 0) >= k for n, k in want.items())

    asyncio.run(run_until(Sink(s, db=db, group=group), caught_up))
    before = {n: snapshot(db, n) for n in NAMES}
    assert len(before["feeds"]["feed_items"]) == n_items and len(before["audit"]["audit_log"]) == n_events
    assert AuditStore(db, s).verify().ok
    env = hub_env(s)
    helped = subprocess.run([*HUB, "projection", "rebuild", "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0 and "Drop projection NAME's tables" in helped.stdout
    for name in NAMES:
        out = subprocess.run([*HUB, "projection", "rebuild", name, "--yes", "--group", group], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert f"rebuild {name}:" in out.stderr  # progress lines
        assert f'"projection": "{name}"' in out.stdout
        after = snapshot(db, name)
        assert after == before[name], name
    verdict = AuditStore(db, s).verify()
    assert verdict.ok and verdict.records == n_events, verdict.describe()
    # the rebuilt projections continue from where the rebuild stopped: nothing replayed twice
    assert caught_up()
    asyncio.run(run_until(Sink(s, db=db, group=group), lambda: all(v["running"] for v in progress.read(db)),
                          timeout=60))
    assert {n: snapshot(db, n) for n in NAMES} == before


def test_rebuild_names_unknown_projection(tmp_path: Path) -> None:
    out = subprocess.run([*HUB, "projection", "rebuild", "search", "--yes"], capture_output=True, text=True,
                         env={**hub_env_min(tmp_path)})
    assert out.returncode == 2 and "search" in out.stderr and "analyst" in out.stderr


def hub_env_min(tmp_path: Path) -> dict[str, str]:
    import os

    return {**os.environ, "HUB_DATA_DIR": str(tmp_path)}


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
