"""axe-core on every page in Chromium: the officer page (every tab, the detail, a phone), the agency desk
and /docs, in English and Russian — no violation of serious or critical impact (each page's violations
are printed, whatever their impact). Screenshots of every state checked go to test-artifacts/pages/."""

from __future__ import annotations

import httpx
import pytest

from tests.feeds.cdp import Browser
from tests.feeds.conftest import Stack
from tests.pages.conftest import DESKTOP, PHONE, SHOTS, audit, no_exceptions, overflow, set_lang, sign_in
from tests.pages.test_desk_ui import desk_token  # noqa: F401  (fixture)
from tests.pages.test_officer_ui import officer, row, seeded  # noqa: F401  (fixture)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_officer_page_every_tab(stack: Stack, browser: Browser, seeded: dict, axe: str, lang: str) -> None:  # noqa: F811
    b = browser
    officer(b, stack, seeded, DESKTOP, lang)
    bad: dict[str, list] = {}

    def check(state: str) -> None:
        name = f"officer-{state}-desktop-{lang}"
        b.screenshot(SHOTS / f"{name}.png")
        assert overflow(b) == 0, name
        found = audit(b, axe, name)
        if found:
            bad[name] = found

    check("feed")
    b.js(f"document.querySelector('{row(seeded['by_ref']['AM-BIG'])}').click()")
    b.wait("document.getElementById('detail').classList.contains('open')", what="detail")
    check("detail")
    b.js("document.getElementById('q').value = 'heroin'; document.getElementById('search-button').click()")
    b.wait("document.querySelectorAll('#search-pane li.item').length > 0", what="search results")
    check("search")
    b.js("document.querySelector('#search-pane .incident-link').click()")
    b.wait("!document.getElementById('incident-pane').hidden && !!document.getElementById('timeline')", what="incident")
    check("incident")
    b.js("document.getElementById('tab-charts').click()")
    b.wait("!!document.querySelector('#chart svg')", what="charts")
    check("charts")
    no_exceptions(b)
    assert not bad, bad


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_officer_page_on_a_phone(stack: Stack, browser: Browser, seeded: dict, axe: str, lang: str) -> None:  # noqa: F811
    b = browser
    officer(b, stack, seeded, PHONE, lang)
    bad = audit(b, axe, f"officer-feed-phone-{lang}")
    b.js(f"document.querySelector('{row(seeded['by_ref']['AM-LIQ'])}').click()")
    b.wait("document.getElementById('detail').classList.contains('open')", what="detail")
    bad += audit(b, axe, f"officer-detail-phone-{lang}")
    b.screenshot(SHOTS / f"officer-detail-liquid-phone-{lang}.png")
    b.js("document.getElementById('close').click()")
    # every tab on the phone too
    b.js("document.getElementById('q').value = 'heroin'; document.getElementById('search-button').click()")
    b.wait("document.querySelectorAll('#search-pane li.item').length > 0", what="search results")
    assert overflow(b) == 0
    bad += audit(b, axe, f"officer-search-phone-{lang}")
    b.screenshot(SHOTS / f"officer-search-phone-{lang}.png")
    b.js("document.querySelector('#search-pane .incident-link').click()")
    b.wait("!document.getElementById('incident-pane').hidden && !!document.getElementById('timeline')", what="incident")
    assert overflow(b) == 0
    bad += audit(b, axe, f"officer-incident-phone-{lang}")
    b.screenshot(SHOTS / f"officer-incident-phone-{lang}.png")
    b.js("document.getElementById('tab-charts').click()")
    b.wait("!!document.querySelector('#chart svg')", what="charts")
    assert overflow(b) == 0
    bad += audit(b, axe, f"officer-charts-phone-{lang}")
    b.screenshot(SHOTS / f"officer-charts-phone-{lang}.png")
    no_exceptions(b)
    assert not bad, bad


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_desk(stack: Stack, browser: Browser, desk_token: str, axe: str, lang: str,  # noqa: F811
              size: tuple[int, int, bool]) -> None:
    b = browser
    b.size(*size)
    sign_in(b, stack.base, "/desk", desk_token)
    set_lang(b, lang)
    b.wait("!!document.querySelector('li.report')", timeout=60, what="the filed report")
    # with the form's errors showing too
    b.js("document.getElementById('r-source_ref').value = ''; document.getElementById('check').click()")
    b.wait("!document.getElementById('form-errors').hidden", what="errors")
    kind = "desktop" if size == DESKTOP else "phone"
    bad = audit(b, axe, f"desk-{kind}-{lang}")
    b.screenshot(SHOTS / f"desk-errors-{kind}-{lang}.png")
    assert not bad, bad


def test_signed_out_pages_and_docs(stack: Stack, browser: Browser, axe: str) -> None:
    b = browser
    b.size(*DESKTOP)
    bad = []
    for path, name in (("/", "officer-signin"), ("/desk", "desk-signin")):
        b.goto(stack.base + path)
        b.js("sessionStorage.clear()")
        b.goto(stack.base + path)
        for lang in ("en", "ru"):
            set_lang(b, lang)
            bad += audit(b, axe, f"{name}-{lang}")
    # /docs: Swagger UI served by the gateway itself, nothing from another origin (after it has settled)
    b.call("Network.enable")
    b.goto(stack.base + "/docs")
    b.wait("document.querySelectorAll('.opblock').length > 10", what="Swagger UI rendered the API")
    b.screenshot(SHOTS / "docs.png")
    bad += audit(b, axe, "docs")
    b.js("document.querySelector('.opblock-summary-control').click()")  # an operation opened too
    b.js("new Promise(ok => setTimeout(ok, 1000))")
    urls = b.js("performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(stack.base) for u in urls), urls
    assert httpx.get(stack.base + "/redoc").status_code == 404  # ReDoc would fetch its logo from a CDN
    assert not bad, bad
