"""The officer page in a real headless Chromium: sign in, see a report arrive live (grouped by
incident, behind the "new" bar), open it, switch to Russian, acknowledge — and the acknowledgement is in
the audit trail. (Layout, live updates without losing place, keyboard, i18n and axe: tests/pages/.)"""

from __future__ import annotations

import json

import httpx

from tests.feeds.cdp import ARTIFACTS, Browser
from tests.feeds.conftest import Stack, wait_for
from tests.feeds.test_feed_http import item

EVIL = 'Найдено в коробках <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_officer_signs_in_sees_live_report_and_acknowledges(stack: Stack, browser: Browser) -> None:
    token = stack.officer("caricc-analyst", "CARICC")
    auditor = stack.officer("oversight-web", None, auditor=True)
    first = item("CARICC", "WEB-1", incident="I-WEB", narrative=EVIL)
    stack.produce(first)
    # stored before the page opens, so it is the backlog (an item that arrives later waits behind the
    # "N new" bar; the feed projection is its own consumer and may lag the sign-in)
    wait_for(lambda: httpx.get(f"{stack.base}/v1/feeds/CARICC/items", headers={"Authorization": f"Bearer {token}"},
                               timeout=10).json()["items"], what="the first item stored")

    browser.goto(stack.base + "/")
    assert browser.js("document.getElementById('signin').hidden") is False
    browser.js(f"document.getElementById('token').value = {json.dumps(token)};"
               "document.getElementById('signin-button').click()")
    browser.wait("document.getElementById('status').dataset.state === 'live'", what="live feed")
    assert "caricc-analyst" in browser.js("document.getElementById('who').textContent")
    browser.wait("document.querySelectorAll('li.item').length === 1", what="first item")

    # a correlated report arrives live, in the same incident group
    second = item("CARICC", "WEB-2", incident="I-WEB", kind="ALERT", substances=[], risk_indicators=["route"])
    second["delivery"] = "CORRELATED"
    stack.produce(second)
    browser.wait("!document.getElementById('new-bar').hidden", what="second item live, behind the bar")
    assert browser.js("document.querySelectorAll('li.item').length") == 1  # the list does not move by itself
    browser.js("document.getElementById('new-bar').click()")
    browser.wait("document.querySelectorAll('li.item').length === 2", what="second item shown")
    groups = browser.js("[...document.querySelectorAll('section.incident')].map(s => "
                        "[s.dataset.incident, s.querySelectorAll('li.item').length])")
    assert groups == [["I-WEB", 2]]
    assert browser.js("[...document.querySelectorAll('.badge.delivery')].map(b => b.textContent).sort()") == \
        ["CORRELATED", "NEW"]

    # filters: kind ALERT leaves one item
    browser.js("const k = document.getElementById('f-kind'); k.value = 'ALERT';"
               "k.dispatchEvent(new Event('input'))")
    assert browser.js("document.querySelectorAll('li.item:not([hidden])').length") == 1  # hidden, not rebuilt
    browser.js("const k = document.getElementById('f-kind'); k.value = '';"
               "k.dispatchEvent(new Event('input'))")

    # open the seizure: untrusted narrative shown as text, handling code and evaluation prominent
    browser.js(f"document.querySelector('li.item[data-item=\"{first['item_id']}\"]').click()")
    browser.wait("document.getElementById('detail').classList.contains('open')", what="detail view")
    assert browser.js("document.getElementById('narrative').textContent") == EVIL
    assert browser.js("document.querySelectorAll('#detail img, #detail script').length") == 0
    assert browser.js("window.__pwned === undefined") is True
    assert browser.js("document.getElementById('handling').textContent").startswith("H1")
    assert browser.js("document.getElementById('evaluation').textContent") == "B2"
    assert browser.js("document.getElementById('risk').textContent") == "80"
    assert "Rakhimov Farrukh" in browser.js("document.getElementById('detail').textContent")

    # Russian interface
    browser.js("const l = document.getElementById('lang'); l.value = 'ru'; l.dispatchEvent(new Event('change'))")
    assert browser.js("document.querySelector('h1').textContent") == "Лента офицера связи"
    assert browser.js("document.getElementById('ack').textContent") == "Подтвердить прочтение"
    assert browser.js("document.getElementById('status').textContent") == "в эфире"

    browser.js("document.getElementById('ack').click()")
    browser.wait("document.getElementById('ack').getAttribute('aria-disabled') === 'true'", what="acknowledged")
    assert "officer:caricc-analyst" in browser.js("document.getElementById('acked-by').textContent")
    browser.screenshot(ARTIFACTS / "officer-page.png")

    rid = first["report"]["report_id"]

    def acked() -> list[dict] | None:
        r = httpx.get(f"{stack.base}/v1/audit/trail/{rid}", headers={"Authorization": f"Bearer {auditor}"})
        if r.status_code != 200:
            return None
        return [e for e in r.json()["events"] if e["stage"] == "ACKNOWLEDGED"] or None

    events = wait_for(acked, what="ACKNOWLEDGED in the audit trail")
    assert events[0]["actor"] == "officer:caricc-analyst" and events[0]["state"] == "CARICC"
    stages = [e["stage"] for e in httpx.get(f"{stack.base}/v1/audit/trail/{rid}",
                                            headers={"Authorization": f"Bearer {auditor}"}).json()["events"]]
    assert "DELIVERED" in stages
    assert not [c for c in browser.console if c.startswith("EXCEPTION")], browser.console


def test_page_serves_with_strict_csp(stack: Stack) -> None:
    r = httpx.get(stack.base + "/")
    assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
    assert httpx.get(stack.base + "/static/app.js").status_code == 200
    assert httpx.get(stack.base + "/static/../feeds.py").status_code == 404
