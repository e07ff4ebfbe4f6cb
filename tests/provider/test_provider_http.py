"""The provider endpoints over real HTTP (gateway under uvicorn, `hub sink` with the provider
projection, embedded broker): status, receipts and their SSE twin, requests and answers, the
ShareCommand of a grant — and who may do what: the reporting agency (key or desk user), another
agency, another state's officer, an auditor, no token, for every endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub.domain.codec import SHARE_COMMAND, codec
from hub.domain.wire import header
from hub.platform.kafka.io import consumer
from hub.platform.kafka.topics import INTAKE
from hub.provider import requests as rq
from tests.factories import feed_item, json_report
from tests.helpers import read_sse as read_sse_at
from tests.provider.conftest import T0, PStack, receipt, stage, uz_report, wait_for

ROUTING = {"recipients": ["CARICC", "KZ", "RU"], "reason": "on the route or at the location (AMBER)",
           "redacted": False}


@dataclass
class World:
    s: PStack
    uz: str  # UZ-CUSTOMS key
    kz_agency: str  # KZ-CUSTOMS key
    desk: str  # desk user aziz of UZ-CUSTOMS
    kz: str  # officer of KZ
    ru: str  # officer of RU
    tj: str  # officer of TJ
    auditor: str
    rep: dict[str, Any]
    other: dict[str, Any]  # a report of KZ-CUSTOMS

    @property
    def rid(self) -> str:
        return self.rep["report_id"]


def items_for(rep: dict[str, Any], states: list[str], routing: dict[str, Any]) -> list[dict[str, Any]]:
    return [feed_item(item_id=f"{rep['report_id']}:{rep['version']}:{st}", recipient=st, delivery="NEW",
                      incident_id="I-uz-1", report=rep, routing=routing) for st in states]


@pytest.fixture(scope="module")
def w(pstack: PStack) -> World:
    s = pstack
    uz, kz_agency = s.agency("UZ-CUSTOMS", "UZ"), s.agency("KZ-CUSTOMS", "KZ")
    desk = s.desk("aziz", "UZ-CUSTOMS")
    kz, ru, tj = s.officer("kz-desk", "KZ"), s.officer("ru-desk", "RU"), s.officer("tj-desk", "TJ")
    auditor = s.officer("oversight", None, auditor=True)
    rep = uz_report("UZ-HTTP-1")
    from tests.factories import report

    other = report(source_ref="KZ-HTTP-1")
    s.send(stage("RECEIVED", rep, T0, actor="agency:UZ-CUSTOMS", detail={"source_ref": rep["source_ref"]}),
           stage("VALIDATED", rep, T0 + 10, actor="pipeline.validate"),
           stage("ROUTED", rep, T0 + 20, actor="pipeline.process", recipients=ROUTING["recipients"]),
           receipt(rep, [("CARICC", "NEW"), ("KZ", "NEW"), ("RU", "NEW")], at=T0 + 20),
           *items_for(rep, ["CARICC", "KZ", "RU"], ROUTING),
           stage("RECEIVED", other, T0, actor="agency:KZ-CUSTOMS", detail={"source_ref": other["source_ref"]}),
           receipt(other, [("UZ", "NEW")], at=T0 + 20))
    wait_for(lambda: s.get(f"/v1/reports/{rep['report_id']}", uz).status_code == 200, what="status projected")
    wait_for(lambda: s.get(f"/v1/reports/{other['report_id']}", kz_agency).status_code == 200, what="other")
    wait_for(lambda: len(s.db.query("SELECT 1 AS x FROM feed_items WHERE report_id = ?", (rep["report_id"],))) == 3,
             what="feed items stored")
    return World(s, uz, kz_agency, desk, kz, ru, tj, auditor, rep, other)


def fresh_denial_window(w: World) -> None:
    """Wait for a fresh denial window (aligned to the clock): an earlier test's denial of the same source
    in the same window would take the next one into its aggregate, under the earlier reason."""
    window = w.s.settings.denial_window_seconds
    time.sleep(window - time.time() % window + 0.05)


def denied(w: World, reason_part: str) -> list[dict[str, Any]]:
    return [e for e in w.s.audit_events("ACCESS_DENIED") if reason_part in (e.get("reason") or "")]


# -- status -----------------------------------------------------------------------------------------
def test_status_for_its_agency_its_desk_users_and_auditors(w: World) -> None:
    # the receipt and the three stages come from two topics (hub.receipts, hub.audit): wait for both
    wait_for(lambda: len(w.s.get(f"/v1/reports/{w.rid}", w.uz).json()["versions"][0]["stages"]) == 3,
             what="the three stages projected")
    for token in (w.uz, w.desk, w.auditor):
        r = w.s.get(f"/v1/reports/{w.rid}", token)
        assert r.status_code == 200, r.text
        st = r.json()
        assert st["agency"] == "UZ-CUSTOMS" and st["source_ref"] == "UZ-HTTP-1"
        v1 = st["versions"][0]
        assert [x["stage"] for x in v1["stages"]] == ["RECEIVED", "VALIDATED", "ROUTED"]
        assert {x["recipient"]: x["delivery"] for x in v1["recipients"]} == {"CARICC": "NEW", "KZ": "NEW", "RU": "NEW"}


def test_status_of_another_agencys_report_is_answered_like_an_unknown_id(w: World) -> None:
    fresh_denial_window(w)
    theirs = w.s.get(f"/v1/reports/{w.other['report_id']}", w.uz)
    unknown = w.s.get("/v1/reports/R-000000000000000000000000", w.uz)
    assert theirs.status_code == unknown.status_code == 404
    msg = "report_id: no report of UZ-CUSTOMS has this id (or the hub has not seen it yet)"
    assert theirs.json() == unknown.json() == {"error": msg, "detail": msg}
    # both audited: the first at once with its reason, the second in the window's aggregate (same source)
    wait_for(lambda: denied(w, f"status of {w.other['report_id']}: a report of KZ-CUSTOMS"), what="audited")
    # (or at once, with its own reason, when the 1 s test window closed between the two)
    wait_for(lambda: denied(w, "status of R-000000000000000000000000: no such report") or [
        e for e in w.s.audit_events("ACCESS_DENIED") if e["detail"].get("aggregated") == "true"
        and "/v1/reports/R-000000000000000000000000" in e["detail"]["paths"]], what="second denial audited")


@pytest.mark.parametrize("who", ["kz", "none", "bad"])
def test_status_refuses_officers_and_anonymous(w: World, who: str) -> None:
    token = {"kz": w.kz, "none": None, "bad": "hka_not-a-key"}[who]
    r = w.s.get(f"/v1/reports/{w.rid}", token)
    assert r.status_code == (403 if who == "kz" else 401)
    assert w.rid not in r.text


def test_lookup_by_source_ref_is_within_the_callers_agency(w: World) -> None:
    r = w.s.get("/v1/agency/reports", w.uz, source_ref="UZ-HTTP-1")
    assert r.status_code == 200 and r.json()["reports"][0]["report_id"] == w.rid
    assert w.s.get("/v1/agency/reports", w.uz, source_ref="UZ-HTTP-1", version=1).json()["reports"][0][
        "versions"][0]["version"] == 1
    r2 = w.s.get("/v1/agency/reports", w.uz, source_ref="UZ-HTTP-1", version=2)
    assert r2.status_code == 404 and r2.json()["detail"].startswith("version:")
    r3 = w.s.get("/v1/agency/reports", w.kz_agency, source_ref="UZ-HTTP-1")  # KZ's own UZ-HTTP-1: none
    assert r3.status_code == 404 and r3.json()["detail"].startswith("source_ref: no report of KZ-CUSTOMS")
    listed = w.s.get("/v1/agency/reports", w.uz).json()["reports"]
    assert w.rid in {x["report_id"] for x in listed} and w.other["report_id"] not in {x["report_id"] for x in listed}
    assert w.s.get("/v1/agency/reports", w.auditor, agency="UZ-CUSTOMS").status_code == 200
    assert w.s.get("/v1/agency/reports", w.auditor).status_code == 422
    assert w.s.get("/v1/agency/reports", w.uz, agency="KZ-CUSTOMS").status_code == 403
    assert w.s.get("/v1/agency/reports", w.kz).status_code == 403
    assert w.s.get("/v1/agency/reports").status_code == 401


# -- receipts and events ------------------------------------------------------------------------------
def all_receipts(w: World, token: str, **params: Any) -> list[dict[str, Any]]:
    """Every receipt change the caller may read, paged by cursor to the end (the session broker holds
    other modules' reports of the same agencies: more than one page of them)."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = w.s.get("/v1/agency/receipts", token, after=after, limit=1000, **params).json()
        if not page["changes"]:
            return out
        out += page["changes"]
        after = page["next_after"]


def test_receipts_pages_are_the_agencys_own(w: World) -> None:
    page = w.s.get("/v1/agency/receipts", w.uz, after=0, limit=2).json()
    assert page["agency"] == "UZ-CUSTOMS" and [c["cursor"] for c in page["changes"]] == [1, 2]
    rest = w.s.get("/v1/agency/receipts", w.desk, after=page["next_after"]).json()
    assert rest["changes"] and rest["changes"][0]["cursor"] == 3
    # (other modules' UZ-CUSTOMS reports on the session broker may be in it too: only the owner matters)
    owners = {w.s.db.one("SELECT agency FROM provider_reports WHERE report_id = ?", (c["report_id"],))["agency"]
              for c in page["changes"] + rest["changes"]}
    assert owners == {"UZ-CUSTOMS"}
    assert w.rid in {c["report_id"] for c in all_receipts(w, w.uz)}
    kz = all_receipts(w, w.kz_agency)
    kz_ids = {c["report_id"] for c in kz}
    assert w.other["report_id"] in kz_ids and w.rid not in kz_ids
    assert {w.s.db.one("SELECT agency FROM provider_reports WHERE report_id = ?", (r,))["agency"]
            for r in kz_ids} == {"KZ-CUSTOMS"}
    assert all_receipts(w, w.auditor, agency="KZ-CUSTOMS") == kz
    assert w.s.get("/v1/agency/receipts", w.uz, after="x").status_code == 422
    assert w.s.get("/v1/agency/receipts", w.ru).status_code == 403
    assert w.s.get("/v1/agency/receipts").status_code == 401


def read_sse(w: World, path: str, token: str, want: int, last_event_id: str | None = None) -> list[dict[str, Any]]:
    h = {"Authorization": f"Bearer {token}"} | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    return read_sse_at(w.s.base + path, h, want)[0]


def test_agency_events_resume_after_the_last_event_id(w: World) -> None:
    first = read_sse(w, "/v1/agency/events", w.uz, 2)
    assert [e["id"] for e in first] == ["1", "2"] and first[0]["event"] == "change"
    resumed = read_sse(w, "/v1/agency/events", w.desk, 1, last_event_id="2")
    assert resumed[0]["id"] == "3" and resumed[0]["data"]["cursor"] == 3


@pytest.mark.parametrize("who", ["officer", "auditor-without-agency", "none"])
def test_agency_events_refused(w: World, who: str) -> None:
    token = {"officer": w.kz, "auditor-without-agency": w.auditor, "none": None}[who]
    r = w.s.get("/v1/agency/events", token)
    assert r.status_code == {"officer": 403, "auditor-without-agency": 422, "none": 401}[who]


def test_me_names_the_desk_user(w: World) -> None:
    assert w.s.get("/v1/agency/me", w.desk).json() == {"agency": "UZ-CUSTOMS", "state": "UZ",
                                                       "name": "UZ-CUSTOMS (test)", "user": "aziz",
                                                       "label": "desk:aziz@UZ-CUSTOMS"}
    assert w.s.get("/v1/agency/me", w.uz).json()["user"] is None
    assert w.s.get("/v1/agency/me", w.kz).status_code == 403
    assert w.s.get("/v1/agency/me", w.auditor).status_code == 403
    assert w.s.get("/v1/agency/me").status_code == 401


# -- the dry run -----------------------------------------------------------------------------------------
def test_check_answers_like_ingest_without_accepting(w: World) -> None:
    good = json_report(source_ref="UZ-CHECK-1")
    r = w.s.post("/v1/reports/check", good, w.desk)
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["duplicate"] is False
    bad = json_report(source_ref="UZ-CHECK-2", conveyance={"mode": "SEA", "container_numbers": ["CSQU3054384"]},
                      substances=[])
    r = w.s.post("/v1/reports/check", bad, w.uz)
    assert r.status_code == 422
    problems = {e["field"]: e["problem"] for e in r.json()["errors"]}
    assert problems["conveyance.container_numbers[0]"] == "check digit should be 3 ('CSQU3054384')"
    assert problems["substances"] == "a SEIZURE needs at least one substance"
    assert w.s.db.one("SELECT 1 AS x FROM ingest_ledger WHERE source_ref = 'UZ-CHECK-1'") is None
    assert w.s.post("/v1/reports/check", json_report(agency="KZ-CUSTOMS"), w.uz).status_code == 403
    for token, status in ((w.kz, 403), (w.auditor, 403), (None, 401)):
        assert w.s.post("/v1/reports/check", good, token).status_code == status
    too_big = httpx.post(w.s.base + "/v1/reports/check", content=b"x" * (512 * 1024 + 1),
                         headers={"Authorization": f"Bearer {w.uz}", "Content-Type": "application/json"})
    assert too_big.status_code == 413


# -- requests ----------------------------------------------------------------------------------------------
def ask(w: World, token: str, state: str = "KZ", **body: Any) -> httpx.Response:
    payload = {"report_id": w.rid, "kind": "CONSENT_ONWARD", "to_states": ["TJ"],
               "text": "TJ drug control asks for it: same consignee in their case"} | body
    return w.s.post(f"/v1/feeds/{state}/requests", payload, token)


def test_a_request_on_a_report_never_received_is_a_404_like_an_unknown_one(w: World) -> None:
    fresh_denial_window(w)
    never = ask(w, w.tj, "TJ")  # the report exists, but TJ never received it
    unknown = ask(w, w.tj, "TJ", report_id="R-000000000000000000000000")
    assert never.status_code == unknown.status_code == 404
    msg = "report_id: no report with this id is in the feed of TJ"
    assert never.json() == unknown.json() == {"error": msg, "detail": msg}
    wait_for(lambda: denied(w, f"request on {w.rid}, which is not in the feed of TJ"), what="audited")


@pytest.mark.parametrize("who", ["other-state", "auditor", "agency", "none"])
def test_requests_only_from_the_states_own_officer(w: World, who: str) -> None:
    token = {"other-state": w.ru, "auditor": w.auditor, "agency": w.uz, "none": None}[who]
    assert ask(w, token).status_code == (401 if who == "none" else 403)  # type: ignore[arg-type]
    assert w.s.get("/v1/feeds/KZ/requests", token).status_code == (401 if who == "none" else 403)


def test_request_limits_are_named(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    r = ask(w, w.kz, text="x" * (rq.MAX_TEXT + 1))
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": "text", "problem": f"should have at most {rq.MAX_TEXT} characters, has {rq.MAX_TEXT + 1}"}]
    r = ask(w, w.kz, to_states=["TJ", "KG", "TM", "AZ", "GE", "AM"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_states"
    r = ask(w, w.kz, to_states=["RU"])
    assert r.status_code == 422 and r.json()["detail"] == "to_states[0]: RU already received this report"
    r = ask(w, w.kz, kind="MAYBE")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
    big = httpx.post(w.s.base + "/v1/feeds/KZ/requests", content=b" " * (rq.MAX_BODY_BYTES + 1),
                     headers={"Authorization": f"Bearer {w.kz}", "Content-Type": "application/json"})
    assert big.status_code == 413
    assert w.s.post("/v1/feeds/KZ/requests", "not an object", w.kz).status_code == 422
    # open requests per officer (the limit lowered for the test; the store test covers the real one)
    officer = w.s.officer("kz-busy", "KZ")
    monkeypatch.setattr(rq, "MAX_OPEN_PER_OFFICER", 2)
    assert ask(w, officer, kind="INFO", to_states=None, text="one").status_code == 201
    assert ask(w, officer, kind="CONSENT_COURT_USE", to_states=None, text="two").status_code == 201
    third = ask(w, officer, to_states=["KG"], text="three")
    assert third.status_code == 429 and "kz-busy has 2 unanswered requests (the limit is 2)" in third.json()["detail"]
    again = ask(w, w.kz, kind="INFO", to_states=None, text="one more")  # kz-busy's INFO on it is still open
    assert again.status_code == 409 and again.json()["request_id"].startswith("Q-")


def intake_shares(w: World, request_id: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Every ShareCommand of ``request_id`` on hub.intake: read from the start until it is there, then
    a little longer (a second copy would be a bug). The wait bounds a hang; it asserts no speed."""
    import time

    async def go() -> list[tuple[dict[str, str], dict[str, Any]]]:
        c = consumer(w.s.settings, INTAKE, group_id=None, auto_offset_reset="earliest")
        await c.start()
        out: list[tuple[dict[str, str], dict[str, Any]]] = []
        deadline, quiet = time.monotonic() + 120, 0
        try:
            while time.monotonic() < deadline and quiet < 4:
                batch = await c.getmany(timeout_ms=500)
                for msgs in batch.values():
                    for m in msgs:
                        if header(m.headers, "kind") == "share" and header(m.headers, "request_id") == request_id:
                            out.append(({"key": m.key.decode(), "request_id": request_id},
                                        codec().decode(m.value, expect=SHARE_COMMAND)))
                quiet = quiet + 1 if out and not batch else 0
        finally:
            await c.stop()
        return out

    return asyncio.run(go())


def test_consent_onward_asked_granted_shared_and_shown_on_the_item(w: World) -> None:
    r = ask(w, w.kz, to_states=["TJ", "AF"], text="for the joint TJ/AF case")
    assert r.status_code == 201, r.text
    q = r.json()
    assert (q["status"], q["requested_by"], q["requester_state"], q["to_states"], q["agency"]) == (
        "OPEN", "officer:kz-desk", "KZ", ["TJ", "AF"], "UZ-CUSTOMS")
    qid = q["request_id"]
    # the inbox: the providing agency's only
    assert qid in {x["request_id"] for x in w.s.get("/v1/agency/requests", w.desk, status="open").json()["requests"]}
    assert w.s.get("/v1/agency/requests", w.kz_agency).json()["requests"] == []
    assert w.s.get("/v1/agency/requests", w.auditor, agency="UZ-CUSTOMS").status_code == 200
    assert w.s.get("/v1/agency/requests", w.kz).status_code == 403
    assert w.s.get("/v1/agency/requests").status_code == 401
    # ... and in its event stream (the sink projects CONSENT_REQUESTED)
    wait_for(lambda: [c for c in w.s.get("/v1/agency/receipts", w.uz).json()["changes"]
                      if c["type"] == "request" and c.get("request_id") == qid], what="request in the stream")

    grant = {"decision": "GRANT", "text": "granted", "conditions": "not for court use"}
    for token, status in ((w.kz_agency, 404), (w.kz, 403), (w.auditor, 403), (None, 401)):
        assert w.s.post(f"/v1/agency/requests/{qid}/answer", grant, token).status_code == status
    other = w.s.post(f"/v1/agency/requests/{qid}/answer", grant, w.kz_agency).json()
    assert other == w.s.post("/v1/agency/requests/Q-nosuchrequest/answer", grant, w.kz_agency).json()
    bad = w.s.post(f"/v1/agency/requests/{qid}/answer", {"decision": "ANSWER", "text": "x"}, w.desk)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "decision"

    r = w.s.post(f"/v1/agency/requests/{qid}/answer", grant, w.desk)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["status"] == "GRANTED" and a["answer"]["by"] == "desk:aziz@UZ-CUSTOMS"
    assert a["share"] == {"to_states": ["TJ", "AF"], "sent": True}
    assert w.s.post(f"/v1/agency/requests/{qid}/answer", grant, w.uz).status_code == 409

    shares = intake_shares(w, qid)
    assert len(shares) == 1
    h, cmd = shares[0]
    assert h["key"] == w.rid and cmd["to_states"] == ["TJ", "AF"] and cmd["version"] == 1
    assert cmd["provenance"]["requested_by"] == "officer:kz-desk"
    assert cmd["provenance"]["granted_by"] == "desk:aziz@UZ-CUSTOMS"
    assert cmd["provenance"]["conditions"] == "not for court use"
    assert cmd["report"]["source_ref"] == "UZ-HTTP-1" and cmd["report"]["parties"][0]["identifier"] == "TJ1234567"

    # the requester sees the answer on the item (JSON page and SSE) and in its request list
    page = w.s.get("/v1/feeds/KZ/items", w.kz).json()["items"]
    mine = next(v for v in page if v["report_id"] == w.rid)
    shown = next(x for x in mine["requests"] if x["request_id"] == qid)
    assert shown["answer"]["decision"] == "GRANT" and shown["answer"]["conditions"] == "not for court use"
    # (the session's broker also carries other modules' KZ items: read them all, pick this report's)
    sse_items = [e["data"] for e in read_sse(w, "/v1/feeds/KZ", w.kz, len(page))]
    sse_item = next(v for v in sse_items if v["report_id"] == w.rid)
    assert qid in {x["request_id"] for x in sse_item["requests"]}
    ru_page = w.s.get("/v1/feeds/RU/items", w.ru).json()["items"]
    assert all(qid not in {x["request_id"] for x in v["requests"]} for v in ru_page)  # KZ's, not RU's
    events = read_sse(w, "/v1/feeds/KZ/requests/events", w.kz, 1)
    assert events[0]["event"] == "request"
    assert qid in {x["request_id"] for x in w.s.get("/v1/feeds/KZ/requests", w.kz).json()["requests"]}
    # audited, with the people who asked and granted
    trail = w.s.trail(w.rid)
    wait_for(lambda: {"CONSENT_REQUESTED", "CONSENT_GRANTED"} <= {e["stage"] for e in w.s.trail(w.rid)},
             what="request and grant in the audit trail")
    trail = w.s.trail(w.rid)
    granted = next(e for e in trail if e["stage"] == "CONSENT_GRANTED")
    assert granted["actor"] == "desk:aziz@UZ-CUSTOMS" and granted["state"] == "KZ"
    assert granted["detail"]["request_id"] == qid and granted["recipients"] == ["AF", "TJ"]
    # the provider's status lists the request with its answer
    st = w.s.get(f"/v1/reports/{w.rid}", w.uz).json()
    assert next(x for x in st["requests"] if x["request_id"] == qid)["status"] == "GRANTED"


def test_information_request_and_answer(w: World) -> None:
    r = ask(w, w.kz, kind="INFO", to_states=None, text="Was the driver's phone seized?")
    if r.status_code == 409:  # the limits test left an INFO request of this report open
        qid = r.json()["request_id"]
    else:
        assert r.status_code == 201, r.text
        qid = r.json()["request_id"]
    a = w.s.post(f"/v1/agency/requests/{qid}/answer", {"decision": "ANSWER", "text": "Yes, two phones."}, w.uz)
    assert a.status_code == 200 and a.json()["status"] == "ANSWERED" and a.json()["answer"]["by"] == "agency:UZ-CUSTOMS"
    assert "share" not in a.json()
    wait_for(lambda: any(e["stage"] == "INFO_PROVIDED" and e["detail"]["request_id"] == qid
                         for e in w.s.trail(w.rid)), what="INFO_PROVIDED audited")


def test_a_grant_before_the_receipt_is_refused_clearly(w: World) -> None:
    late = uz_report("UZ-NO-RECEIPT")
    w.s.send(stage("RECEIVED", late, T0, actor="agency:UZ-CUSTOMS"), *items_for(late, ["KZ"], ROUTING))
    wait_for(lambda: w.s.db.one("SELECT 1 AS x FROM feed_items WHERE report_id = ?", (late["report_id"],)),
             what="item stored")
    q = ask(w, w.kz, report_id=late["report_id"], to_states=["TJ"]).json()
    r = w.s.post(f"/v1/agency/requests/{q['request_id']}/answer", {"decision": "GRANT", "text": "ok"}, w.uz)
    assert r.status_code == 409 and "no receipt of version 1 yet" in r.json()["detail"]
    assert w.s.get("/v1/agency/requests", w.uz, status="open").json()["requests"][0]["status"] == "OPEN"


# -- the SDK and `hub status` --------------------------------------------------------------------------
def test_sdk_publisher_status_and_receipts(w: World, tmp_path: Any) -> None:
    from connectors.sdk import Publisher, RestTransport, TransportRefused
    from connectors.status import StatusClient, StatusNotFound

    with Publisher(tmp_path / "outbox.db", RestTransport(w.s.base, w.uz)) as pub:
        assert pub.status(w.rid)["source_ref"] == "UZ-HTTP-1"
        assert pub.status(source_ref="UZ-HTTP-1", version=1)["report_id"] == w.rid  # not in this outbox: looked up
        page = pub.receipts(after=0, limit=3)
        assert [c["cursor"] for c in page["changes"]] == [1, 2, 3]
        assert pub.receipts(after=page["next_after"])["changes"][0]["cursor"] == 4
        with pytest.raises(StatusNotFound):
            pub.status(w.other["report_id"])
        with pytest.raises(ValueError, match="report_id or source_ref"):
            pub.status()
    with Publisher(tmp_path / "kafka.db", RestTransport(w.s.base, w.kz)) as pub, pytest.raises(TransportRefused):
        pub.status(w.rid)
    client = StatusClient(w.s.base, w.desk)
    assert client.lookup("UZ-HTTP-1")["report_id"] == w.rid
    client.close()


def test_hub_status_cli(w: World) -> None:
    import subprocess

    from tests.conftest import HUB, hub_env

    env = hub_env(w.s.settings, HUB_URL=w.s.base, HUB_AGENCY_KEY=w.desk)

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*HUB, "status", *args], env=env, capture_output=True, text=True, timeout=60)

    shown = hub(w.rid)
    assert shown.returncode == 0, shown.stderr
    assert f"report {w.rid}  agency UZ-CUSTOMS (UZ)  source_ref UZ-HTTP-1" in shown.stdout
    assert "RECEIVED" in shown.stdout and "ROUTED" in shown.stdout and "to CARICC, KZ, RU" in shown.stdout
    assert "RECIPIENT DELIVERY" in shown.stdout
    by_ref = hub("--source-ref", "UZ-HTTP-1", "--json")
    assert json.loads(by_ref.stdout)["report_id"] == w.rid
    changes = hub("--changes", "--after", "0")
    assert changes.returncode == 0 and changes.stdout.splitlines()[0].split()[0] == "1"
    missing = hub(w.other["report_id"])
    assert missing.returncode == 1 and "not found" in missing.stderr
    down = subprocess.run([*HUB, "status", w.rid, "--url", "http://127.0.0.1:9"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert down.returncode == 75
    assert "--source-ref" in hub("--help").stdout
