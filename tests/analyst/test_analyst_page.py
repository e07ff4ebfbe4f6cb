"""The analyst workspace on the officer page in a real headless Chromium: search, incident view with its
timeline, charts, the unacknowledged-only filter, downloads — in English and Russian, with
screenshots in test-artifacts/ (looked at by the developer; see docs/analyst.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.analyst.label import label
from tests.analyst import world
from tests.analyst.test_analyst_http import moved, moved_receipt, produce_receipts
from tests.analyst.test_store import corpus
from tests.conftest import hub_settings
from tests.feeds.cdp import Browser
from tests.feeds.conftest import Stack, stack, wait_for  # noqa: F401  (module-scoped stack fixture)
from tests.feeds.test_feed_http import auth

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def set_lang(b: Browser, lang: str) -> None:
    b.js(f"const l = document.getElementById('lang'); l.value = '{lang}'; l.dispatchEvent(new Event('change'))")


def test_search_incident_charts_unacknowledged_and_downloads(stack: Stack, browser: Browser) -> None:  # noqa: F811
    items, receipts = corpus()
    settings = hub_settings()
    w_items, w_receipts = world.build(world.reports(settings, 80, seed=3), settings)
    # moved to PK: no other test module publishes PK feed items on the shared broker
    uz_items = [moved(i) for i in items if i["recipient"] == "UZ"] + [moved(i) for i in w_items if i["recipient"] == "UZ"]
    stack.produce(*uz_items)
    produce_receipts(stack, [moved_receipt(r) for r in receipts + [r for r in w_receipts if r["state"] == "UZ"][:5]])
    token = stack.officer("pk-page", "PK")
    auditor = stack.officer("oversight-page", None, auditor=True)
    want = len(uz_items)

    def indexed() -> bool:
        r = httpx.get(f"{stack.base}/v1/feeds/PK/stats", params={"by": "month"}, headers=auth(token))
        return r.status_code == 200 and r.json()["total"]["reports"] >= want
    wait_for(indexed, what="the analyst index")

    browser.goto(stack.base + "/")
    browser.js(f"document.getElementById('token').value = {json.dumps(token)};"
               "document.getElementById('signin-button').click()")
    browser.wait(f"document.querySelectorAll('#incidents li.item').length === {want}", what="the feed")
    # plurals and labels in the incident headings
    browser.wait(f"document.querySelector('section.incident[data-incident=\"I-1\"] h3').textContent.includes('{label('I-1')}')",
                 what="incident labels")
    heads = browser.js("Object.fromEntries([...document.querySelectorAll('section.incident')].map(s => "
                       "[s.dataset.incident, s.querySelector('h3').textContent]))")
    assert heads["I-1"].endswith("· 2 reports") and heads["I-2"].endswith("· 1 report")

    # search: a plate written in Cyrillic look-alikes finds both reports of I-1
    browser.js("document.getElementById('q').value = '01 А 123 ВС'; document.getElementById('search-button').click()")
    browser.wait("document.querySelectorAll('#search-pane li.item').length === 2", what="search results")
    assert browser.js("document.getElementById('search-summary').textContent").startswith("2 results")
    browser.js("document.querySelector('#search-pane li.item').click()")
    browser.wait("document.getElementById('detail').classList.contains('open')", what="result detail")
    browser.screenshot(ARTIFACTS / "analyst-search-en.png")
    browser.js("document.getElementById('q').value = 'Rahimof героин'; document.getElementById('search-button').click()")
    s1, s2 = (moved(i)["item_id"] for i in items[:2])
    browser.wait(f"['{s1}', '{s2}'].every(id => document.querySelector(`#search-pane li.item[data-item=\"${{id}}\"]`))",
                 what="fuzzy + Russian search")

    # incident view from a result's label
    browser.js(f"document.querySelector('#search-pane li.item[data-item=\"{s1}\"] .incident-link').click()")
    browser.wait("!document.getElementById('incident-pane').hidden && !!document.getElementById('timeline')",
                 what="incident view")
    assert browser.js("document.getElementById('incident-label').textContent") == f"Incident {label('I-1')}"
    events = browser.js("[...document.querySelectorAll('#timeline li')].map(li => li.className)")
    assert events[:2] == ["ev seized", "ev alerted"] and "ev received" in events
    text = browser.js("document.getElementById('incident-pane').textContent")
    assert "plate: 01A123BC" in text and "Rakhimov Farrukh" in text and "heroin: 12.5 kg" in text
    browser.screenshot(ARTIFACTS / "analyst-incident-en.png")
    set_lang(browser, "ru")
    assert browser.js("document.getElementById('incident-label').textContent") == f"Инцидент {label('I-1')}"
    ru = browser.js("document.getElementById('incident-pane').textContent")
    assert "2 сообщения" in ru and "1 изъятие · 1 оповещение" in ru and "номер ТС: 01A123BC" in ru
    browser.screenshot(ARTIFACTS / "analyst-incident-ru.png")

    # charts (Russian, then English), drawn as SVG by the page
    browser.js("document.querySelector('[data-tab=\"charts\"]').click()")
    browser.wait("!!document.querySelector('#chart svg.chart') && document.querySelectorAll('#chart .bar').length > 2",
                 what="substance chart")
    assert "Всего" in browser.js("document.getElementById('chart-total').textContent")
    browser.screenshot(ARTIFACTS / "analyst-charts-ru.png")
    set_lang(browser, "en")
    browser.js("const s = document.getElementById('chart-by'); s.value = 'route_country'; s.dispatchEvent(new Event('change'))")
    browser.wait("!!document.querySelector('#chart svg.chart') && [...document.querySelectorAll('#chart text.key')]"
                 ".some(t => t.textContent === 'AF')", what="route-country chart")
    browser.js("const m = document.getElementById('chart-measure'); m.value = 'kg'; m.dispatchEvent(new Event('change'))")
    browser.screenshot(ARTIFACTS / "analyst-charts-en.png")
    browser.js("const s = document.getElementById('chart-by'); s.value = 'month'; s.dispatchEvent(new Event('change'))")
    browser.wait("!!document.querySelector('#chart svg.chart') && document.querySelectorAll('#chart .bar').length >= 1",
                 what="month chart")

    # unacknowledged only: acknowledge one report, the filter hides it
    browser.js("document.querySelector('[data-tab=\"feed\"]').click()")
    browser.js("document.querySelector('#incidents li.item').click()")
    browser.wait("document.getElementById('detail').classList.contains('open')", what="detail")
    browser.js("document.getElementById('ack').click()")
    browser.wait("document.getElementById('ack').getAttribute('aria-disabled') === 'true'", what="acknowledged")
    browser.js("const u = document.getElementById('f-unacked'); u.checked = true; u.dispatchEvent(new Event('input'))")
    # filtered rows are hidden in place, not removed (tests/pages: no row is rebuilt)
    browser.wait(f"document.querySelectorAll('#incidents li.item:not([hidden])').length === {want - 1}",
                 what="unacknowledged only")
    assert browser.js("document.querySelectorAll('#incidents li.item.acked:not([hidden])').length") == 0
    browser.screenshot(ARTIFACTS / "analyst-unacknowledged-en.png")
    set_lang(browser, "ru")
    assert browser.js("document.querySelector('#f-unacked + span').textContent") == "Только непрочитанные"
    browser.screenshot(ARTIFACTS / "analyst-unacknowledged-ru.png")
    browser.js("const u = document.getElementById('f-unacked'); u.checked = false; u.dispatchEvent(new Event('input'))")
    browser.js("document.getElementById('q').value = 'гашиш'; document.getElementById('search-button').click()")
    browser.wait("document.getElementById('search-summary') && "
                 "/^\\d+ результат/.test(document.getElementById('search-summary').textContent)", what="Russian search")
    browser.screenshot(ARTIFACTS / "analyst-search-ru.png")
    set_lang(browser, "en")

    # downloads: fetched with the token in a header, saved from a blob; audited EXPORTED. From the feed
    # tab: its received reports (the search tab would export the search)
    browser.js("document.querySelector('[data-tab=\"feed\"]').click()")
    for fmt in ("geojson", "csv", "i2.csv"):
        browser.js(f"document.querySelector('[data-export=\"{fmt}\"]').click()")
        browser.wait(f"document.body.dataset.lastExport === '{fmt}'", what=f"{fmt} download")
    rid = uz_items[0]["report"]["report_id"]

    def exported() -> bool:
        t = httpx.get(f"{stack.base}/v1/audit/trail/{rid}", headers=auth(auditor)).json()["events"]
        return {e["detail"].get("format") for e in t if e["stage"] == "EXPORTED"} >= {"geojson", "csv", "i2.csv"}
    wait_for(exported, what="EXPORTED by the page")
    assert not [c for c in browser.console if c.startswith("EXCEPTION")], browser.console
