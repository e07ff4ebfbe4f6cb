"""A real gateway (uvicorn in a thread, on the session's embedded broker for its audit events) over a
private SQLite database whose feeds are written by the sink's own write path (:class:`hub.sink.Sink`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.directory.agencies import Directory
from hub.directory.officers import Officers
from hub.feeds.store import FeedStore
from hub.interop.taxii import ROOT, TAXII, collection_id
from hub.platform.db import Database
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.io import consumer
from hub.platform.kafka.topics import AUDIT, ensure_topics
from hub.platform.settings import Settings
from hub.sink import Sink, Sorted
from tests.conftest import AnyBroker, broker_settings
from tests.helpers import ThreadGateway, audit_events
from tests.interop import world


@dataclass
class Gateway:
    settings: Settings
    base: str
    db: Database
    tokens: dict[str, str]  # "KZ", "AF", "CARICC", "UZ", "auditor", "agency" -> token

    def write(self, items: list[dict[str, Any]]) -> None:
        """Store feed items the way ``hub sink`` does."""
        Sink(self.settings, db=self.db).write(Sorted(feed_items=items))

    def collection(self, state: str) -> str:
        return f"{self.base}{ROOT}collections/{collection_id(state)}/"

    def get(self, url: str, token: str | None, params: Any = None, **headers: str) -> httpx.Response:
        h = {"Accept": TAXII} | headers
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        return httpx.get(url if url.startswith("http") else self.base + url, params=params, headers=h, timeout=30)

    def audit(self, match: Callable[[dict[str, Any]], bool], want: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Audit events on hub.audit that ``match``, once at least ``want`` arrived (hang guard only)."""
        async def read() -> list[dict[str, Any]]:
            c = consumer(self.settings, AUDIT, group_id=None, auto_offset_reset="earliest")
            await c.start()
            found: list[dict[str, Any]] = []
            try:
                loop = asyncio.get_running_loop()
                end = loop.time() + timeout
                while loop.time() < end:
                    for msgs in (await c.getmany(timeout_ms=500)).values():
                        for m in msgs:
                            found += [e for e in audit_events(m.value) if match(e)]
                    if len(found) >= want:
                        await asyncio.sleep(0.5)  # anything extra shows in the count
                        for msgs in (await c.getmany(timeout_ms=500)).values():
                            for m in msgs:
                                found += [e for e in audit_events(m.value) if match(e)]
                        return found
            finally:
                await c.stop()
            raise AssertionError(f"audit: {len(found)} of {want} matching events within {timeout:g} s")

        return asyncio.run(read())


@contextmanager
def running_gateway(broker: AnyBroker, data: Path, items: list[dict[str, Any]]) -> Iterator[Gateway]:
    """A gateway over a fresh database holding ``items`` (officers of KZ, AF, CARICC and UZ, an auditor and
    a KZ agency key in ``tokens``)."""
    s = broker_settings(broker, data_dir=str(data / "hub"), gateway_port=free_port(), denial_window_seconds=1)
    asyncio.run(ensure_topics(s))
    db = Database(s.db_url)
    FeedStore(db)
    officers = Officers(db, s)
    tokens = {st: officers.add(f"iop-{st.lower()}", st) for st in ("KZ", "AF", "CARICC", "UZ")}
    tokens["auditor"] = officers.add("iop-auditor", None, auditor=True)
    agencies = Directory(db, s.recipients)
    agencies.add("IOP-KZ-AGENCY", "KZ", "Interop test agency")
    tokens["agency"] = agencies.issue_key("IOP-KZ-AGENCY")
    gw = Gateway(s, f"http://127.0.0.1:{s.gateway_port}", db, tokens)
    gw.write(items)
    server = ThreadGateway(s).start()
    try:
        yield gw
    finally:
        server.stop()
        db.close()


@pytest.fixture(scope="module")
def gateway(broker: AnyBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(broker, tmp_path_factory.mktemp("interop"), world.feed_items()) as gw:
        yield gw


# PostgreSQL fixtures shared with the audit tests (a throwaway cluster per session)
from tests.audit.conftest import db_url, pg_server, pg_url  # noqa: E402,F401
