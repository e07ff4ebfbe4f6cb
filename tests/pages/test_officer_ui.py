"""The officer page at production grade, in Chromium at 1400×900 and 390×844, English and Russian:
layout (list and sticky detail side by side; full-screen detail with Back on a phone; no horizontal
overflow, long strings wrap), live items without losing place (the "N new" bar; rows are never rebuilt),
nothing of the workspace before sign-in, no "null"/"undefined"/"NaN", units kept, times and numbers
localised, enumerations translated, the keyboard (skip link, roving list, Enter/Space/Esc/j/k, ARIA
tabs) and the polite live region."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from typing import Any

import httpx
import pytest

from hub.platform.kafka.embedded import free_port  # noqa: F401  (kept for symmetry with other page tests)
from tests.factories import feed_item, report
from tests.feeds.cdp import Browser
from tests.feeds.conftest import Stack
from tests.feeds.test_feed_http import auth
from tests.pages.conftest import DESKTOP, PHONE, SHOTS, no_exceptions, overflow, set_lang, sign_in, wait_for

STATE = "AM"  # no other test module publishes AM feed items on the shared broker
LONG = "Ж" * 120 + "W" * 80  # 200 characters without a break
NOW_MS = int(time.time() * 1000)


def make(ref: str, incident: str, minutes_ago: int, *, enrichment: dict[str, Any] | None = None,
         **over: Any) -> dict[str, Any]:
    at = NOW_MS - minutes_ago * 60_000
    rep = report(source_ref=ref, trace_id=f"t-{ref}", event_time=at - 3_600_000, received_at=at, **over)
    subs = rep["substances"] or []
    totals = [{"type": s["type"], "quantity": s["quantity"], "unit": s["unit"],
               "quantity_kg": s["quantity"] if s["unit"] == "KG" else s["quantity"] / 1000 if s["unit"] == "G" else None}
              for s in subs]
    enr = {"risk_score": 55, "risk_reasons": ["+30 seizure report" if rep["kind"] == "SEIZURE" else "+20 alert report",
                                              "+10 route from or through AF"],
           "containers": [], "hs_description": None, "substance_totals": totals, "party_names": [],
           "entity_links": [], "prior_reports": [], "watchlist_hits": [], "also_reported_by": []}
    enr.update(enrichment or {})
    return feed_item(item_id=f"{rep['report_id']}:1:{STATE}", recipient=STATE, incident_id=incident, delivery="NEW",
                     report=rep, enrichment=enr, routed_at=at,
                     routing={"recipients": [STATE, "CARICC"], "reason": "on the route or at the location (AMBER)",
                              "redacted": False})


def corpus() -> list[dict[str, Any]]:
    big = make("AM-BIG", "I-BIG", 400, substances=[{"type": "HEROIN", "name": None, "quantity": 17235.69, "unit": "KG",
                                                     "concealment": "CARGO", "concealment_detail": "false floor"}],
               enrichment={"risk_score": 90, "risk_reasons": ["+30 seizure report", "+25 substance HEROIN",
                                                              "+25 17235.7 kg seized", "+10 route from or through AF"]})
    liquid = make("AM-LIQ", "I-LIQ", 390, substances=[
        {"type": "PRECURSOR", "name": "acetic anhydride", "quantity": 250, "unit": "L", "concealment": "CARGO",
         "concealment_detail": None},
        {"type": "TRAMADOL", "name": None, "quantity": 3000, "unit": "TABLETS", "concealment": "BAGGAGE",
         "concealment_detail": None}])
    long = make("AM-LONG", "I-LONG", 380, narrative=LONG, location={"country": "AM", "place": LONG, "unlocode": None,
                                                                    "lat": None, "lon": None},
                parties=[{"role": "SUSPECT", "name": LONG, "country": "AM", "identifier": LONG}])
    alert = make("AM-ALERT", "I-ALERT", 370, kind="ALERT", substances=[], tlp="GREEN", handling_code="H0",
                 evaluation=None, risk_indicators=["cash payment for freight", "route changed at the border"])
    fillers = [make(f"AM-F{i:02d}", f"I-F{i % 12:02d}", 360 - i * 5, tlp=("AMBER", "GREEN", "RED", "CLEAR")[i % 4])
               for i in range(36)]
    return [big, liquid, long, alert, *fillers]


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> dict[str, Any]:
    items = corpus()
    stack.produce(*items)
    token = stack.officer("am-page", STATE)

    def stored() -> bool:
        r = httpx.get(f"{stack.base}/v1/feeds/{STATE}/items", params={"limit": 1000}, headers=auth(token))
        return r.status_code == 200 and len(r.json()["items"]) >= len(items)
    wait_for(stored, what="the corpus in the feed store")

    def indexed() -> bool:
        r = httpx.get(f"{stack.base}/v1/feeds/{STATE}/stats", params={"by": "month"}, headers=auth(token))
        return r.status_code == 200 and r.json()["total"]["reports"] >= len(items)
    wait_for(indexed, what="the analyst index")
    return {"token": token, "items": items, "by_ref": {i["report"]["source_ref"]: i for i in items}}


def officer(b: Browser, stack: Stack, seeded: dict[str, Any], size: tuple[int, int, bool], lang: str = "en") -> None:
    b.size(*size)
    b.js(f"localStorage.setItem('hub.lang', '{lang}')") if b.js("location.origin") == stack.base else None
    sign_in(b, stack.base, "/", seeded["token"])
    set_lang(b, lang)
    b.wait(f"document.querySelectorAll('#incidents li.item').length >= {len(seeded['items'])}", what="the backlog")
    b.wait("document.getElementById('status').dataset.state === 'live'", what="live")


def row(item: dict[str, Any]) -> str:
    return f"li.item[data-item=\"{item['item_id']}\"]"


def body_text(b: Browser) -> str:
    return str(b.js("document.body.innerText")).replace("\u00a0", " ").replace("\u202f", " ")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_nothing_of_the_workspace_before_sign_in(stack: Stack, browser: Browser, size: tuple[int, int, bool]) -> None:
    b = browser
    b.size(*size)
    b.goto(stack.base + "/")
    b.js("sessionStorage.clear()")
    b.goto(stack.base + "/")
    assert b.js("getComputedStyle(document.getElementById('app')).display") == "none"
    assert b.js("[...document.querySelectorAll('#app button, #app input, #app select')].every(n => !n.offsetParent)")
    assert b.js("getComputedStyle(document.getElementById('signin')).display") != "none"
    assert b.js("document.getElementById('signout').hidden") is True
    b.js("document.querySelector('[data-export=csv]').click()")  # even if reached, it is no error
    time.sleep(0.3)
    assert overflow(b) == 0
    no_exceptions(b)
    b.screenshot(SHOTS / f"officer-signin-{'desktop' if size == DESKTOP else 'phone'}.png")


def test_desktop_side_by_side_and_live_items_without_losing_place(stack: Stack, browser: Browser,
                                                                  seeded: dict[str, Any]) -> None:
    b = browser
    officer(b, stack, seeded, DESKTOP)
    assert overflow(b) == 0
    # the 200-character unbroken strings wrap inside the list and the detail
    long = seeded["by_ref"]["AM-LONG"]
    assert b.js(f"document.querySelector('{row(long)}').getBoundingClientRect().right") <= 1400
    # scroll far down the list and open an item there: the detail is beside the list and in view
    last = seeded["items"][4]  # the oldest filler: its incident is near the end of the list
    b.js(f"document.querySelector('{row(last)}').scrollIntoView({{block: 'center'}})")
    assert b.js("window.scrollY") > 300
    b.js(f"document.querySelector('{row(last)}').click()")
    b.wait("document.getElementById('detail').classList.contains('open')", what="detail")
    rect = b.js("const r = document.getElementById('detail').getBoundingClientRect();"
                "({top: r.top, bottom: r.bottom, left: r.left, right: r.right, h: innerHeight})")
    assert rect["top"] >= 0 and rect["bottom"] <= rect["h"], rect
    assert rect["left"] >= b.js("document.getElementById('list-pane').getBoundingClientRect().right"), rect
    b.js(f"document.querySelector('{row(long)}').click()")
    assert overflow(b) == 0
    assert b.js("document.getElementById('detail').scrollWidth <= document.getElementById('detail').clientWidth")
    b.screenshot(SHOTS / "officer-long-desktop-en.png")

    # the officer is reading an item (focused, open): two items arrive live
    b.js(f"document.querySelector('{row(last)}').click(); document.querySelector('{row(last)}').focus();"
         "window.__rows = [...document.querySelectorAll('#incidents li.item')];"
         "window.__sections = [...document.querySelectorAll('#incidents section.incident')]")
    before = b.js(f"({{top: document.querySelector('{row(last)}').getBoundingClientRect().top, y: scrollY,"
                  " n: document.querySelectorAll('#incidents li.item').length})")
    news = [make("AM-LIVE-1", "I-BIG", 0), make("AM-LIVE-2", "I-NEW", 0)]
    stack.produce(*news)
    b.wait("!document.getElementById('new-bar').hidden && document.getElementById('new-bar').textContent.includes('2')",
           what="the new bar")
    b.wait("document.getElementById('announce').textContent.includes('2')", what="the polite announcement")
    assert b.js("document.getElementById('announce').getAttribute('aria-live')") == "polite"
    after = b.js(f"({{top: document.querySelector('{row(last)}').getBoundingClientRect().top, y: scrollY,"
                 " n: document.querySelectorAll('#incidents li.item').length})")
    # nothing moved: the row read is where it was on the screen, no row was added (far-away incidents are
    # laid out lazily — content-visibility — so scroll anchoring may adjust scrollY by their estimates)
    assert abs(after["top"] - before["top"]) < 2 and after["n"] == before["n"], (before, after)
    assert b.js(f"document.activeElement === document.querySelector('{row(last)}')")
    assert b.js(f"document.querySelector('{row(last)}').classList.contains('selected')")
    assert b.js("window.__rows.every(n => n.isConnected) && window.__sections.every(n => n.isConnected)")
    b.screenshot(SHOTS / "officer-new-bar-desktop-en.png")
    # shown on request: added, not rebuilt — every earlier row and incident is the same node
    b.js("document.getElementById('new-bar').click()")
    b.wait(f"document.querySelectorAll('#incidents li.item').length === {before['n'] + 2}", what="new rows")
    assert b.js("window.__rows.every(n => n.isConnected) && window.__sections.every(n => n.isConnected)")
    assert b.js("document.querySelector('#incidents section.incident').dataset.incident") in ("I-NEW", "I-BIG")
    assert b.js("document.getElementById('new-bar').hidden") is True
    assert b.js("document.activeElement.matches('li.item')")
    no_exceptions(b)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_phone_full_screen_detail_with_back(stack: Stack, browser: Browser, seeded: dict[str, Any], lang: str) -> None:
    b = browser
    officer(b, stack, seeded, PHONE, lang)
    assert overflow(b) == 0
    b.screenshot(SHOTS / f"officer-feed-phone-{lang}.png")
    target = seeded["by_ref"]["AM-LONG"]
    b.js(f"document.querySelector('{row(target)}').scrollIntoView({{block: 'center'}})")
    settle = "new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))"
    b.js(settle)  # incidents laid out as they come near the window (content-visibility) settle first
    top = b.js(f"document.querySelector('{row(target)}').getBoundingClientRect().top")
    b.js(f"document.querySelector('{row(target)}').click()")
    b.wait("document.getElementById('detail').classList.contains('open')", what="detail")
    rect = b.js("const r = document.getElementById('detail').getBoundingClientRect(); [r.left, r.top, r.width, r.height]")
    assert rect == [0, 0, 390, 844]
    assert overflow(b) == 0
    assert b.js("document.getElementById('detail').scrollWidth <= document.getElementById('detail').clientWidth")
    back = b.js("const s = document.querySelector('#close .on-phone'); s.offsetParent !== null && s.textContent")
    assert back and ("Back" in back or "списку" in back)
    assert b.js("document.activeElement.id") == "detail-title"
    b.screenshot(SHOTS / f"officer-detail-phone-{lang}.png")
    b.js("document.getElementById('close').click()")
    assert b.js("getComputedStyle(document.getElementById('detail')).display") == "none"
    b.js(settle)
    # back where the officer was in the list: the item on the same place of the screen
    assert abs(b.js(f"document.querySelector('{row(target)}').getBoundingClientRect().top") - top) < 2
    assert b.js(f"document.activeElement === document.querySelector('{row(target)}')")
    no_exceptions(b)


def test_keyboard_skip_link_roving_list_detail_and_tabs(stack: Stack, browser: Browser, seeded: dict[str, Any]) -> None:
    b = browser
    officer(b, stack, seeded, DESKTOP)
    b.js("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    b.press("Tab")
    assert b.focused().startswith("a.skip")
    b.press("Enter")
    b.wait("document.activeElement.id === 'app'", what="skip link to the content")
    # the whole list is one tab stop
    assert b.js("document.querySelectorAll('#incidents [tabindex=\"0\"]').length") == 1
    presses = 0
    while not b.js("!!document.activeElement.closest('#incidents')"):
        b.press("Tab")
        presses += 1
        assert presses < 20, b.focused()
    first = b.focused()
    # the list's tab stop is its top: the newest incident's heading
    assert b.js("document.activeElement === document.querySelector('#incidents section.incident .incident-head')")
    b.press("ArrowDown")
    second = b.focused()
    assert second != first
    b.press("j")
    third = b.focused()
    b.press("k")
    assert b.focused() == second
    assert third != second
    while not b.js("document.activeElement.matches('li.item')"):
        b.press("j")
    item = b.js("document.activeElement.dataset.item")
    b.press("Enter")
    b.wait("document.getElementById('detail').classList.contains('open')", what="detail by Enter")
    assert b.js("document.activeElement.id") == "detail-title"
    tabs = 0
    while b.js("document.activeElement.id") != "ack":
        b.press("Tab")
        tabs += 1
        assert tabs <= 3, b.focused()
    b.press("Escape")
    assert b.js("document.getElementById('detail').classList.contains('open')") is False
    assert b.js("document.activeElement.dataset.item") == item
    b.press(" ")
    b.wait("document.getElementById('detail').classList.contains('open')", what="detail by Space")
    b.press("Escape")
    # ARIA tabs: a tablist of tabs controlling tabpanels; arrows move between them
    tabs_ok = b.js("[...document.querySelectorAll('#tabs [role=tab]')].every(t => document.getElementById("
                   "t.getAttribute('aria-controls')).getAttribute('role') === 'tabpanel')")
    assert tabs_ok and b.js("document.getElementById('tabs').getAttribute('role')") == "tablist"
    b.js("document.getElementById('tab-feed').focus()")
    b.press("ArrowRight")  # Feed → Table → Search
    assert b.js("document.activeElement.id") == "tab-table"
    b.press("ArrowRight")
    assert b.js("document.activeElement.id") == "tab-search"
    assert b.js("document.getElementById('tab-search').getAttribute('aria-selected')") == "true"
    assert b.js("document.getElementById('search-pane').hidden") is False
    b.press("ArrowLeft")
    b.press("ArrowLeft")
    assert b.js("document.activeElement.id") == "tab-feed"
    # a visible focus ring
    b.js("document.getElementById('tab-search').focus()")
    b.press("ArrowLeft")
    assert b.js("getComputedStyle(document.activeElement).outlineStyle") != "none"
    no_exceptions(b)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_times_numbers_units_and_enumerations_localised(stack: Stack, browser: Browser, seeded: dict[str, Any],
                                                        lang: str) -> None:
    b = browser
    officer(b, stack, seeded, DESKTOP, lang)
    ru = lang == "ru"
    # every row shows its times: relative, the exact time on hover
    times = b.js("[...document.querySelectorAll('#incidents li.item')].map(li => [...li.querySelectorAll('time')]"
                 ".map(t => [t.dateTime, t.title, t.textContent]))")
    assert all(len(t) >= 2 for t in times)
    for dt, title, shown in (x for t in times for x in t):
        assert dt.endswith("Z") and title.endswith("UTC") and shown and not re.search(r"\d{4}-\d\d-\d\dT", title + shown)
    assert ("назад" if ru else "ago") in body_text(b)
    big, liquid, alert = (seeded["by_ref"][r] for r in ("AM-BIG", "AM-LIQ", "AM-ALERT"))
    b.js(f"document.querySelector('{row(big)}').click()")
    detail = lambda: str(b.js("document.getElementById('detail').innerText")).replace("\u00a0", " ").replace("\u202f", " ")  # noqa: E731
    text = detail()
    assert ("17 235,69 кг" if ru else "17,235.69 kg") in text
    assert ("героин" if ru else "heroin") in text
    assert ("изъято 17 235,7 кг" if ru else "17,235.7 kg seized") in text  # a risk reason, translated
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", text)  # no raw ISO time
    b.js(f"document.querySelector('{row(liquid)}').click()")
    text = detail()
    assert ("250 л" if ru else "250 l") in text and ("3 000 табл." if ru else "3,000 tablets") in text
    assert "— kg" not in text and "— кг" not in text
    b.js(f"document.querySelector('{row(alert)}').click()")
    text = detail()
    assert ("Оповещение" if ru else "Alert") in text and "cash payment for freight" in text
    assert ("на маршруте или в месте события (TLP:AMBER)" if ru else "on the route or at the location (TLP:AMBER)") in text
    whole = body_text(b)
    for bad in ("null", "undefined", "NaN"):
        m = re.search(rf"\b{bad}\b", whole)
        assert not m, repr(whole[max(0, m.start() - 80):m.end() + 30])
    if ru:
        for english in ("SEIZURE", "ALERT", "HEROIN", "PRECURSOR", "TABLETS", "seized", "risk indicator", "report",
                        "on the route"):
            assert english not in whole, english
        assert not re.search(r"\bkg\b", whole)
    b.screenshot(SHOTS / f"officer-detail-desktop-{lang}.png")
    # the charts: months read as months, never "26-12"
    b.js("document.getElementById('tab-charts').click()")
    b.wait("!!document.getElementById('chart-by')", what="charts")
    b.js("const s = document.getElementById('chart-by'); s.value = 'month'; s.dispatchEvent(new Event('change'))")
    b.wait("[...document.querySelectorAll('#chart text.key')].some(t => /2\\d{3}/.test(t.textContent))", what="months")
    keys = b.js("[...document.querySelectorAll('#chart text.key')].map(t => t.textContent)")
    month = b.js(f"new Intl.DateTimeFormat('{'ru-RU' if ru else 'en-GB'}', {{month: 'short', year: 'numeric', timeZone: 'UTC'}})"
                 ".format(new Date())")
    assert month in keys and not [k for k in keys if re.fullmatch(r"\d\d-\d\d", k)]
    b.screenshot(SHOTS / f"officer-charts-desktop-{lang}.png")
    b.js("document.getElementById('q').value = 'heroin'; document.getElementById('search-button').click()")
    b.wait("document.querySelectorAll('#search-pane li.item').length > 0", what="search results")
    assert b.js("[...document.querySelectorAll('#search-pane li.item')].every(li => li.querySelectorAll('time[title]').length >= 2)")
    b.screenshot(SHOTS / f"officer-search-desktop-{lang}.png")
    no_exceptions(b)


def exported(b: Browser, fmt: str = "csv") -> tuple[str, list[dict[str, str]]]:
    """Click the page's download button; the file name and the CSV rows the page saved."""
    b.js("delete document.body.dataset.lastExport")
    b.js(f"document.querySelector('[data-export=\"{fmt}\"]').click()")
    b.wait("document.body.dataset.lastExport", what="the download")
    text = b.js("window.HUB_ANALYST.lastExport().text()").lstrip("\ufeff")
    return b.js("document.body.dataset.lastExportName"), list(csv.DictReader(io.StringIO(text)))


