"""Requests and answers (hub.provider.requests): every field rule and limit named, the store's
one-answer rule, open-request limits; the ShareCommand of a grant (hub.provider.share)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.domain.codec import SHARE_COMMAND, codec
from hub.domain.wire import header
from hub.platform.db import Database
from hub.platform.kafka.topics import INTAKE
from hub.provider import requests as rq
from hub.provider.share import share_command, share_record
from hub.provider.store import RequestStore
from tests.conftest import hub_settings
from tests.provider.conftest import T0, uz_report

SETTINGS = hub_settings()


def errors(exc: pytest.ExceptionInfo[rq.RequestInvalid]) -> dict[str, str]:
    return {e.path: e.reason for e in exc.value.errors}


def ask(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"report_id": "R-1", "kind": "CONSENT_ONWARD", "to_states": ["TJ"],
                            "text": "TJ drug control needs it for the joint case"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


def item(**over: Any) -> dict[str, Any]:
    return {"report": {"reporter_state": "UZ", "agency": "UZ-CUSTOMS"},
            "routing": {"recipients": ["CARICC", "KZ", "RU"]}} | over


def test_a_good_onward_request() -> None:
    a = rq.check_request_shape(ask(kind="consent_onward", to_states=[" tj ", "KG"]))
    assert a == rq.Asked("R-1", "CONSENT_ONWARD", "TJ drug control needs it for the joint case", ("TJ", "KG"))
    rq.check_request_for_item(a, settings=SETTINGS, requester_state="KZ", item=item())


@pytest.mark.parametrize(("body", "field", "problem"), [
    (ask(report_id=...), "report_id", "is required"),
    (ask(kind=...), "kind", "is required (one of CONSENT_COURT_USE, CONSENT_ONWARD, INFO)"),
    (ask(kind="PLEASE"), "kind", "should be one of CONSENT_COURT_USE, CONSENT_ONWARD, INFO"),
    (ask(text=...), "text", "is required"),
    (ask(text="   "), "text", "should not be empty"),
    (ask(text=7), "text", "should be a string, not int"),
    (ask(text="x" * (rq.MAX_TEXT + 1)), "text", f"should have at most {rq.MAX_TEXT} characters, has {rq.MAX_TEXT + 1}"),
    (ask(to_states=...), "to_states", "is required for CONSENT_ONWARD: the states the report should be shared with"),
    (ask(to_states=[]), "to_states", "is required for CONSENT_ONWARD: the states the report should be shared with"),
    (ask(to_states="TJ"), "to_states", "should be a list of state codes"),
    (ask(to_states=["TJ", "KG", "TM", "AZ", "GE", "AM"]), "to_states",
     f"should name at most {rq.MAX_TO_STATES} states, names 6"),
    (ask(to_states=["TJ", "tj"]), "to_states[1]", "TJ is named twice"),
    (ask(to_states=["TJ", 3]), "to_states[1]", "should be a state code"),
    (ask(kind="INFO"), "to_states", "is only for CONSENT_ONWARD requests"),
    (ask(urgent=True), "urgent", "is not a known field"),
])
def test_request_shape_errors_name_the_field(body: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(rq.RequestInvalid) as exc:
        rq.check_request_shape(body)
    assert errors(exc)[field] == problem


def test_the_limits_themselves_are_accepted() -> None:
    a = rq.check_request_shape(ask(text="x" * rq.MAX_TEXT, to_states=["TJ", "KG", "TM", "AZ", "GE"]))
    assert len(a.text) == rq.MAX_TEXT and len(a.to_states) == rq.MAX_TO_STATES


def test_not_an_object() -> None:
    with pytest.raises(rq.RequestInvalid) as exc:
        rq.check_request_shape(["R-1"])
    assert errors(exc) == {"": "a request should be a JSON object"}


@pytest.mark.parametrize(("to", "problem"), [
    ("XX", "XX is not a member, partner or CARICC"),
    ("KZ", "KZ is your own state"),
    ("UZ", "UZ is the reporting state"),
    ("RU", "RU already received this report"),
])
def test_to_states_against_the_requesters_copy(to: str, problem: str) -> None:
    a = rq.check_request_shape(ask(to_states=["TJ", to]))
    with pytest.raises(rq.RequestInvalid) as exc:
        rq.check_request_for_item(a, settings=SETTINGS, requester_state="KZ", item=item())
    assert errors(exc) == {"to_states[1]": problem}


@pytest.mark.parametrize(("kind", "body", "field", "problem"), [
    ("CONSENT_ONWARD", {"text": "ok"}, "decision", "is required (for CONSENT_ONWARD requests: GRANT or REFUSE)"),
    ("CONSENT_ONWARD", {"decision": "ANSWER", "text": "ok"}, "decision", "should be GRANT or REFUSE for "
     "CONSENT_ONWARD requests"),
    ("INFO", {"decision": "GRANT", "text": "ok"}, "decision", "should be ANSWER or REFUSE for INFO requests"),
    ("INFO", {"decision": "ANSWER"}, "text", "is required"),
    ("INFO", {"decision": "ANSWER", "text": "y" * (rq.MAX_TEXT + 1)}, "text",
     f"should have at most {rq.MAX_TEXT} characters, has {rq.MAX_TEXT + 1}"),
    ("CONSENT_ONWARD", {"decision": "GRANT", "text": "ok", "conditions": "c" * (rq.MAX_CONDITIONS + 1)},
     "conditions", f"should have at most {rq.MAX_CONDITIONS} characters, has {rq.MAX_CONDITIONS + 1}"),
    ("CONSENT_COURT_USE", {"decision": "REFUSE", "text": "no", "conditions": "none"}, "conditions",
     "only a GRANT has conditions"),
    ("INFO", {"decision": "ANSWER", "text": "x", "cc": "me"}, "cc", "is not a known field"),
])
def test_answer_errors_name_the_field(kind: str, body: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(rq.RequestInvalid) as exc:
        rq.check_answer(body, kind)
    assert errors(exc)[field] == problem


def test_answer_stages() -> None:
    assert rq.answer_stage("CONSENT_ONWARD", "GRANT") == "CONSENT_GRANTED"
    assert rq.answer_stage("CONSENT_COURT_USE", "REFUSE") == "CONSENT_REFUSED"
    assert rq.answer_stage("INFO", "ANSWER") == rq.answer_stage("INFO", "REFUSE") == "INFO_PROVIDED"


@pytest.fixture
def store(db_url: str) -> RequestStore:
    return RequestStore(Database(db_url))  # SQLite and PostgreSQL


def new(store: RequestStore, officer: str = "officer:kz-1", **over: Any) -> dict[str, Any]:
    a = rq.check_request_shape(ask(**over))
    return store.create(a, version=1, agency="UZ-CUSTOMS", requester=officer, requester_state="KZ", at=T0)


def test_one_answer_only(store: RequestStore) -> None:
    row = new(store)
    done = store.answer(row["request_id"], rq.Answer("GRANT", "yes", "joint case only"), by="desk:aziz@UZ-CUSTOMS",
                        at=T0 + 60_000)
    v = rq.view(done)
    assert v["status"] == "GRANTED" and v["answer"] == {
        "decision": "GRANT", "text": "yes", "conditions": "joint case only", "by": "desk:aziz@UZ-CUSTOMS",
        "at": "2025-12-29T09:21:00.000Z", "time_to_answer_s": 60.0}
    with pytest.raises(rq.AlreadyAnswered):
        store.answer(row["request_id"], rq.Answer("REFUSE", "no"), by="desk:other@UZ-CUSTOMS")


def test_the_same_open_request_twice_names_the_first(store: RequestStore) -> None:
    first = new(store)
    with pytest.raises(rq.AlreadyOpen) as exc:
        new(store, officer="officer:kz-2")
    assert exc.value.request_id == first["request_id"]
    new(store, to_states=["KG"])  # another set of states is another request


def test_open_requests_per_officer_are_limited(store: RequestStore) -> None:
    rows = [new(store, report_id=f"R-{i}") for i in range(rq.MAX_OPEN_PER_OFFICER)]
    with pytest.raises(rq.TooManyOpen, match=f"officer:kz-1 has {rq.MAX_OPEN_PER_OFFICER} unanswered"):
        new(store, report_id="R-one-more")
    new(store, officer="officer:kz-2", report_id="R-one-more")  # per officer, not per state
    store.answer(rows[0]["request_id"], rq.Answer("REFUSE", "no"), by="agency:UZ-CUSTOMS")
    new(store, report_id="R-one-more-after-an-answer")


def test_inbox_open_first_and_by_state(store: RequestStore) -> None:
    a, b = new(store, report_id="R-a"), new(store, report_id="R-b")
    store.answer(a["request_id"], rq.Answer("REFUSE", "no"), by="agency:UZ-CUSTOMS")
    assert [r["request_id"] for r in store.inbox("UZ-CUSTOMS")] == [b["request_id"], a["request_id"]]
    assert [r["request_id"] for r in store.inbox("UZ-CUSTOMS", rq.OPEN)] == [b["request_id"]]
    assert [r["request_id"] for r in store.inbox("UZ-CUSTOMS", "ANSWERED")] == [a["request_id"]]
    assert store.inbox("KZ-CUSTOMS") == []
    assert [r["report_id"] for r in store.of_state("KZ", ["R-a"])] == ["R-a"]
    assert store.of_state("TJ") == []


def test_request_ids_are_unguessable() -> None:
    ids = {rq.new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 26 for i in ids)


def test_share_command_of_a_grant(store: RequestStore) -> None:
    rep = uz_report()
    row = new(store, report_id=rep["report_id"], to_states=["TJ", "AF"])
    with pytest.raises(ValueError, match="not a granted CONSENT_ONWARD"):
        share_command(row, rep)
    done = store.answer(row["request_id"], rq.Answer("GRANT", "yes", "joint case only"),
                        by="desk:aziz@UZ-CUSTOMS", at=T0 + 5000)
    cmd = share_command(done, rep)
    rec = share_record(cmd)
    assert rec.topic == INTAKE and rec.key == rep["report_id"].encode()
    assert header(rec.headers, "kind") == "share" and header(rec.headers, "request_id") == row["request_id"]
    back = codec().decode(rec.value, expect=SHARE_COMMAND)
    assert back["to_states"] == ["TJ", "AF"] and back["version"] == 1
    prov = back["provenance"]
    assert (prov["requested_by"], prov["requested_state"], prov["granted_by"], prov["conditions"]) == (
        "officer:kz-1", "KZ", "desk:aziz@UZ-CUSTOMS", "joint case only")
    assert back["report"]["source_ref"] == rep["source_ref"]
