"""The provider walk in a real headless Chromium on the whole hub (private embedded broker, `hub worker`,
`hub sink`, the gateway): a desk user of a UZ agency files an H2 SEIZURE whose route crosses KZ → the
KZ officer asks consent to share it with TJ → the desk user grants it → TJ's feed gets the SHARED copy
with provenance → the audit trail shows every step → the desk shows delivered and acknowledged times.
Screenshots in test-artifacts/ (English and Russian)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from hub.platform.kafka.embedded import EmbeddedBroker, free_port
from tests.conftest import HUB, hub_env
from tests.feeds.cdp import ARTIFACTS, Browser
from tests.helpers import stop_process
from tests.provider.conftest import PStack, start_stack, wait_for

pytestmark = pytest.mark.slow
WAIT = 180.0  # generous bound for the pipeline steps (a hang guard, not a speed assertion)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PStack]:
    """A private broker (the session's carries other tests' hub.intake records) and the whole hub."""
    tmp = tmp_path_factory.mktemp("provider-walk")
    broker = EmbeddedBroker(log_path=str(tmp / "broker.log")).start()
    stack, sink = start_stack(broker.port, tmp)
    with open(stack.logs / "worker.log", "wb") as out:
        worker = subprocess.Popen([*HUB, "worker", "--port", str(free_port()), "--store", "memory"],
                                  env=hub_env(stack.settings), stdout=out, stderr=subprocess.STDOUT)
    try:
        yield stack
    finally:
        stack.gateway.stop()
        stop_process(worker, 20)
        stop_process(sink, 10)
        stack.db.close()
        broker.stop()


def set_value(b: Browser, ident: str, value: str, event: str = "input") -> None:
    b.js(f"const n = document.getElementById({json.dumps(ident)}); n.value = {json.dumps(value)};"
         f"n.dispatchEvent(new Event({json.dumps(event)}, {{bubbles: true}}))")


def language(b: Browser, lang: str) -> None:
    b.js(f"const l = document.getElementById('lang'); l.value = {json.dumps(lang)}; l.dispatchEvent(new Event('change'))")


def officer_page(b: Browser, s: PStack, token: str) -> None:
    b.goto(s.base + "/")
    # the token kept from the last sign-in signs in by itself: let that finish (it writes the token back
    # into sessionStorage) before forgetting it, or the next page signs in as the previous officer
    b.wait("!document.getElementById('app').hidden || !sessionStorage.getItem('hub.token')",
           what="the kept sign-in finished")
    b.js("sessionStorage.removeItem('hub.token')")
    b.goto(s.base + "/")
    b.js(f"document.getElementById('token').value = {json.dumps(token)};"
         "document.getElementById('signin-button').click()")
    b.wait("document.getElementById('status').dataset.state === 'live'", what="officer feed live")


def open_item(b: Browser, rid: str) -> None:
    sel = f"li.item[data-item^=\"{rid}:\"]"
    # an item that arrives live waits behind the page's "new" bar until the officer shows it
    b.wait(f"if (!document.querySelector('{sel}') && !document.getElementById('new-bar').hidden)"
           f" document.getElementById('new-bar').click(); !!document.querySelector('{sel}')",
           timeout=WAIT, what="the report in the officer's feed")
    b.js(f"document.querySelector('{sel}').click()")
    b.wait("document.getElementById('detail').classList.contains('open') && !!document.getElementById('requests-panel')",
           what="detail with the request panel")


def trail(s: PStack, auditor: str, rid: str) -> list[dict[str, Any]]:
    r = s.get(f"/v1/audit/trail/{rid}", auditor)
    return r.json()["events"] if r.status_code == 200 else []


def test_desk_files_kz_asks_uz_grants_tj_receives_the_shared_copy(hub: PStack, browser: Browser) -> None:
    s, b = hub, browser
    s.agency("UZ-CUSTOMS", "UZ")
    desk = s.desk("aziz", "UZ-CUSTOMS")
    kz, tj = s.officer("kz-walk", "KZ"), s.officer("tj-walk", "TJ")
    auditor = s.officer("walk-auditor", None, auditor=True)

    # 1. the desk user files an H2 SEIZURE whose route crosses KZ
    b.goto(s.base + "/desk")
    b.js(f"document.getElementById('token').value = {json.dumps(desk)};"
         "document.getElementById('signin-button').click()")
    b.wait("!document.getElementById('app').hidden", what="desk signed in")
    for ident, value in {"r-kind": "SEIZURE", "r-source_ref": "UZ-YAL-2026-0117", "r-event_time": "2026-01-05T08:30",
                         "r-tlp": "AMBER", "r-handling_code": "H2", "r-location-country": "UZ",
                         "r-location-place": "Yallama", "r-route": "AF, UZ, KZ, RU", "r-mode": "ROAD",
                         "r-containers": "CSQU 305438-3", "r-plate": "01 A 123 BC",
                         "r-narrative": "Героин в двойном дне фургона с сухофруктами."}.items():
        set_value(b, ident, value)
    b.js("const q = document.querySelector('#substances .substance [data-field=quantity]'); q.value = '42';"
         "q.dispatchEvent(new Event('input', {bubbles: true}))")
    b.js("document.getElementById('send').click()")
    b.wait("document.getElementById('form-status').textContent.startsWith('Received by the hub as R-')",
           what="accepted by the hub")
    rid = b.js("document.getElementById('form-status').textContent.match(/R-[0-9a-f]+/)[0]")
    rows = s.db.query("SELECT report_id FROM ingest_ledger WHERE agency = 'UZ-CUSTOMS'")
    assert [r["report_id"] for r in rows] == [rid]
    b.wait(f"!!document.querySelector('li.report[data-report=\"{rid}\"] tr[data-recipient=\"KZ\"]')",
           timeout=WAIT, what="routed: recipients on the desk")
    b.screenshot(ARTIFACTS / "walk-1-desk-filed-en.png")

    # 2. the KZ officer reads it, acknowledges and asks consent to share it with TJ
    officer_page(b, s, kz)
    open_item(b, rid)
    assert b.js("document.getElementById('handling').textContent").startswith("H2")
    b.js("document.getElementById('ack').click()")
    b.wait("document.getElementById('ack').getAttribute('aria-disabled') === 'true'", what="KZ acknowledged")
    set_value(b, "rq-kind", "CONSENT_ONWARD", "change")
    set_value(b, "rq-to", "TJ")
    set_value(b, "rq-text", "TJ drug control holds the consignee in case 17/2026; may we share it?")
    b.js("document.getElementById('rq-send').click()")
    b.wait("document.getElementById('rq-status').textContent === 'Request sent.'", what="request sent")
    b.wait("document.querySelector('#rq-list li.rq') && document.querySelector('#rq-list li.rq').dataset.status === 'OPEN'",
           what="open request shown")
    b.js("document.getElementById('requests-panel').scrollIntoView({block: 'center'})")
    b.screenshot(ARTIFACTS / "walk-2-kz-asks-en.png")

    # 3. the desk user grants it
    b.goto(s.base + "/desk")
    b.wait("!document.getElementById('app').hidden", what="desk signed in again")
    req = "li.request[data-status=\"OPEN\"]"
    b.wait(f"!!document.querySelector('{req}')", timeout=60, what="the request in the inbox")
    assert "TJ" in b.js(f"document.querySelector('{req} .to-states').textContent")
    language(b, "ru")
    b.screenshot(ARTIFACTS / "walk-3-desk-inbox-ru.png")
    b.js(f"const t = document.querySelector('{req} textarea.answer-text'); t.value = 'Разрешено для дела 17/2026';"
         "t.dispatchEvent(new Event('input'));"
         f"const c = document.querySelector('{req} input.conditions'); c.value = 'только для следствия, не для суда';"
         "c.dispatchEvent(new Event('input'));"
         f"document.querySelector('{req} button[data-decision=GRANT]').click()")
    b.wait("!!document.querySelector('li.request[data-status=\"GRANTED\"]')", what="granted")
    language(b, "en")

    # 4. the requester sees the answer on the item
    officer_page(b, s, kz)
    open_item(b, rid)
    b.wait("!!document.querySelector('#rq-list li.rq[data-status=\"GRANTED\"]')", what="answer on the KZ item")
    assert "только для следствия" in b.js("document.querySelector('#rq-list li.rq .rq-conditions').textContent")
    b.js("document.getElementById('requests-panel').scrollIntoView({block: 'center'})")
    b.screenshot(ARTIFACTS / "walk-4-kz-answer-en.png")
    language(b, "ru")
    b.screenshot(ARTIFACTS / "walk-4-kz-answer-ru.png")
    language(b, "en")

    # 5. TJ's feed gets the SHARED copy with provenance
    officer_page(b, s, tj)
    open_item(b, rid)
    assert b.js("document.querySelector('li.item .badge.delivery').textContent") == "SHARED"
    b.wait("!document.getElementById('provenance').hidden", what="provenance shown")
    prov = b.js("document.getElementById('provenance').textContent")
    assert "officer:kz-walk (KZ)" in prov and "desk:aziz@UZ-CUSTOMS" in prov and "только для следствия" in prov
    assert b.js("document.getElementById('handling').textContent").startswith("H2")
    b.js("document.getElementById('ack').click()")
    b.wait("document.getElementById('ack').getAttribute('aria-disabled') === 'true'", what="TJ acknowledged")
    b.screenshot(ARTIFACTS / "walk-5-tj-shared-en.png")
    language(b, "ru")
    b.screenshot(ARTIFACTS / "walk-5-tj-shared-ru.png")
    language(b, "en")
    tj_item = s.get("/v1/feeds/TJ/items", tj).json()["items"][0]["item"]
    assert tj_item["delivery"] == "SHARED" and tj_item["provenance"]["granted_by"] == "desk:aziz@UZ-CUSTOMS"
    assert tj_item["provenance"]["requested_state"] == "KZ"

    # 6. the audit trail shows every step
    wanted = {"RECEIVED", "VALIDATED", "ROUTED", "DELIVERED", "ACKNOWLEDGED", "CONSENT_REQUESTED",
              "CONSENT_GRANTED", "SHARED"}
    wait_for(lambda: wanted <= {e["stage"] for e in trail(s, auditor, rid)}, WAIT, "every step in the audit trail")
    events = trail(s, auditor, rid)
    acks = {e["state"] for e in events if e["stage"] == "ACKNOWLEDGED"}
    assert acks == {"KZ", "TJ"}
    granted = next(e for e in events if e["stage"] == "CONSENT_GRANTED")
    assert granted["actor"] == "desk:aziz@UZ-CUSTOMS" and granted["recipients"] == ["TJ"]

    # 7. the desk shows delivered and acknowledged times (KZ routed, TJ shared)
    b.goto(s.base + "/desk")
    for st in ("KZ", "TJ"):
        row = f"li.report[data-report=\"{rid}\"] tr[data-recipient=\"{st}\"]"
        b.wait(f"!!document.querySelector('{row} td.acked time') && !!document.querySelector('{row} td.delivered time')",
               timeout=WAIT,
               what=f"{st} delivered and acknowledged on the desk")
    tj_row = f"li.report[data-report=\"{rid}\"] tr[data-recipient=\"TJ\"]"
    assert b.js(f"document.querySelector('{tj_row} td.delivery').textContent") == "shared"
    assert b.js(f"document.querySelector('{tj_row} td.acked-by').textContent") == "officer:tj-walk"
    b.screenshot(ARTIFACTS / "walk-6-desk-times-en.png")
    language(b, "ru")
    b.screenshot(ARTIFACTS / "walk-6-desk-times-ru.png")
    st = s.get(f"/v1/reports/{rid}", desk).json()
    assert {x["stage"] for x in st["versions"][0]["stages"]} >= {"RECEIVED", "ROUTED", "CONSENT_REQUESTED",
                                                               "CONSENT_GRANTED", "SHARED"}
    assert not [c for c in b.console if c.startswith("EXCEPTION")], b.console