def shown_feed(b: Browser) -> set[str]:
    return set(b.js("[...document.querySelectorAll('#incidents li.item')].filter(r => !r.hidden)"
                    ".map(r => r.dataset.item.split(':')[0])"))


def choose(b: Browser, **values: str) -> None:
    for key, value in values.items():
        b.js(f"const n = document.getElementById('f-{key}'); n.value = {json.dumps(value)};"
             "n.dispatchEvent(new Event('input'))")


def test_exports_follow_the_screen(stack: Stack, browser: Browser, seeded: dict[str, Any]) -> None:
    """The CSV holds what the screen shows — the feed under its filters, a search, an incident — and its
    name says which; the EXPORTED audit events record the filter."""
    b = browser
    officer(b, stack, seeded, DESKTOP)
    everything = shown_feed(b)
    name, rows = exported(b)
    assert {r["report_id"] for r in rows} == everything and re.fullmatch(r"hub-am-\d{8}-\d{4}-received\.csv", name)
    # the feed under Kind, TLP, Substance and Country (a substance and a country are filters of the server too)
    choose(b, kind="SEIZURE", tlp="RED", substance="HEROIN", country="af")
    shown = shown_feed(b)
    assert 0 < len(shown) < len(everything)
    name, rows = exported(b)
    assert {r["report_id"] for r in rows} == shown, name
    assert {(r["kind"], r["tlp"]) for r in rows} == {("SEIZURE", "RED")}
    assert name.endswith("-received-seizure-red-heroin-af.csv"), name
    choose(b, country="TJ")  # no report of this feed touches TJ: an empty list, an empty file
    assert shown_feed(b) == set()
    assert exported(b)[1] == []
    choose(b, kind="", tlp="RED", substance="", country="")
    # a search: the file holds its results, filters applied, whichever page the officer is on
    b.js("document.getElementById('q').value = 'Khorgos'; document.getElementById('search-form').requestSubmit()")
    b.wait("document.getElementById('search-summary') && !document.querySelector('#search-pane .muted')",
           what="the search results")
    found = set(b.js("[...document.querySelectorAll('#search-pane li.item')].map(r => r.dataset.item.split(':')[0])"))
    if b.js("!!document.getElementById('search-more')"):
        found = None  # more than a page: compare with the API's pages below
    name, rows = exported(b)
    assert name.endswith("-search-khorgos-red.csv"), name
    api = httpx.get(f"{stack.base}/v1/feeds/{STATE}/search", params={"q": "Khorgos", "tlp": "RED", "limit": 200},
                    headers=auth(seeded["token"])).json()
    assert {r["report_id"] for r in rows} == (found or {r["report_id"] for r in api["results"]})
    assert rows and {r["tlp"] for r in rows} == {"RED"}
    # an incident: its reports, named by its label
    choose(b, tlp="")
    b.js("window.HUB_ANALYST.openIncident('I-F02')")
    b.wait("!document.getElementById('incident-pane').hidden && !!document.getElementById('incident-label')",
           what="the incident")
    label = b.js("document.getElementById('incident-label').textContent.split(' ').pop()")
    name, rows = exported(b)
    assert {r["incident_id"] for r in rows} == {"I-F02"} and len(rows) == len(
        [i for i in seeded["items"] if i["incident_id"] == "I-F02"])
    assert name.endswith(f"-incident-{label.lower()}.csv"), name
    no_exceptions(b)

    auditor = stack.officer("am-exports-auditor", None, auditor=True)
    rid = rows[0]["report_id"]

    def audited() -> list[dict[str, Any]] | None:
        t = httpx.get(f"{stack.base}/v1/audit/trail/{rid}", headers=auth(auditor))
        ev = [e for e in t.json()["events"] if e["stage"] == "EXPORTED"] if t.status_code == 200 else []
        return [e for e in ev if e["detail"].get("filter") == f"incident={label}"] or None
    events = wait_for(audited, what="the EXPORTED event of the incident's export, with its filter")
    assert all(e["actor"] == "officer:am-page" and e["detail"]["format"] == "csv" for e in events)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_search_results_say_where_and_when(stack: Stack, browser: Browser, seeded: dict[str, Any], lang: str) -> None:
    b = browser
    officer(b, stack, seeded, DESKTOP, lang)
    b.js("document.getElementById('q').value = 'Хоргос'; document.getElementById('search-form').requestSubmit()")
    b.wait("document.querySelectorAll('#search-pane li.item').length > 0", what="the search results")
    rows = b.js("[...document.querySelectorAll('#search-pane li.item')].map(r => ({why: r.querySelector('.why') &&"
                " r.querySelector('.why').textContent, times: [...r.querySelectorAll('.times time')]"
                ".map(n => n.dateTime + ' ' + n.title)}))")
    found = "Found in place: Khorgos" if lang == "en" else "Найдено в месте: Khorgos"
    assert rows and all(r["why"] == found for r in rows), rows[:3]  # the Cyrillic query found the Latin place
    # when: the event and the receipt, each with its exact time in the title
    assert all(len(r["times"]) == 2 and all(re.search(r"\d{1,2}:\d{2}", x) for x in r["times"]) for r in rows), rows[:3]
    assert overflow(b) == 0
    b.screenshot(SHOTS / f"officer-search-why-desktop-{lang}.png")
    b.js("document.getElementById('q').value = 'fruits'; document.getElementById('search-form').requestSubmit()")
    b.wait("((document.getElementById('search-summary') || {}).textContent || '').includes('fruits')", what="the search")
    why = b.js("[...document.querySelectorAll('#search-pane .why')].map(n => n.textContent)")
    assert why and set(why) == {"Found in narrative: Heroin in fruit boxes." if lang == "en"
                                else "Найдено в описании: Heroin in fruit boxes."}, why
    no_exceptions(b)


