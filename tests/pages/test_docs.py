"""/docs in Chromium, in English and Russian: the page's bar (language switch, links to the other
pages), Swagger UI's own labels in the page's language as it renders them (an operation opened, "Try
it out" pressed), the API's own descriptions left English and marked so, the language kept across a
reload and switched back, and axe-core clean in both languages."""

from __future__ import annotations

import re

from tests.feeds.cdp import Browser
from tests.feeds.conftest import Stack
from tests.pages.conftest import DESKTOP, SHOTS, audit, no_exceptions, set_lang

LABELS = {"en": {"try": "Try it out", "cancel": "Cancel", "execute": "Execute", "authorize": "Authorize",
                 "parameters": "Parameters", "responses": "Responses", "officer": "Officer page"},
          "ru": {"try": "Попробовать", "cancel": "Отмена", "execute": "Выполнить", "authorize": "Авторизоваться",
                 "parameters": "Параметры", "responses": "Ответы", "officer": "Страница офицера"}}
SHOWN = """(() => {
  const text = (sel) => { const n = document.querySelector(sel); return n ? n.textContent.trim() : null; };
  return {lang: document.documentElement.lang, title: document.title, officer: text('.docs-bar a'),
    note: !document.getElementById('docs-note').hidden, authorize: text('.btn.authorize span'),
    try: text('.opblock.is-open .try-out__btn'), execute: text('.opblock.is-open .execute'),
    parameters: text('.opblock.is-open .opblock-section-header h4'), responses: text('.opblock.is-open .responses-wrapper h4')};
})()"""


def open_operation(b: Browser) -> None:
    b.wait("document.querySelectorAll('.opblock').length > 10", what="Swagger UI rendered the API")
    b.js("document.querySelector('.opblock .opblock-summary-control').click()")
    b.wait("!!document.querySelector('.opblock.is-open .try-out__btn')", what="an operation opened")


def test_docs_in_english_and_russian(stack: Stack, browser: Browser, axe: str) -> None:
    b = browser
    b.size(*DESKTOP)
    b.goto(stack.base + "/docs")
    b.js("localStorage.setItem('hub.lang', 'en')")
    b.goto(stack.base + "/docs")
    open_operation(b)
    en = b.js(SHOWN)
    assert en["lang"] == "en" and not en["note"] and en["title"] == "CARICC intelligence-sharing hub — API"
    assert {k: en[k] for k in ("try", "authorize", "parameters", "responses", "officer")} == {
        k: LABELS["en"][k] for k in ("try", "authorize", "parameters", "responses", "officer")}
    set_lang(b, "ru")
    b.js("new Promise(ok => requestAnimationFrame(() => ok(1)))")
    ru = b.js(SHOWN)
    assert ru["lang"] == "ru" and ru["note"] and ru["title"] == "Хаб обмена сведениями CARICC — API"
    assert {k: ru[k] for k in ("try", "authorize", "parameters", "responses", "officer")} == {
        k: LABELS["ru"][k] for k in ("try", "authorize", "parameters", "responses", "officer")}
    # what Swagger UI renders after the switch is in Russian too: "Try it out" pressed
    b.js("document.querySelector('.opblock.is-open .try-out__btn').click()")
    b.wait("!!document.querySelector('.opblock.is-open .execute')", what="the Execute button")
    b.js("new Promise(ok => requestAnimationFrame(() => ok(1)))")
    pressed = b.js(SHOWN)
    assert (pressed["execute"], pressed["try"]) == (LABELS["ru"]["execute"], LABELS["ru"]["cancel"])
    # the API's own words (its OpenAPI document) stay English and say so to a screen reader
    marked = b.js("[...document.querySelectorAll('.opblock-summary-path, .opblock-tag')].map(n => n.closest('[lang]').lang)")
    assert marked and set(marked) == {"en"}
    b.screenshot(SHOTS / "docs-ru.png")
    bad = audit(b, axe, "docs-ru")
    # the language is kept: a reload is Russian from the start
    b.goto(stack.base + "/docs")
    open_operation(b)
    b.js("new Promise(ok => requestAnimationFrame(() => ok(1)))")
    again = b.js(SHOWN)
    assert (again["lang"], again["try"], again["authorize"]) == ("ru", LABELS["ru"]["try"], LABELS["ru"]["authorize"])
    # and back to English: no Russian left but the language's own name in the switch
    set_lang(b, "en")
    back = b.js(SHOWN)
    assert (back["lang"], back["try"], back["authorize"], back["note"]) == ("en", "Try it out", "Authorize", False)
    body = b.js("document.body.innerText")
    assert re.findall(r"[А-Яа-яЁё]+", body) == ["Русский"], body[:2000]
    bad += audit(b, axe, "docs-en")
    no_exceptions(b)
    assert not bad, bad
