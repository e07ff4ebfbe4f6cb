"""Requests from recipients to the providing agency (SPEC §13, SIENA-style) and their answers.

An officer whose state received a report may ask its provider for consent to use it in court
(``CONSENT_COURT_USE``, handling code H1), for consent to pass it on to named states
(``CONSENT_ONWARD``, H2), or for more information (``INFO``). The agency answers once:

| kind               | decisions        | audit on asking    | audit on answering                        |
|--------------------|------------------|--------------------|-------------------------------------------|
| CONSENT_COURT_USE  | GRANT, REFUSE    | CONSENT_REQUESTED  | CONSENT_GRANTED / CONSENT_REFUSED         |
| CONSENT_ONWARD     | GRANT, REFUSE    | CONSENT_REQUESTED  | CONSENT_GRANTED / CONSENT_REFUSED (+ a ShareCommand on GRANT) |
| INFO               | ANSWER, REFUSE   | INFO_REQUESTED     | INFO_PROVIDED (detail ``decision``)       |

Every limit is a named constant below and answered with a message naming the field. The checks
(:func:`check_request`, :func:`check_answer`) are pure; :class:`hub.provider.store.RequestStore` is the database shell.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.domain.report import FieldError
from hub.platform.clock import iso
from hub.platform.settings import Settings

KINDS = ("CONSENT_COURT_USE", "CONSENT_ONWARD", "INFO")
DECISIONS: dict[str, tuple[str, ...]] = {
    "CONSENT_COURT_USE": ("GRANT", "REFUSE"), "CONSENT_ONWARD": ("GRANT", "REFUSE"), "INFO": ("ANSWER", "REFUSE"),
}
REQUEST_STAGE = {"CONSENT_COURT_USE": "CONSENT_REQUESTED", "CONSENT_ONWARD": "CONSENT_REQUESTED",
                 "INFO": "INFO_REQUESTED"}
OPEN, GRANTED, REFUSED, ANSWERED = "OPEN", "GRANTED", "REFUSED", "ANSWERED"
STATUS_OF = {"GRANT": GRANTED, "REFUSE": REFUSED, "ANSWER": ANSWERED}

# -- limits (each one tested) -------------------------------------------------------------------
MAX_BODY_BYTES = 16 * 1024  # a request or an answer body
MAX_TEXT = 2000  # characters of a request's or an answer's text
MAX_CONDITIONS = 1000  # characters of a grant's conditions
MAX_TO_STATES = 5  # states named in one CONSENT_ONWARD request
MAX_OPEN_PER_OFFICER = 20  # unanswered requests one officer may have at a time
MAX_REPORT_ID = 200


class RequestInvalid(ValueError):
    """Field errors of a request or an answer (HTTP 422); each names its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class TooManyOpen(RuntimeError):
    """The officer already has MAX_OPEN_PER_OFFICER unanswered requests (HTTP 429)."""