def test_filters_apply_to_the_incident_and_the_charts(stack: Stack, browser: Browser, seeded: dict[str, Any]) -> None:
    b = browser
    officer(b, stack, seeded, DESKTOP)
    b.js("window.HUB_ANALYST.openIncident('I-F02')")
    b.wait("!document.getElementById('incident-pane').hidden && !!document.getElementById('incident-label')",
           what="the incident")
    in_incident = "document.querySelectorAll('#incident-pane li.item').length"
    assert b.js(in_incident) == 3 and not b.js("!!document.getElementById('incident-filtered')")
    choose(b, tlp="GREEN")  # the incident's three reports are RED
    b.wait(f"{in_incident} === 0", what="the incident under the filter")
    assert b.js("document.getElementById('incident-filtered').textContent") == "0 of 3 reports shown (filters)"
    assert exported(b)[1] == []  # and its export follows
    choose(b, tlp="RED")
    b.wait(f"{in_incident} === 3", what="the incident under the filter")
    assert len(exported(b)[1]) == 3
    # the charts count what the filters select
    choose(b, tlp="")
    b.js("window.HUB_ANALYST.showTab('charts')")
    total = "((document.getElementById('chart-total') || {}).textContent || '')"
    b.wait(f"{total}.includes('reports')", what="the chart")
    everything = int(re.search(r"(\d+) reports", b.js(total)).group(1))
    choose(b, tlp="RED")
    red = len([i for i in seeded["items"] if i["report"]["tlp"] == "RED"])
    b.wait(f"{total}.includes('{red} reports')", what="the chart under the filter")
    assert red < everything
    name, rows = exported(b)
    assert len(rows) == red and name.endswith("-red.csv"), name
    b.screenshot(SHOTS / "officer-charts-filtered-desktop-en.png")
    no_exceptions(b)


