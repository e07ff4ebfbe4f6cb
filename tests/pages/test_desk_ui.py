"""The agency desk in Chromium at 1400×900 and 390×844, English and Russian: a blank substance row is
left out (not an error), a country typed with three letters is kept and named with its two-letter code
(never cut silently), stage badges in pipeline order, no horizontal overflow on a phone."""

from __future__ import annotations

import json

import httpx
import pytest

from hub.directory.agencies import Directory
from hub.directory.desk_users import DeskUsers
from tests.feeds.cdp import Browser
from tests.feeds.conftest import Stack
from tests.pages.conftest import DESKTOP, PHONE, SHOTS, no_exceptions, overflow, set_lang, sign_in

AGENCY = "AM-POLICE"


@pytest.fixture(scope="module")
def desk_token(stack: Stack) -> str:
    d = Directory(stack.db, stack.settings.states)
    d.add(AGENCY, "AM", f"{AGENCY} (test)")
    token = DeskUsers(stack.db, stack.settings.states).add("anahit", AGENCY)
    r = httpx.post(stack.base + "/v1/reports", headers={"Authorization": f"Bearer {token}"}, json={
        "kind": "SEIZURE", "source_ref": "AM-DESK-" + "9" * 60, "event_time": "2026-01-05T08:30:00Z",
        "location": {"country": "AM", "place": "Bagratashen"}, "route": [{"country": "IR"}, {"country": "AM"}],
        "substances": [{"type": "OPIUM", "quantity": 3, "unit": "KG", "concealment": "BAGGAGE"}]})
    assert r.status_code == 202, r.text
    return token


def desk(b: Browser, stack: Stack, token: str, size: tuple[int, int, bool], lang: str = "en") -> None:
    b.size(*size)
    sign_in(b, stack.base, "/desk", token)
    b.wait("document.getElementById('link').dataset.state === 'online'", what="online")
    set_lang(b, lang)
    b.js("document.getElementById('clear').click()")


def fill(b: Browser, values: dict[str, str]) -> None:
    for ident, value in values.items():
        b.js(f"const n = document.getElementById({json.dumps(ident)}); n.value = {json.dumps(value)};"
             "n.dispatchEvent(new Event('input', {bubbles: true}))")


BASICS = {"r-kind": "SEIZURE", "r-source_ref": "AM-UI-1", "r-event_time": "2026-01-05T08:30",
          "r-location-country": "AM", "r-location-place": "Bagratashen"}


def errors(b: Browser) -> list[str]:
    return b.js("[...document.querySelectorAll('#error-list li')].map(li => li.textContent)")


def check(b: Browser) -> None:
    b.js("document.getElementById('form-status').textContent = ''; document.getElementById('check').click()")
    b.wait("!document.getElementById('form-errors').hidden || document.getElementById('form-status').textContent",
           what="the check's answer")


def test_blank_substance_rows_are_left_out(stack: Stack, browser: Browser, desk_token: str) -> None:
    b = browser
    desk(b, stack, desk_token, DESKTOP)
    fill(b, BASICS)
    # the form's first (blank) row and a second row with the seizure's substance
    b.js("document.getElementById('add-substance').click()")
    b.js("const q = document.querySelectorAll('#substances .substance [data-field=quantity]')[1];"
         "q.value = '4.5'; q.dispatchEvent(new Event('input', {bubbles: true}))")
    check(b)
    assert errors(b) == []
    assert b.js("document.getElementById('form-status').className") == "ok"
    assert [s["quantity"] for s in b.js("window.HUB_DESK.collect().substances")] == [4.5]
    # only blank rows: one error, on the first row's quantity only (not every row red)
    b.js("const q = document.querySelectorAll('#substances .substance [data-field=quantity]')[1];"
         "q.value = ''; q.dispatchEvent(new Event('input', {bubbles: true}))")
    check(b)
    assert errors(b) == ["Substances: a seizure needs at least one substance"]
    marked = b.js("[...document.querySelectorAll('.invalid')].map(n => n.dataset.field || n.id)")
    assert marked == ["quantity"]
    assert b.js("document.querySelector('#substances .substance [data-field=quantity]').classList.contains('invalid')")
    no_exceptions(b)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_country_is_never_cut_and_a_three_letter_code_is_named(stack: Stack, browser: Browser, desk_token: str,
                                                               lang: str) -> None:
    b = browser
    desk(b, stack, desk_token, DESKTOP, lang)
    fill(b, BASICS)
    b.js("const q = document.querySelector('#substances .substance [data-field=quantity]');"
         "q.value = '2'; q.dispatchEvent(new Event('input', {bubbles: true}))")
    # typed key by key, as a person would: nothing is cut at two characters
    b.js("const c = document.getElementById('r-location-country'); c.value = ''; c.focus()")
    for ch in "kaz":
        b.press(ch)
    assert b.js("document.getElementById('r-location-country').value") == "kaz"
    check(b)
    assert errors(b) == ({"en": ["Location: Country: “KAZ” is a three-letter code: write the two-letter code KZ"],
                          "ru": ["Место: Страна: «KAZ» — трёхбуквенный код: укажите двухбуквенный KZ"]}[lang])
    b.screenshot(SHOTS / f"desk-country-desktop-{lang}.png")
    no_exceptions(b)


