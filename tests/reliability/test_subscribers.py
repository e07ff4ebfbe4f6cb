"""Slow and disconnected subscribers: a feed client that reads slowly or reconnects repeatedly.

Feed items are put on hub.feed.CARICC (as the pipeline would), stored by a real `hub sink` and
served by a real `hub gateway`. Clients reconnect with Last-Event-ID after every few events, cut
connections in the middle of an event, page with random limits, or stall without reading: they
never lose or repeat an item, and the gateway's memory stays bounded.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.domain.codec import FEED_ITEM, codec
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import feed
from hub.platform.settings import Settings
from tests import factories
from tests.helpers import rss_kb, sse_events
from tests.reliability.harness import Cluster, Tokens, wait_until
from tests.reliability.load import Store

pytestmark = pytest.mark.slow
ITEMS = int(os.environ.get("HUB_RELIABILITY_FEED_ITEMS", "1500"))
STATE = "CARICC"
BIG = 8_000  # narrative characters of the stalled test's items (~10 KB per SSE event)


def items(n: int, run: str, start: int = 0, size: int = 800) -> list[dict[str, Any]]:
    out = []
    for i in range(start, n):
        rid = f"R-{run}{i:012d}"[:26]
        r = factories.report(report_id=rid, source_ref=f"{run}-{i}", narrative=f"item {i} " + "x" * size)
        out.append(factories.feed_item(item_id=f"{rid}:1:{STATE}", recipient=STATE, report=r, delivery="NEW",
                                       incident_id=f"I-{rid}"))
    return out


def put(settings: Settings, values: list[dict[str, Any]]) -> None:
    async def go() -> None:
        p = producer(settings)
        await p.start()
        try:
            futs = [await p.send(feed(STATE), codec().encode(FEED_ITEM, v), key=v["incident_id"].encode())
                    for v in values]
            await asyncio.gather(*futs)
        finally:
            await p.stop()

    asyncio.run(go())


@pytest.fixture
def served(fresh: Cluster) -> Iterator[dict[str, Any]]:
    run = uuid.uuid4().hex[:6]
    fresh.sink()
    gw, url = fresh.gateway()
    token = Tokens(fresh.settings).officer("officer", f"analyst-{run}", STATE)
    yield {"cluster": fresh, "url": url, "token": token, "run": run, "gateway": gw}


def _read_some(client: httpx.Client, headers: dict[str, str], take: int, cut: bool, rng: random.Random,
               seen: list[str], last_id: str | None) -> str | None:
    """One connection: read ``take`` events (or, with ``cut``, a few raw bytes and hang up)."""
    with client.stream("GET", f"/v1/feeds/{STATE}", headers=headers) as r:
        assert r.status_code == 200, r.read()[:300]
        if cut:
            # a few bytes (likely ending inside an event), then hang up without counting anything:
            # those events must all come again after reconnecting
            want, got = rng.randint(1, 4000), 0
            for chunk in r.iter_raw(512):
                got += len(chunk)
                if got >= want:
                    break
            return last_id
        for n, ev in enumerate(sse_events(r.iter_lines()), start=1):
            seen.append(httpx.Response(200, content=ev["data"]).json()["item_id"])
            last_id = ev["id"]
            if n >= take or len(seen) >= ITEMS:
                break
    return last_id


def test_reconnecting_sse_client_never_loses_or_repeats(ledger: Any, served: dict[str, Any]) -> None:
    """An SSE client that disconnects every few events (some mid-event) and resumes with Last-Event-ID"""
    cl: Cluster = served["cluster"]
    store = Store(cl.settings)
    first = items(ITEMS // 2, served["run"])
    put(cl.settings, first)
    rest = items(ITEMS, served["run"], ITEMS // 2)
    live = threading.Thread(target=lambda: (time.sleep(1.0), put(cl.settings, rest)))
    live.start()
    rng = random.Random(7)
    seen: list[str] = []
    last_id: str | None = None
    reconnects = cuts = idle_timeouts = 0
    headers = {"Authorization": f"Bearer {served['token']}"}
    deadline = time.monotonic() + 300 + ITEMS / 10
    # a 5 s read timeout: an idle stream (nothing left to send) ends the connection, not the test
    with httpx.Client(base_url=served["url"], timeout=httpx.Timeout(30, read=5)) as client:
        while len(seen) < ITEMS and time.monotonic() < deadline:
            h = dict(headers) | ({"Last-Event-ID": last_id} if last_id is not None else {})
            cut = rng.random() < 0.3
            try:
                last_id = _read_some(client, h, rng.randint(1, 40), cut, rng, seen, last_id)
            except httpx.ReadTimeout:
                idle_timeouts += 1
            reconnects += 1
            cuts += cut
    live.join()
    wait_until(lambda: store.items() >= ITEMS, 120, "every item stored")
    repeats = len(seen) - len(set(seen))
    expected = {i["item_id"] for i in first + rest}
    ledger.record(items=ITEMS, reconnects=reconnects, cut_mid_event=cuts, idle_timeouts=idle_timeouts,
                  items_seen=len(seen), repeats=repeats, missing=len(expected - set(seen)))
    assert repeats == 0, "an item was delivered twice across reconnects"
    assert set(seen) == expected, f"{len(expected - set(seen))} items never seen"


def test_paging_with_random_limits_never_loses_or_repeats(ledger: Any, served: dict[str, Any]) -> None:
    """JSON pages with random limits and cursors resumed from next_after see every item once"""
    cl: Cluster = served["cluster"]
    values = items(ITEMS, served["run"])
    put(cl.settings, values)
    wait_until(lambda: Store(cl.settings).items() >= ITEMS, 120, "every item stored")
    rng = random.Random(11)
    seen: list[str] = []
    after, pages = 0, 0
    with httpx.Client(base_url=served["url"], headers={"Authorization": f"Bearer {served['token']}"},
                      timeout=30) as client:
        while True:
            r = client.get(f"/v1/feeds/{STATE}/items", params={"after": after, "limit": rng.randint(1, 250)})
            assert r.status_code == 200
            body = r.json()
            pages += 1
            if not body["items"]:
                break
            seen.extend(i["item_id"] for i in body["items"])
            after = body["next_after"]
    ledger.record(items=ITEMS, pages=pages, repeats=len(seen) - len(set(seen)))
    assert len(seen) == len(set(seen)) == ITEMS


def _stalled_client(port: int, token: str) -> socket.socket:
    """Open the SSE stream and never read: the server must hold back, not buffer everything."""
    s = socket.create_connection(("127.0.0.1", port))  # default buffers: a tiny window makes reading crawl
    s.sendall(f"GET /v1/feeds/{STATE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
              f"Accept: text/event-stream\r\n\r\n".encode())
    return s


def test_stalled_subscribers_keep_gateway_memory_bounded(ledger: Any, served: dict[str, Any]) -> None:
    """20 subscribers that stop reading while 30 MB of items arrive (600 MB if buffered per client):
    gateway memory stays bounded,
    and a stalled client that resumes reading still gets every item once"""
    cl: Cluster = served["cluster"]
    port = int(served["url"].rsplit(":", 1)[1])
    pid = served["gateway"].pid
    put(cl.settings, items(50, served["run"], size=BIG))
    wait_until(lambda: Store(cl.settings).items() >= 50, 60, "first items stored")
    base = rss_kb(pid)
    stalled = [_stalled_client(port, served["token"]) for _ in range(20)]
    try:
        for start in range(50, ITEMS * 2, 500):  # in slices: the test's own memory stays small
            put(cl.settings, items(min(start + 500, ITEMS * 2), served["run"], start, size=BIG))
        wait_until(lambda: Store(cl.settings).items() >= ITEMS * 2, 180, "every item stored")
        time.sleep(3)  # let the gateway try to push everything to the stalled clients
        peak = rss_kb(pid)
        payload = ITEMS * 2 * (BIG + 1_500) * len(stalled) // 1024  # what unbounded buffering would hold (KiB)
        # one stalled client now reads everything: nothing lost, nothing repeated
        s = stalled[0]
        s.settimeout(10)
        chunks: list[bytes] = []
        events = 0
        while events < ITEMS * 2:
            try:
                chunk = s.recv(1 << 20)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            events += chunk.count(b"event: item")  # the marker is short: a split across chunks is rare
            # and only makes the loop read until the 10 s idle timeout; the ids below are exact
        text = b"".join(chunks).decode("utf-8", errors="replace")
        ids = [line[4:] for line in text.split("\n") if line.startswith("id: ")]
    finally:
        for s in stalled:
            s.close()
    growth_mb = (peak - base) / 1024
    ledger.record(stalled_clients=len(stalled), items=ITEMS * 2, gateway_rss_base_mb=round(base / 1024, 1),
                  gateway_rss_peak_mb=round(peak / 1024, 1), rss_growth_mb=round(growth_mb, 1),
                  unbounded_buffering_would_need_mb=round(payload / 1024, 1), resumed_client_items=len(ids))
    assert len(ids) == len(set(ids)) == ITEMS * 2, f"{len(ids)} ids, {len(set(ids))} distinct"
    assert growth_mb < 100, f"gateway memory grew by {growth_mb:.0f} MB with stalled subscribers"