def test_links_open_what_they_name_or_say_it_is_not_in_the_feed(stack: Stack, browser: Browser,
                                                                 seeded: dict[str, Any], axe: str) -> None:
    from tests.pages.conftest import audit

    b = browser
    officer(b, stack, seeded, DESKTOP)
    big = seeded["by_ref"]["AM-BIG"]["report"]
    held = {"report_id": big["report_id"], "agency": big["agency"], "state": "KZ", "kind": "SEIZURE",
            "event_time": big["event_time"], "incident_id": "I-BIG"}
    unseen = {**held, "report_id": "R0000000000000000000000", "incident_id": "I-ELSEWHERE"}
    linked = make("AM-LINKS", "I-LINKS", 0, tlp="AMBER", enrichment={
        "prior_reports": [held, unseen],
        "entity_links": [{"name": "Рахимов Фаррух", "matched_name": "Rakhimov Farrukh", "score": 93.0,
                          "report_id": unseen["report_id"]}]})
    stack.produce(linked)
    b.wait("!document.getElementById('new-bar').hidden", what="the new bar")
    b.js("document.getElementById('new-bar').click()")
    b.wait(f"!!document.querySelector('{row(linked)}')", what="the linked report's row")
    b.js(f"document.querySelector('{row(linked)}').click()")
    b.wait("document.querySelectorAll('#detail .report-link').length === 3", what="the report links")
    assert b.js("[...document.querySelectorAll('#detail .report-link')].map(n => n.dataset.report)") == [
        unseen["report_id"], held["report_id"], unseen["report_id"]]
    assert not audit(b, axe, "officer-detail-links-desktop-en")
    # a report this state holds opens in the detail
    b.js(f"document.querySelector('#detail .report-link[data-report=\"{held['report_id']}\"]').click()")
    b.wait(f"document.querySelector('#detail .rid-line').textContent === '{held['report_id']}'", what="the held report")
    # one it does not hold: said plainly, and nothing more
    b.js(f"document.querySelector('{row(linked)}').click()")
    b.wait("document.querySelectorAll('#detail .report-link').length === 3", what="the report links again")
    b.js(f"document.querySelector('#detail .report-link[data-report=\"{unseen['report_id']}\"]').click()")
    b.wait("!!document.querySelector('#detail .not-held')", what="the not-in-your-feed note")
    assert b.js("document.querySelector('#detail .not-held').textContent") == f"{unseen['report_id']} — not in your feed"
    assert b.js("document.querySelector('#detail .rid-line').textContent") == linked["report"]["report_id"]
    b.js("document.querySelector('#detail .not-held').scrollIntoView({block: 'center'})")
    b.screenshot(SHOTS / "officer-detail-links-desktop-en.png")
    # the incident of the report opens from the detail
    b.js("document.querySelector('#detail .incident-link').click()")
    b.wait("!document.getElementById('incident-pane').hidden && !!document.getElementById('incident-label')",
           what="the incident")
    assert b.js("document.querySelector('#incident-pane .incident-card').dataset.incident") == "I-LINKS"
    no_exceptions(b)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_table_view_sortable_and_paged(stack: Stack, browser: Browser, seeded: dict[str, Any], axe: str,
                                       lang: str) -> None:
    from tests.pages.conftest import audit

    b = browser
    if lang == "en":  # more than one page of 50 (this module's last test: the other tests count the corpus)
        stack.produce(*[make(f"AM-T{i:02d}", f"I-T{i % 3}", 10 + i, tlp="GREEN") for i in range(15)])
    officer(b, stack, seeded, DESKTOP, lang)
    b.wait(f"document.querySelectorAll('#incidents li.item').length >= {len(seeded['items']) + 15}", what="the backlog")
    b.js("document.getElementById('tab-table').click()")
    b.wait("!!document.getElementById('items-table')", what="the table")
    n = b.js("document.querySelectorAll('#incidents li.item').length")
    assert n > 50
    assert b.js("document.querySelectorAll('#items-table tbody tr').length") == 50
    heads = b.js("[...document.querySelectorAll('#items-table th')].map(h => h.textContent)")
    assert len(heads) == 9 and (heads[0].startswith("Received") if lang == "en" else heads[0].startswith("Получено"))
    assert f"{n}" in b.js("document.getElementById('table-page').textContent")
    # newest received first; the next page holds the rest
    b.js("document.getElementById('table-next').click()")
    assert b.js("document.querySelectorAll('#items-table tbody tr').length") == n - 50
    b.js("document.getElementById('table-previous').click()")
    # sorted by risk: the highest first, aria-sort says so
    b.js("document.querySelector('[data-sort=risk]').click()")
    assert b.js("document.querySelector('#items-table tbody tr').dataset.item") == seeded["by_ref"]["AM-BIG"]["item_id"]
    assert b.js("document.querySelector('[data-sort=risk]').parentElement.getAttribute('aria-sort')") == "descending"
    b.js("document.querySelector('[data-sort=risk]').click()")
    assert b.js("document.querySelector('[data-sort=risk]').parentElement.getAttribute('aria-sort')") == "ascending"
    assert b.js("document.querySelector('#items-table tbody tr').dataset.item") != seeded["by_ref"]["AM-BIG"]["item_id"]
    # the filters apply; a row opens its report
    choose(b, tlp="RED")
    red = len([i for i in seeded["items"] if i["report"]["tlp"] == "RED"])
    assert b.js("document.querySelectorAll('#items-table tbody tr').length") == red
    assert set(b.js("[...document.querySelectorAll('#items-table td.c-tlp')].map(c => c.textContent)")) == {"TLP:RED"}
    b.js("document.querySelector('#items-table tbody tr').click()")
    b.wait("document.getElementById('detail').classList.contains('open')", what="the detail")
    assert overflow(b) == 0
    assert not audit(b, axe, f"officer-table-desktop-{lang}")
    b.screenshot(SHOTS / f"officer-table-desktop-{lang}.png")
    choose(b, tlp="")
    no_exceptions(b)