class AlreadyOpen(RuntimeError):
    """The same request is already open (HTTP 409); ``request_id`` names it."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"the same request is already open: {request_id}")
        self.request_id = request_id


class AlreadyAnswered(RuntimeError):
    """The request was answered before (HTTP 409)."""


@dataclass(frozen=True)
class Asked:
    """A checked request body."""

    report_id: str
    kind: str
    text: str
    to_states: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """A checked answer body."""

    decision: str
    text: str
    conditions: str | None = None


@dataclass
class _Errors:
    errors: list[FieldError] = field(default_factory=list)

    def __call__(self, path: str, reason: str) -> None:
        self.errors.append(FieldError(path, reason))


def _text(body: Mapping[str, Any], key: str, limit: int, err: _Errors, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            err(key, "is required")
        return None
    if not isinstance(value, str):
        err(key, f"should be a string, not {type(value).__name__}")
        return None
    value = value.strip()
    if not value:
        if required:
            err(key, "should not be empty")
        return None
    if len(value) > limit:
        err(key, f"should have at most {limit} characters, has {len(value)}")
        return None
    return value


def _choice(body: Mapping[str, Any], key: str, allowed: Sequence[str], err: _Errors, *, missing: str,
            wrong: str) -> str | None:
    """A required value out of ``allowed`` (any case, spaces around ignored), upper-cased; None after
    the problem ``missing`` (no value) or ``wrong`` (anything else) was recorded for ``key``."""
    value = body.get(key)
    if value is None:
        err(key, missing)
        return None
    if not isinstance(value, str) or value.strip().upper() not in allowed:
        err(key, wrong)
        return None
    return value.strip().upper()


def _unknown(body: Mapping[str, Any], allowed: Sequence[str], err: _Errors) -> None:
    for k in body:
        if k not in allowed:
            err(str(k), "is not a known field")


def check_request_shape(body: Any) -> Asked:
    """The body of ``POST /v1/feeds/{state}/requests`` on its own (no knowledge of the report)."""
    err = _Errors()
    if not isinstance(body, dict):
        raise RequestInvalid([FieldError("", "a request should be a JSON object")])
    _unknown(body, ("report_id", "kind", "to_states", "text"), err)
    report_id = _text(body, "report_id", MAX_REPORT_ID, err, required=True)
    kind = _choice(body, "kind", KINDS, err, missing=f"is required (one of {', '.join(KINDS)})",
                   wrong=f"should be one of {', '.join(KINDS)}")
    text = _text(body, "text", MAX_TEXT, err, required=True)
    to_states: list[str] = []
    raw = body.get("to_states")
    if raw is not None and kind not in (None, "CONSENT_ONWARD"):
        err("to_states", "is only for CONSENT_ONWARD requests")
    elif kind == "CONSENT_ONWARD":
        if raw is None or raw == []:
            err("to_states", "is required for CONSENT_ONWARD: the states the report should be shared with")
        elif not isinstance(raw, list):
            err("to_states", "should be a list of state codes")
        elif len(raw) > MAX_TO_STATES:
            err("to_states", f"should name at most {MAX_TO_STATES} states, names {len(raw)}")
        else:
            for i, s in enumerate(raw):
                if not isinstance(s, str) or not s.strip():
                    err(f"to_states[{i}]", "should be a state code")
                    continue
                code = s.strip().upper()
                if code in to_states:
                    err(f"to_states[{i}]", f"{code} is named twice")
                    continue
                to_states.append(code)
    if err.errors:
        raise RequestInvalid(err.errors)
    assert report_id and kind and text
    return Asked(report_id, kind, text, tuple(to_states))


def check_request_for_item(asked: Asked, *, settings: Settings, requester_state: str,
                           item: Mapping[str, Any]) -> None:
    """The rules that need the requester's copy of the report (``item``: a feed item's JSON)."""
    if asked.kind != "CONSENT_ONWARD":
        return
    err = _Errors()
    report = item["report"]
    holders = set((item.get("routing") or {}).get("recipients") or [])
    for i, code in enumerate(asked.to_states):
        p = f"to_states[{i}]"
        if code not in settings.recipients:
            err(p, f"{code} is not a member, partner or {settings.centre}")
        elif code == requester_state:
            err(p, f"{code} is your own state")
        elif code == report.get("reporter_state"):
            err(p, f"{code} is the reporting state")
        elif code in holders:
            err(p, f"{code} already received this report")
    if err.errors:
        raise RequestInvalid(err.errors)


def check_answer(body: Any, kind: str) -> Answer:
    """The body of ``POST /v1/agency/requests/{id}/answer`` for a request of ``kind``."""
    err = _Errors()
    if not isinstance(body, dict):
        raise RequestInvalid([FieldError("", "an answer should be a JSON object")])
    _unknown(body, ("decision", "text", "conditions"), err)
    allowed = DECISIONS[kind]
    decision = _choice(body, "decision", allowed, err, missing=f"is required (for {kind} requests: {' or '.join(allowed)})",
                       wrong=f"should be {' or '.join(allowed)} for {kind} requests")
    text = _text(body, "text", MAX_TEXT, err, required=True)
    conditions = _text(body, "conditions", MAX_CONDITIONS, err, required=False)
    if conditions is not None and decision not in (None, "GRANT"):
        err("conditions", "only a GRANT has conditions")
    if err.errors:
        raise RequestInvalid(err.errors)
    assert decision and text
    return Answer(decision, text, conditions)


def answer_stage(kind: str, decision: str) -> str:
    if kind == "INFO":
        return "INFO_PROVIDED"
    return "CONSENT_GRANTED" if decision == "GRANT" else "CONSENT_REFUSED"


def new_request_id() -> str:
    """Unguessable (the id is the capability to answer, for the agency that owns the report)."""
    return "Q-" + secrets.token_hex(12)


# -- views ---------------------------------------------------------------------------------------
def view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The API view of a request (the same for the asking officer and the providing agency)."""
    answered = row.get("answered_at")
    return {
        "request_id": row["request_id"], "report_id": row["report_id"], "version": int(row["version"]),
        "agency": row["agency"], "kind": row["kind"], "requested_by": row["requester"],
        "requester_state": row["requester_state"],
        "to_states": [s for s in (row.get("to_states") or "").split(",") if s],
        "text": row["text"], "requested_at": iso(int(row["created_at"])), "status": row["status"],
        "answer": None if answered is None else {
            "decision": row["decision"], "text": row["answer_text"], "conditions": row.get("conditions"),
            "by": row["answered_by"], "at": iso(int(answered)),
            "time_to_answer_s": round((int(answered) - int(row["created_at"])) / 1000, 3)},
    }
