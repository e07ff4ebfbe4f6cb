"""JSON form → Avro form: every failing field listed at once, with a path and plain words."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.report import AgencyMismatch, ReportInvalid, from_json, report_id, rule_errors
from hub.platform.settings import Settings
from tests.conftest import TEST_ID_KEY
from tests.factories import json_report, report

S = Settings()


def errors_of(body) -> dict[str, str]:
    with pytest.raises(ReportInvalid) as info:
        from_json(body, agency="KZ-CUSTOMS", state="KZ", settings=S)
    return {e.path: e.reason for e in info.value.errors}


def test_valid_report_is_normalized() -> None:
    r = from_json(json_report(), agency="KZ-CUSTOMS", state="KZ", settings=S, id_key=TEST_ID_KEY)
    assert r["report_id"] == report_id(TEST_ID_KEY, "KZ-CUSTOMS", "KZ-CUS-2026-00042")
    assert r["agency"] == "KZ-CUSTOMS" and r["reporter_state"] == "KZ"
    assert r["conveyance"]["container_numbers"] == ["CSQU3054383"]  # spaces and dash removed
    assert r["tlp"] == "AMBER" and r["handling_code"] == "H1"
    assert isinstance(r["event_time"], int)


def test_report_ids_are_keyed() -> None:
    """SPEC §5: without the hub's key, an agency's source_ref scheme does not give the report ids."""
    a = report_id(TEST_ID_KEY, "KZ-CUSTOMS", "KZ-CUS-2026-00042")
    assert a == report_id(TEST_ID_KEY, "KZ-CUSTOMS", "KZ-CUS-2026-00042")  # deterministic
    assert a != report_id(b"another-key-entirely", "KZ-CUSTOMS", "KZ-CUS-2026-00042")
    assert a != report_id(TEST_ID_KEY, "KZ-CUSTOMS", "KZ-CUS-2026-00043")
    unkeyed = hashlib.sha256(b"KZ-CUSTOMS\x1fKZ-CUS-2026-00042").hexdigest()[:24]
    assert a.startswith("R-") and unkeyed not in a


def test_agency_side_leaves_the_report_id_to_the_hub() -> None:
    r = from_json(json_report(), agency="KZ-CUSTOMS", state="KZ", settings=S)  # no id key: the SDK
    assert r["report_id"] == ""


def test_defaults() -> None:
    body = json_report()
    for k in ("tlp", "version", "handling_code"):
        body.pop(k)
    r = from_json(body, agency="A", state="KZ", settings=S)
    assert (r["tlp"], r["version"], r["handling_code"]) == ("AMBER", 1, "H0")


def test_several_errors_listed_at_once_with_paths() -> None:
    body = json_report(
        kind="PARCEL",
        event_time="last tuesday",
        conveyance={"mode": "ROAD", "container_numbers": ["CSQU3054383", "csqu 305438-4", 7]},
        substances=[{"type": "HEROIN", "quantity": -2, "unit": "KG", "concealment": "CARGO"}],
        goods={"hs_code": "12AB"},
        colour="red",
    )
    errs = errors_of(body)
    assert errs["kind"] == "should be one of ALERT, SEIZURE, not 'PARCEL'"
    assert "RFC 3339" in errs["event_time"]
    assert errs["conveyance.container_numbers[1]"].startswith("check digit should be 3")
    assert errs["conveyance.container_numbers[2]"] == "should be a string, not a number"
    assert errs["substances[0].quantity"] == "should be greater than 0"
    assert errs["goods.hs_code"] == "should be 6 to 10 digits, not '12AB'"
    assert errs["colour"] == "is not a known field"


def test_kind_rules_and_handling_note() -> None:
    errs = errors_of(json_report(substances=[], handling_code="H3"))
    assert errs["substances"] == "a SEIZURE needs at least one substance"
    assert errs["handling_note"] == "is required with handling code H3"
    errs = errors_of(json_report(kind="ALERT", risk_indicators=[]))
    assert errs["risk_indicators"] == "an ALERT needs at least one risk indicator"


def test_future_event_time_and_unknown_states() -> None:
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    errs = errors_of(json_report(event_time=future, addressees=["UZ", "XX"], location={"country": "QQ"}))
    assert errs["event_time"] == "is more than 60 minutes in the future"
    assert errs["addressees[1]"] == "'XX' is not a member, partner or CARICC"
    assert errs["location.country"] == "'QQ' is not an ISO 3166-1 alpha-2 code"


@pytest.mark.parametrize("event_time", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:30:00+00:59"])
def test_event_time_before_year_one_in_utc_is_named(event_time: str) -> None:
    """A timestamp whose UTC instant is in year 0 could be encoded but never decoded (found by the fuzz
    suite): it is rejected naming event_time, and the report is never accepted."""
    errs = errors_of(json_report(event_time=event_time))
    assert errs == {"event_time": f"is outside years 0001-9999 in UTC: '{event_time}'"}


def test_event_time_at_year_one_in_utc_round_trips() -> None:
    from hub.domain.codec import REPORT, codec
    r = from_json(json_report(event_time="0001-01-01T00:00:00Z"), agency="KZ-CUSTOMS", state="KZ", settings=S)
    assert codec().decode(codec().encode(REPORT, r), expect=REPORT)["event_time"] == datetime(1, 1, 1, tzinfo=UTC)


def test_required_fields_and_wrong_types() -> None:
    errs = errors_of({"kind": "ALERT", "version": "two", "parties": "Ivanov", "risk_indicators": ["x"]})
    assert errs["source_ref"] == "is required"
    assert errs["location"] == "is required"
    assert errs["version"] == "should be a whole number, not 'two'"
    assert errs["parties"] == "should be a list, not a string"
    assert errs["event_time"].startswith("is required")


def test_limits() -> None:
    errs = errors_of(json_report(source_ref="x" * 129, narrative="n" * 20_001,
                                 evaluation={"source": "E", "information": 7}))
    assert errs["source_ref"] == "should have at most 128 characters, has 129"
    assert errs["narrative"] == "should have at most 20000 characters, has 20001"
    assert errs["evaluation.source"].startswith("should be one of A, B, C, X")
    assert errs["evaluation.information"] == "should be 1, 2, 3 or 4, not 7"


def test_not_an_object() -> None:
    assert errors_of(["a"]) == {"": "a report should be a JSON object, not a list"}


def test_body_claiming_another_agency_is_rejected() -> None:
    with pytest.raises(AgencyMismatch, match="claims agency 'UZ-DCA'"):
        from_json(json_report(agency="UZ-DCA"), agency="KZ-CUSTOMS", state="KZ", settings=S)
    with pytest.raises(AgencyMismatch, match="claims state 'UZ'"):
        from_json(json_report(reporter_state="UZ"), agency="KZ-CUSTOMS", state="KZ", settings=S)
    # naming oneself is fine
    from_json(json_report(agency="KZ-CUSTOMS"), agency="KZ-CUSTOMS", state="KZ", settings=S)


def test_rule_errors_on_avro_form() -> None:
    assert rule_errors(report(), settings=S) == []
    bad = report(kind="ALERT", risk_indicators=[],
                 conveyance=dict(report()["conveyance"], container_numbers=["CSQU3054384"]))
    paths = {e.path for e in rule_errors(bad, settings=S)}
    assert paths == {"risk_indicators", "conveyance.container_numbers[0]"}
