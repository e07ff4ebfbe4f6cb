"""The agency desk page in a real headless Chromium (gateway under uvicorn, `hub sink`, embedded broker):
sign in as a desk user, see §3's field errors in plain words before sending (in the browser and from the
hub's dry run), Russian and English; file a report; keep it in the browser while the gateway is down
and send it exactly once when it is back; follow status and receipts; answer a request."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import feed_item
from tests.feeds.cdp import ARTIFACTS, Browser
from tests.provider.conftest import PStack, receipt, stage, wait_for

EVIL = 'Груз <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture(scope="module")
def desk(pstack: PStack) -> dict[str, str]:
    pstack.agency("UZ-BORDER", "UZ")
    return {"token": pstack.desk("dilnoza", "UZ-BORDER"), "kz": pstack.officer("kz-page", "KZ")}


def sign_in(b: Browser, s: PStack, token: str) -> None:
    b.goto(s.base + "/desk")
    b.js(f"document.getElementById('token').value = {json.dumps(token)};"
         "document.getElementById('signin-button').click()")
    b.wait("!document.getElementById('app').hidden", what="signed in")
    b.wait("document.getElementById('link').dataset.state === 'online'", what="online")


def fill(b: Browser, values: dict[str, str]) -> None:
    for ident, value in values.items():
        b.js(f"const n = document.getElementById({json.dumps(ident)}); n.value = {json.dumps(value)};"
             "n.dispatchEvent(new Event('input', {bubbles: true}))")


def fill_substance(b: Browser, quantity: str) -> None:
    b.js("const q = document.querySelector('#substances .substance [data-field=quantity]');"
         f"q.value = {json.dumps(quantity)}; q.dispatchEvent(new Event('input', {{bubbles: true}}))")


def errors(b: Browser) -> list[str]:
    return b.js("[...document.querySelectorAll('#error-list li')].map(li => li.textContent)")


def report_fields(ref: str, **over: str) -> dict[str, str]:
    f = {"r-kind": "SEIZURE", "r-source_ref": ref, "r-event_time": "2026-01-05T08:30",
         "r-location-country": "UZ", "r-location-place": "Yallama", "r-route": "UZ, KZ, RU", "r-mode": "ROAD",
         "r-containers": "CSQU 305438-3", "r-plate": "01 A 123 BC", "r-handling_code": "H2",
         "r-narrative": EVIL}
    f.update(over)
    return f


def ledger(s: PStack, ref: str) -> list[dict[str, Any]]:
    return s.db.query("SELECT version, report_id FROM ingest_ledger WHERE agency = 'UZ-BORDER' AND source_ref = ?",
                      (ref,))


def test_field_errors_in_plain_words_before_sending_in_english_and_russian(pstack: PStack, desk: dict[str, str],
                                                                          browser: Browser) -> None:
    b, s = browser, pstack
    sign_in(b, s, desk["token"])
    assert "dilnoza" in b.js("document.getElementById('who').textContent")
    # checked in the browser: a wrong ISO 6346 check digit and a seizure without a substance
    fill(b, report_fields("UZ-ERR-1", **{"r-containers": "CSQU 305438-4"}))
    b.js("document.getElementById('check').click()")
    b.wait("!document.getElementById('form-errors').hidden", what="client errors")
    assert set(errors(b)) == {"Container number 1: check digit should be 3 (“CSQU 305438-4”)",
                              "Substances: a seizure needs at least one substance"}
    assert b.js("document.getElementById('r-containers').classList.contains('invalid')") is True
    # the hub's own answer (dry run) names what only the hub knows: XX is not a configured state
    fill(b, {"r-containers": "CSQU 305438-3", "r-addressees": "XX"})
    fill_substance(b, "12.5")
    b.js("document.getElementById('check').click()")
    b.wait("[...document.querySelectorAll('#error-list li')].some(li => li.textContent.includes('XX'))",
           what="server errors")
    assert errors(b) == ["Addressees 1: 'XX' is not a member, partner or CARICC"]
    b.screenshot(ARTIFACTS / "desk-errors-en.png")
    b.js("const l = document.getElementById('lang'); l.value = 'ru'; l.dispatchEvent(new Event('change'))")
    assert b.js("document.querySelector('h1').textContent") == "Рабочее место ведомства"
    assert errors(b) == ["Адресаты 1: 'XX' is not a member, partner or CARICC"]
    fill(b, {"r-containers": "CSQU3054384"})
    b.js("document.getElementById('check').click()")
    b.wait("[...document.querySelectorAll('#error-list li')].some(li => li.textContent.includes('контрольная'))",
           what="Russian client error")
    assert errors(b) == ["Номер контейнера 1: контрольная цифра должна быть 3 («CSQU3054384»)"]
    b.screenshot(ARTIFACTS / "desk-errors-ru.png")
    assert ledger(s, "UZ-ERR-1") == []  # nothing was sent
    b.js("const l = document.getElementById('lang'); l.value = 'en'; l.dispatchEvent(new Event('change'))")
    assert not [c for c in b.console if c.startswith("EXCEPTION")], b.console


def test_offline_draft_is_sent_once_when_the_gateway_returns(pstack: PStack, desk: dict[str, str],
                                                             browser: Browser) -> None:
    b, s = browser, pstack
    sign_in(b, s, desk["token"])
    s.gateway.stop()
    try:
        fill(b, report_fields("UZ-OFFLINE-1"))
        fill_substance(b, "8")
        b.js("document.getElementById('send').click()")
        b.wait("document.querySelectorAll('#outbox li').length === 1", what="kept in the outbox")
        b.wait("document.getElementById('link').dataset.state === 'offline'", what="offline shown")
        assert b.js("document.getElementById('form-status').textContent") == (
            "Saved in this browser; it will be sent as soon as the hub can be reached.")
        stored = b.js("JSON.parse(localStorage.getItem('hub.desk.outbox.UZ-BORDER'))")
        assert [e["key"] for e in stored] == ["UZ-OFFLINE-1|1"]
        b.screenshot(ARTIFACTS / "desk-offline.png")
        b.js("window.__queued = JSON.parse(localStorage.getItem('hub.desk.outbox.UZ-BORDER'))[0].body")
        assert ledger(s, "UZ-OFFLINE-1") == []
    finally:
        s.gateway.start()
    b.wait("document.querySelectorAll('#outbox li').length === 0", timeout=60, what="sent after the gateway returned")
    rows = ledger(s, "UZ-OFFLINE-1")
    assert len(rows) == 1
    rid = rows[0]["report_id"]
    assert rid in b.js("document.getElementById('form-status').textContent")
    # the answer of a send can be lost on a poor link: the page sends it again — still one report
    b.js("window.HUB_DESK.enqueue(window.__queued); window.HUB_DESK.flush()")
    b.wait("document.getElementById('form-status').textContent.includes('already had')", what="duplicate answered")
    assert len(ledger(s, "UZ-OFFLINE-1")) == 1
    wait_for(lambda: [e for e in s.audit_events("RECEIVED") if e["report_id"] == rid], what="RECEIVED stored")
    assert len([e for e in s.audit_events("RECEIVED") if e["report_id"] == rid]) == 1
    # and the report shows up in the desk's list with its status
    b.wait(f"!!document.querySelector('li.report[data-report=\"{rid}\"]')", timeout=60, what="listed")
    assert not [c for c in b.console if c.startswith("EXCEPTION")], b.console


def test_status_receipts_and_the_request_inbox(pstack: PStack, desk: dict[str, str], browser: Browser) -> None:
    b, s = browser, pstack
    r = httpx.post(s.base + "/v1/reports", headers={"Authorization": f"Bearer {desk['token']}"}, json={
        "kind": "SEIZURE", "source_ref": "UZ-INBOX-1", "event_time": "2026-01-05T08:30:00Z",
        "location": {"country": "UZ"}, "route": [{"country": "UZ"}, {"country": "KZ"}], "handling_code": "H1",
        "substances": [{"type": "OPIUM", "quantity": 3, "unit": "KG", "concealment": "BAGGAGE"}],
        "narrative": EVIL})
    assert r.status_code == 202, r.text
    rid = r.json()["report_id"]
    from hub.platform.clock import now_ms

    T0 = now_ms()
    rep_row = wait_for(lambda: s.db.one("SELECT 1 AS x FROM provider_reports WHERE report_id = ?", (rid,)),
                       what="RECEIVED projected")
    assert rep_row
    # the pipeline's part, simulated: routed to KZ and CARICC, a receipt, the KZ feed item
    from tests.provider.conftest import uz_report

    rep = uz_report("UZ-INBOX-1", agency="UZ-BORDER", report_id=rid, narrative=EVIL)
    s.send(stage("ROUTED", rep, T0 + 20, actor="pipeline.process", recipients=["CARICC", "KZ"]),
           receipt(rep, [("CARICC", "NEW"), ("KZ", "NEW")], at=T0 + 20),
           feed_item(item_id=f"{rid}:1:KZ", recipient="KZ", delivery="NEW", incident_id="I-x", report=rep,
                     routing={"recipients": ["CARICC", "KZ"], "reason": "on the route (AMBER)", "redacted": False}))
    kz = desk["kz"]
    wait_for(lambda: s.get("/v1/feeds/KZ/items", kz).json()["items"], what="KZ item (and DELIVERED)")
    assert s.post("/v1/feeds/KZ/ack", {"report_id": rid}, kz).status_code == 200
    q = s.post("/v1/feeds/KZ/requests", {"report_id": rid, "kind": "CONSENT_COURT_USE",
                                         "text": "The prosecutor needs it <b>in court</b>."}, kz).json()

    sign_in(b, s, desk["token"])
    row = f"li.report[data-report=\"{rid}\"] tr[data-recipient=\"KZ\"]"
    b.wait(f"!!document.querySelector('{row} td.acked time')", timeout=60, what="acknowledged time shown")
    assert b.js(f"document.querySelector('{row} td.acked time').dateTime").startswith("20")
    assert b.js(f"document.querySelector('{row} td.delivered time').dateTime").startswith("20")
    assert b.js(f"document.querySelector('{row} td.delivered').textContent").endswith(" UTC")  # localised, exact
    assert b.js(f"document.querySelector('{row} td.acked-by').textContent") == "officer:kz-page"
    req = f"li.request[data-request=\"{q['request_id']}\"]"
    b.wait(f"!!document.querySelector('{req}')", what="request in the inbox")
    assert b.js(f"document.querySelector('{req} .request-text').textContent") == "The prosecutor needs it <b>in court</b>."
    assert b.js("document.querySelectorAll('#requests b, #reports img, #reports script').length") == 0
    b.screenshot(ARTIFACTS / "desk-inbox-en.png")
    b.js(f"const t = document.querySelector('{req} textarea.answer-text'); t.value = 'Granted for case 17/2026';"
         "t.dispatchEvent(new Event('input'));"
         f"document.querySelector('{req} button[data-decision=GRANT]').click()")
    b.wait(f"document.querySelector('{req}').dataset.status === 'GRANTED'", what="answered")
    answered = s.get(f"/v1/feeds/KZ/requests?report_id={rid}", kz).json()["requests"][0]
    assert answered["answer"]["by"] == "desk:dilnoza@UZ-BORDER" and answered["answer"]["text"] == "Granted for case 17/2026"
    b.js("const l = document.getElementById('lang'); l.value = 'ru'; l.dispatchEvent(new Event('change'))")
    assert b.js(f"document.querySelector('{req} .badge.rstatus').textContent") == "разрешено"
    b.screenshot(ARTIFACTS / "desk-inbox-ru.png")
    assert b.js("window.__pwned === undefined") is True
    assert not [c for c in b.console if c.startswith("EXCEPTION")], b.console


def test_desk_page_serves_with_strict_csp(pstack: PStack) -> None:
    r = httpx.get(pstack.base + "/desk")
    assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
    for name in ("desk.js", "desk-i18n.js", "desk-rules.js", "desk.css", "officer-requests.js", "officer-requests.css"):
        assert httpx.get(f"{pstack.base}/desk/static/{name}").status_code == 200
    assert httpx.get(pstack.base + "/desk/static/../provider.py").status_code == 404
    static = Path(__file__).resolve().parents[2] / "hub" / "pages" / "static"
    for name in ("desk.js", "desk-rules.js", "officer-requests.js"):
        code = (static / name).read_text()
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", code), name