FORMATS = {"en": ("DD/MM/YYYY", "/"), "ru": ("ДД.ММ.ГГГГ", ".")}


def type_into(b: Browser, element_id: str, text: str) -> None:
    """Focus a field, clear it and type ``text`` with real key presses."""
    b.js(f"const f = document.getElementById('{element_id}'); f.focus(); f.select()")
    for ch in text:
        b.press(ch)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_chart_dates_in_the_interface_language(stack: Stack, browser: Browser, seeded: dict[str, Any],
                                               lang: str) -> None:
    """The charts' from/to dates are written and shown as the page's language writes them (31/12/2026,
    31.12.2026), whatever the browser's locale; the hub gets ISO dates; a date that does not exist is
    refused with a message saying how to write one."""
    b = browser
    officer(b, stack, seeded, DESKTOP, lang)
    hint, sep = FORMATS[lang]
    b.js("window.HUB_ANALYST.showTab('charts')")
    total = "((document.getElementById('chart-total') || {}).textContent || '')"
    b.wait(f"/\\d/.test({total})", what="the chart")
    everything = b.js(total)
    for field in ("chart-from", "chart-to"):
        assert b.js(f"document.getElementById('{field}').type") == "text"  # not the browser's date picker
        assert b.js(f"document.getElementById('{field}').placeholder") == hint
        assert hint in b.js(f"document.getElementById('{field}').closest('label').textContent")

    def written(ms: int) -> str:
        d = time.gmtime(ms / 1000)
        return sep.join((f"{d.tm_mday:02d}", f"{d.tm_mon:02d}", f"{d.tm_year}"))

    day = 86_400_000
    events = [i["report"]["event_time"] for i in seeded["items"]]
    # a range that ends before the first event: nothing; one around every event: everything
    type_into(b, "chart-from", written(min(events) - 30 * day))
    type_into(b, "chart-to", written(min(events) - 2 * day))
    b.press("Enter")  # from the keyboard, in the field
    b.wait(f"{total}.startsWith('{'Total: 0' if lang == 'en' else 'Всего: 0'}') || "
           "!!document.querySelector('#chart p.muted')", what="an empty range")
    assert b.js("document.getElementById('chart-from').value") == written(min(events) - 30 * day)  # kept as typed
    type_into(b, "chart-to", written(max(events) + 2 * day))
    b.js("document.getElementById('chart-show').click()")
    b.wait(f"{total} === {json.dumps(everything)}", what="the whole range")
    b.screenshot(SHOTS / f"officer-chart-dates-desktop-{lang}.png")
    # the language switched: the same dates, written the other way
    other = "ru" if lang == "en" else "en"
    set_lang(b, other)
    b.wait(f"document.getElementById('chart-from').placeholder === {json.dumps(FORMATS[other][0])}",
           what="the other language's format")
    d = time.gmtime((min(events) - 30 * day) / 1000)
    assert b.js("document.getElementById('chart-from').value") == FORMATS[other][1].join(
        (f"{d.tm_mday:02d}", f"{d.tm_mon:02d}", f"{d.tm_year}"))
    set_lang(b, lang)
    b.wait(f"document.getElementById('chart-from').placeholder === {json.dumps(hint)}", what="the format back")
    # 31 February: refused, said how to write a date, the field keeps the focus
    type_into(b, "chart-to", sep.join(("31", "02", "2026")))
    assert b.js("document.getElementById('chart-to').getAttribute('aria-invalid')") == "true"
    b.press("Enter")
    message = b.wait("document.getElementById('chart-date-error').textContent", what="the message")
    assert hint in message and ("No such date" if lang == "en" else "Такой даты нет") in message
    assert b.focused() == "input#chart-to.date-input"
    assert b.js(total) == everything  # nothing was asked of the hub
    b.screenshot(SHOTS / f"officer-chart-dates-error-desktop-{lang}.png")
    no_exceptions(b)


