"""Bad input: property-based fuzzing of the JSON validator (hub/domain/report.py from_json).

Whatever JSON a connector sends, the validator either returns a report the codec can encode or
raises ReportInvalid listing field errors that name a field and say what is wrong (or
AgencyMismatch for a body that claims another agency) -- never another exception.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.codec import REPORT, codec
from hub.domain.report import REPORT_FIELDS, AgencyMismatch, ReportInvalid, from_json
from tests import factories
from tests.conftest import hub_settings
from tests.reliability.strategies import FUZZ, deep, json_values

SETTINGS = hub_settings()
NOW = datetime.now(UTC)

# a change to one field may make a rule about another field fail (SPEC §3 cross-field rules)
DEPENDENTS = {
    "kind": {"substances", "risk_indicators"},
    "handling_code": {"handling_note"},
    "substances": {"substances"},
    "risk_indicators": {"risk_indicators"},
    "location": {"location"},
}


def _root(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def validate(body: Any, ledger: Any = None) -> dict[str, Any] | ReportInvalid | AgencyMismatch:
    """from_json, checking the contract of its outcome."""
    try:
        report = from_json(body, agency="KZ-CUSTOMS", state="KZ", settings=SETTINGS, now=NOW)
    except ReportInvalid as exc:
        assert exc.errors, "a rejection lists at least one field error"
        for e in exc.errors:
            assert isinstance(e.path, str) and isinstance(e.reason, str)
            assert e.reason.strip(), f"empty reason for {e.path!r}"
            assert len(str(e)) < 2_000, "error messages stay readable"
            if e.path:
                named = _root(e.path) in REPORT_FIELDS or (
                    isinstance(body, dict) and any(e.path == k or e.path.startswith(f"{k}.") for k in body))
                assert named, \
                    f"error names an unknown field {e.path!r}"
        if ledger is not None:
            ledger.add("rejected")
        return exc
    except AgencyMismatch as exc:
        assert str(exc)
        if ledger is not None:
            ledger.add("agency_mismatch")
        return exc
    # accepted: it must be a report the pipeline can carry
    encoded = codec().encode(REPORT, report)
    assert codec().decode(encoded, expect=REPORT)["report_id"] == report["report_id"]
    assert report["agency"] == "KZ-CUSTOMS" and report["reporter_state"] == "KZ"
    if ledger is not None:
        ledger.add("accepted")
    return report


@FUZZ
@given(json_values)
def test_any_json_value_is_accepted_or_rejected_clearly(ledger, body: Any) -> None:
    """Any JSON value as a body: a valid report or a clear rejection"""
    validate(body, ledger)


@FUZZ
@given(st.sampled_from(REPORT_FIELDS), json_values)
def test_one_bad_field_is_named(ledger, field: str, value: Any) -> None:
    """A valid report with one field replaced by any JSON: rejected naming that field, or still valid"""
    body = factories.json_report()
    body[field] = value
    out = validate(body, ledger)
    if isinstance(out, ReportInvalid):
        roots = {_root(e.path) for e in out.errors}
        assert roots & ({field} | DEPENDENTS.get(field, set())), \
            f"replacing {field} with {value!r} was rejected without naming it: {out}"


PATHS = [
    ("location", "country"), ("location", "lat"), ("location", "place"), ("conveyance", "mode"),
    ("conveyance", "container_numbers"), ("conveyance", "vehicle_plate"), ("goods", "hs_code"),
    ("goods", "declared_weight_kg"), ("evaluation", "source"), ("evaluation", "information"),
]


@FUZZ
@given(st.sampled_from(PATHS), json_values)
def test_one_bad_nested_field_is_named(ledger, path: tuple[str, str], value: Any) -> None:
    """A nested field replaced by any JSON: rejected naming the object, or still valid"""
    body = factories.json_report()
    body[path[0]][path[1]] = value
    out = validate(body, ledger)
    if isinstance(out, ReportInvalid):
        assert any(e.path.startswith(path[0]) for e in out.errors), str(out)


@FUZZ
@given(st.sampled_from(["parties", "substances", "route"]), st.integers(0, 1), st.text(max_size=12), json_values)
def test_bad_list_items_are_named(ledger, key: str, index: int, sub: str, value: Any) -> None:
    """An item field of parties/substances/route replaced by anything: the error names the item"""
    body = factories.json_report()
    items = body[key]
    if index >= len(items):
        index = 0
    items[index] = dict(items[index], **{sub or "name": value})
    out = validate(body, ledger)
    if isinstance(out, ReportInvalid):
        assert any(e.path.startswith(f"{key}[{index}]") or e.path == key for e in out.errors), str(out)


@FUZZ
@given(st.text(min_size=1, max_size=60))
def test_text_in_any_script_survives(ledger, text: str) -> None:
    """Any Unicode text in narrative and names is accepted or rejected clearly, never mangled"""
    body = factories.json_report(narrative=text)
    body["parties"][0]["name"] = text
    out = validate(body, ledger)
    if isinstance(out, dict):
        assert out["narrative"] == text.strip()


@pytest.mark.parametrize("field", ["narrative", "source_ref", "handling_note", "trace_id"])
def test_lone_surrogates_are_rejected_not_crashing(ledger, field: str) -> None:
    """Strings with lone UTF-16 surrogates (valid JSON, not encodable) are rejected with a 422"""
    body = factories.json_report(**{field: "abc\ud800def"})
    if field == "handling_note":
        body["handling_code"] = "H3"
    out = validate(body, ledger)
    assert isinstance(out, ReportInvalid), f"{field} with a lone surrogate was accepted"
    assert any(e.path == field for e in out.errors)


@pytest.mark.parametrize("value", [True, 5, 1.5, {"a": 1}])
def test_container_numbers_of_wrong_type_are_rejected(ledger, value: Any) -> None:
    """conveyance.container_numbers that is not a list is a 422 naming it, not a TypeError"""
    body = factories.json_report()
    body["conveyance"]["container_numbers"] = value
    out = validate(body, ledger)
    assert isinstance(out, ReportInvalid)
    assert any(e.path == "conveyance.container_numbers" for e in out.errors), str(out)


def test_html_and_script_travel_as_data(ledger) -> None:
    """HTML/script in a narrative is accepted as text, unchanged (escaping is the display's job)"""
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'
    out = validate(factories.json_report(narrative=payload), ledger)
    assert isinstance(out, dict) and out["narrative"] == payload


@pytest.mark.parametrize("depth", [50, 500, 5000])
def test_deep_nesting_is_rejected(ledger, depth: int) -> None:
    """Deeply nested values in any field are rejected with a clear message, not a RecursionError"""
    for field in ("narrative", "location", "parties", "evaluation", "kind"):
        out = validate(factories.json_report(**{field: deep(depth)}), ledger)
        assert isinstance(out, ReportInvalid)
        assert any(_root(e.path) == field for e in out.errors)


def test_oversized_fields_are_rejected(ledger) -> None:
    """Oversized narrative, source_ref and lists are refused naming the limit"""
    cases = {
        "narrative": "x" * 20_001, "source_ref": "r" * 129,
        "risk_indicators": ["i"] * 501, "route": [{"country": "KZ"}] * 501,
    }
    for field, value in cases.items():
        out = validate(factories.json_report(**{field: value}), ledger)
        assert isinstance(out, ReportInvalid), field
        assert any(_root(e.path) == field and "at most" in e.reason for e in out.errors), str(out)


def test_reporter_spoofing_is_impossible(ledger) -> None:
    """A body claiming another agency or state is refused; the credential's identity always wins"""
    for claim in ({"agency": "UZ-CUSTOMS"}, {"reporter_state": "UZ"}, {"agency": ["KZ-CUSTOMS"]},
                  {"reporter_state": "kz"}):
        assert isinstance(validate(factories.json_report(**claim), ledger), AgencyMismatch), claim
    assert isinstance(validate(factories.json_report(report_id="R-forged"), ledger), ReportInvalid)
    ok = validate(factories.json_report(agency="KZ-CUSTOMS", reporter_state="KZ"), ledger)
    assert isinstance(ok, dict) and ok["agency"] == "KZ-CUSTOMS"


def test_validation_is_deterministic() -> None:
    """The same body gives the same report (ids are deterministic)"""
    body = factories.json_report()
    a = validate(copy.deepcopy(body))
    b = validate(copy.deepcopy(body))
    assert a == b
