"""The officer page says when search and statistics lag the feed (issue 20): a real stack whose sink runs
every projection but the analyst one (`hub sink --projection feeds --projection audit`), so the feed
store fills and the analyst index does not; the search and charts tabs show a polite note (RU and EN)
and the feed tab does not. Then a second sink starts the analyst projection alone: it catches up, and
the note goes away. Screenshots in test-artifacts/pages/."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.audit.store import AuditStore
from hub.feeds.store import FeedStore
from hub.platform.db import Database
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.topics import ensure_topics
from tests.conftest import HUB, AnyBroker, broker_settings, hub_env
from tests.feeds.cdp import Browser
from tests.feeds.conftest import Stack, wait_for
from tests.feeds.test_feed_http import auth
from tests.helpers import ThreadGateway, stop_process
from tests.pages.conftest import DESKTOP, SHOTS, audit, no_exceptions, set_lang, sign_in
from tests.pages.test_officer_ui import make

STATE = "AM"
NOTE = {"en": "Search and statistics are not being updated at the moment", "ru": "Поиск и статистика сейчас не обновляются"}


def start_sink(s: Any, data: Any, name: str, *projections: str) -> subprocess.Popen[bytes]:
    log = data / f"{name}.log"
    args = [a for p in projections for a in ("--projection", p)]
    with open(log, "wb") as out:
        sink = subprocess.Popen([*HUB, "sink", "--port", "0", "--group", f"sink-{data.name}", *args],
                                env=hub_env(s), stdout=out, stderr=subprocess.STDOUT)
    wait_for(lambda: b"sink started" in log.read_bytes() or sink.poll() is not None, 30, name)
    assert sink.poll() is None, log.read_text()
    return sink


@pytest.fixture(scope="module")
def lagging(broker: AnyBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Any]]:
    """A stack whose analyst projection does not run (yet): (the stack, a function that starts it)."""
    data = tmp_path_factory.mktemp("lag-stack")
    s = broker_settings(broker, data_dir=str(data / "hub"), gateway_port=free_port())
    asyncio.run(ensure_topics(s))
    db = Database(s.db_url)
    FeedStore(db), AuditStore(db)
    sinks = [start_sink(s, data, "sink", "feeds", "audit")]
    gateway = ThreadGateway(s).start()
    try:
        yield Stack(s, f"http://127.0.0.1:{s.gateway_port}", db, gateway.app, data / "sink.log"), (
            lambda: sinks.append(start_sink(s, data, "analyst-sink", "analyst")))
    finally:
        gateway.stop()
        for p in sinks:
            stop_process(p, 10)
        db.close()


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_search_and_charts_say_when_they_lag_the_feed(lagging: tuple[Stack, Any], axe: str, lang: str) -> None:
    stack, start_analyst = lagging
    items = [make(f"AM-LAG-{lang}-{i}", f"I-LAG-{lang}", 30 - i) for i in range(3)]
    stack.produce(*items)
    token = stack.officer(f"am-lag-{lang}", STATE)
    wait_for(lambda: len(httpx.get(f"{stack.base}/v1/feeds/{STATE}/items", headers=auth(token)).json()["items"])
             >= len(items), what="the feed store")
    b = Browser()
    try:
        b.size(*DESKTOP)
        sign_in(b, stack.base, "/", token)
        set_lang(b, lang)
        b.wait(f"document.querySelectorAll('#incidents li.item').length >= {len(items)}", what="the feed")
        note = "document.getElementById('lag-note')"
        assert b.js(f"{note}.hidden")  # the feed tab says nothing: the feed is what is up to date
        for tab in ("search", "charts"):
            b.js(f"window.HUB_ANALYST.showTab('{tab}')")
            if lang == "en" and tab == "search":
                b.wait(f"!{note}.hidden", what="the note")
                assert b.js(f"{note}.getAttribute('role')") == "status"  # announced politely
                assert NOTE[lang] in b.js(f"{note}.textContent")
            else:
                b.wait(f"!{note}.hidden && {note}.textContent.includes({NOTE[lang]!r})", what="the note")
            b.screenshot(SHOTS / f"officer-lag-{tab}-desktop-{lang}.png")
            assert not audit(b, axe, f"officer-lag-{tab}-desktop-{lang}")
        # a running projection: behind the feed by more than 5 s is said with the time, 5 s or less is not
        said = "window.HUB_ANALYST.lagText([{projection: 'feeds', running: true, lag_seconds: 0, behind_feed_seconds: 0}, "
        said += "{projection: 'analyst', running: true, lag_seconds: %s, behind_feed_seconds: %s}])"
        assert b.js(said % (5, 5)) == ""
        assert ("12 seconds behind the feed" if lang == "en" else "отставание: 12 секунд") in b.js(said % (12, 12))
        assert ("3 minutes behind" if lang == "en" else "отставание: 3 минуты") in b.js(said % (180, 180))
        b.js("window.HUB_ANALYST.showTab('feed')")
        b.wait(f"{note}.hidden", what="no note on the feed tab")
        if lang == "ru":  # the last case: the analyst projection starts and catches up
            start_analyst()
            b.js("window.HUB_ANALYST.showTab('charts')")
            b.wait(f"{note}.hidden", timeout=60, what="the note gone once the analyst projection caught up")
            def indexed() -> int:
                return int(httpx.get(f"{stack.base}/v1/feeds/{STATE}/stats", params={"by": "month"},
                                     headers=auth(token)).json()["total"]["reports"])

            # the note goes once it runs; indexing may take a moment longer
            wait_for(lambda: indexed() >= 2 * len(items), what="the analyst index")
            # The charts count what the index holds for the state: both tests' reports, and any AM items that
            # earlier tests left on the session broker's feed topic (this stack's consumer groups are new and
            # read it from the start, so the total is not known in advance). "Show" is pressed again until
            # the chart's total is the index's total at that moment.
            shown: dict[str, Any] = {"at": 0.0, "text": ""}

            def chart_counts_the_index() -> bool:
                text = b.js("(document.getElementById('chart-total') || {}).textContent || ''")
                shown["text"] = text
                digits = re.match(r"Всего: ([\d\s\u00a0\u202f]+)", text)
                if digits and int(re.sub(r"\D", "", digits.group(1))) == indexed():
                    return True
                if time.monotonic() - shown["at"] > 3:
                    shown["at"] = time.monotonic()
                    b.js("document.getElementById('chart-show').click()")
                return False

            wait_for(chart_counts_the_index, 60, what="the chart of the indexed reports")
            assert indexed() >= 2 * len(items), shown["text"]
        no_exceptions(b)
    finally:
        b.close()