def test_relative_times_are_kept_current(stack: Stack, browser: Browser, seeded: dict[str, Any]) -> None:
    """The list's relative times ("5 hours ago") follow the clock; the refresh skips the ones whose
    text cannot have changed yet and never touches the exact times (their hover titles)."""
    b = browser
    officer(b, stack, seeded, DESKTOP)
    times = "[...document.querySelectorAll('#incidents time[data-rel]')]"
    before = b.js(f"{times}.map(t => t.textContent)")
    titles = b.js(f"{times}.map(t => t.title)")
    assert any("hour" in x for x in before), before[:5]
    # three days on: every relative time says so
    b.js("window.HUB_COMMON.refreshTimes(document.getElementById('app'), 'en', Date.now() + 3 * 86400000)")
    after = b.js(f"{times}.map(t => t.textContent)")
    assert all(x in ("3 days ago", "4 days ago") for x in after), after[:5]
    assert b.js(f"{times}.map(t => t.title)") == titles
    # a moment later: nothing can have changed, nothing is rewritten
    b.js(f"window.__nodes = {times}.map(t => t.firstChild)")
    b.js("window.HUB_COMMON.refreshTimes(document.getElementById('app'), 'en', Date.now() + 3 * 86400000 + 1000)")
    assert b.js(f"{times}.every((t, i) => t.firstChild === window.__nodes[i])")
    no_exceptions(b)
