"""Feed fixtures: one real stack per module — `hub sink` as a subprocess and the gateway under
uvicorn (in a thread) on a free port — on the session's embedded broker, with a private database."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.audit.store import AuditStore
from hub.directory.officers import Officers
from hub.domain.codec import FEED_ITEM
from hub.domain.wire import headers, send_avro
from hub.feeds.store import FeedStore
from hub.platform.db import Database
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import ensure_topics, feed
from hub.platform.settings import Settings
from tests.conftest import HUB, AnyBroker, broker_settings, hub_env
from tests.feeds.cdp import browser  # noqa: F401  (the fixture, for the page tests)
from tests.helpers import ThreadGateway, stop_process, wait_until


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until ``check()`` is truthy (a hang guard, not a performance assertion)."""
    return wait_until(check, timeout, what, every=0.1)


@dataclass
class Stack:
    settings: Settings
    base: str
    db: Database
    app: Any
    sink_log: Path

    @property
    def feeds(self) -> FeedStore:
        return FeedStore(self.db)

    @property
    def audit(self) -> AuditStore:
        return AuditStore(self.db)

    def officer(self, name: str, state: str | None, auditor: bool = False) -> str:
        return Officers(self.db, self.settings).add(name, state, auditor)

    def produce(self, *items: dict[str, Any]) -> None:
        async def go() -> None:
            prod = producer(self.settings)
            await prod.start()
            try:
                for it in items:
                    await send_avro(prod, feed(it["recipient"]), FEED_ITEM, it, key=it["incident_id"],
                                    headers=headers(trace_id=it["report"].get("trace_id"), item_id=it["item_id"]))
            finally:
                await prod.stop()

        asyncio.run(go())

    def stored(self, state: str) -> list[dict[str, Any]]:
        return self.feeds.page(state, 0, 1000)


@pytest.fixture(scope="module")
def stack(broker: AnyBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("feeds-stack")
    s = broker_settings(broker, data_dir=str(data / "hub"), gateway_port=free_port(), denial_window_seconds=1)
    asyncio.run(ensure_topics(s))
    db = Database(s.db_url)
    FeedStore(db), AuditStore(db)  # create the tables before two processes race to do it
    sink_log = data / "sink.log"
    with open(sink_log, "wb") as out:
        sink = subprocess.Popen([*HUB, "sink", "--port", "0", "--group", f"sink-{data.name}"],
                                env=hub_env(s), stdout=out, stderr=subprocess.STDOUT)
    gateway = ThreadGateway(s).start()
    wait_for(lambda: b"sink started" in sink_log.read_bytes() or sink.poll() is not None, 30, "sink")
    assert sink.poll() is None, sink_log.read_text()
    try:
        yield Stack(s, f"http://127.0.0.1:{s.gateway_port}", db, gateway.app, sink_log)
    finally:
        gateway.stop()
        stop_process(sink, 10)
        db.close()


# PostgreSQL fixtures shared with the audit tests (a throwaway cluster per session)
from tests.audit.conftest import db_url, pg_server, pg_url  # noqa: E402,F401