def test_stages_in_pipeline_order(stack: Stack, browser: Browser, desk_token: str) -> None:
    b = browser
    desk(b, stack, desk_token, DESKTOP)
    stored = [{"stage": "ROUTED", "at": "2026-01-05T08:30:02Z"}, {"stage": "CONSENT_REQUESTED", "at": "2026-01-05T08:29:00Z"},
              {"stage": "RECEIVED", "at": "2026-01-05T08:30:00Z"}, {"stage": "VALIDATED", "at": "2026-01-05T08:30:01Z"}]
    order = b.js(f"window.HUB_DESK.inPipelineOrder({json.dumps(stored)}).map(s => s.stage)")
    assert order == ["RECEIVED", "VALIDATED", "ROUTED", "CONSENT_REQUESTED"]
    b.wait("!!document.querySelector('li.report ul.stages li')", timeout=60, what="the filed report's stages")
    shown = b.js("[...document.querySelectorAll('li.report ul.stages li')].map(li => li.dataset.stage)")
    ranks = ["RECEIVED", "VALIDATED", "REJECTED", "DUPLICATE", "ROUTED"]
    assert [ranks.index(s) for s in shown if s in ranks] == sorted(ranks.index(s) for s in shown if s in ranks)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_desk_fits_a_phone(stack: Stack, browser: Browser, desk_token: str, lang: str) -> None:
    b = browser
    desk(b, stack, desk_token, PHONE, lang)
    b.wait("!!document.querySelector('li.report')", timeout=60, what="the filed report")
    assert overflow(b) == 0
    b.screenshot(SHOTS / f"desk-phone-{lang}.png")
    b.js("document.getElementById('reports-pane').scrollIntoView()")
    b.screenshot(SHOTS / f"desk-reports-phone-{lang}.png")
    b.size(*DESKTOP)
    assert overflow(b) == 0
    b.js("window.scrollTo(0, 0)")
    b.screenshot(SHOTS / f"desk-desktop-{lang}.png")
    no_exceptions(b)


TIME = {"en": ("DD/MM/YYYY HH:MM", "05/01/2026 08:30", "31/12/2026 14:05"),
        "ru": ("ДД.ММ.ГГГГ ЧЧ:ММ", "05.01.2026 08:30", "31.12.2026 14:05")}


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_event_time_typed_in_the_interface_language(stack: Stack, browser: Browser, desk_token: str, lang: str) -> None:
    """The "when" field is text in the page's own format (a datetime-local input would show the
    browser's locale), says its format, is sent as ISO UTC, follows a language switch, and a time it
    cannot read is an error naming the field and the format."""
    b = browser
    desk(b, stack, desk_token, DESKTOP, lang)
    hint, typed, example = TIME[lang]
    other = "ru" if lang == "en" else "en"
    assert b.js("document.getElementById('r-event_time').type") == "text"
    assert b.js("document.getElementById('r-event_time').placeholder") == hint
    assert b.js("document.getElementById('r-event_time-format').textContent") == hint
    # the format hint is part of the field's label, so a screen reader reads it with the field
    assert hint in b.js("document.getElementById('r-event_time').labels[0].textContent")
    fill(b, {**BASICS, "r-event_time": typed})
    b.js("const q = document.querySelector('#substances .substance [data-field=quantity]');"
         "q.value = '2'; q.dispatchEvent(new Event('input', {bubbles: true}))")
    assert b.js("window.HUB_DESK.collect().event_time") == "2026-01-05T08:30:00Z"
    check(b)
    assert errors(b) == []
    assert b.js("document.getElementById('form-status').className") == "ok"  # the hub's own check took it
    # the other language: the same time, re-written in that language's format
    set_lang(b, other)
    assert b.js("document.getElementById('r-event_time').value") == TIME[other][1]
    assert b.js("document.getElementById('r-event_time').placeholder") == TIME[other][0]
    assert b.js("window.HUB_DESK.collect().event_time") == "2026-01-05T08:30:00Z"
    set_lang(b, lang)
    assert b.js("document.getElementById('r-event_time').value") == typed
    # one-digit day, month and hour, and ISO (year first) are read too; no time, no such day, hour 24 are not
    read = b.js("['5{s}1{s}2026 8:30', '2026-01-05T08:30', '2026-01-05 08:30:15Z', '05{s}01{s}2026', '31{s}02{s}2026 08:30',"
                " '05{s}01{s}2026 24:00', '05{s}01{s}26 08:30', '']"
                f".map(x => HUB_COMMON.parseDateTime(x.replaceAll('{{s}}', {json.dumps('/' if lang == 'en' else '.')}),"
                f" {json.dumps(lang)}))")
    assert read == ["2026-01-05T08:30:00Z", "2026-01-05T08:30:00Z", "2026-01-05T08:30:15Z", None, None, None, None, ""]
    # a time it cannot read: one error, naming the field and the format, on the field itself
    fill(b, {"r-event_time": example.replace("31", "32", 1)})
    check(b)
    assert errors(b) == [{"en": f"When: cannot be read: write it as {hint}, e.g. {example}",
                          "ru": f"Когда: не удаётся прочитать: пишите так: {hint}, например {example}"}[lang]]
    assert b.js("document.getElementById('r-event_time').getAttribute('aria-invalid')") == "true"
    b.screenshot(SHOTS / f"desk-time-error-desktop-{lang}.png")
    # a draft keeps the time as ISO: it comes back in the language of the page that opens it
    fill(b, {"r-event_time": typed})
    set_lang(b, other)
    b.goto(stack.base + "/desk")  # signed in again from the session: the draft is restored
    b.wait("!document.getElementById('app').hidden", what="signed in")
    assert b.js("document.getElementById('r-event_time').value") == TIME[other][1]
    set_lang(b, lang)
    no_exceptions(b)
