"""The §5 routing table, written out by hand, against hub.pipeline.route."""

from __future__ import annotations

import pytest

from hub.pipeline import route
from tests.conftest import hub_settings
from tests.factories import report

S = hub_settings()
MEMBERS = {"KZ", "KG", "TJ", "TM", "UZ", "AZ", "RU"}
PARTNERS = {"AF", "GE", "AM", "IR", "PK", "TR", "CN"}


def rep(tlp: str, addressees: list[str] = (), state: str = "KZ", route_c: tuple[str, ...] = ("AF", "TJ", "UZ"),
        loc: str = "KZ") -> dict:
    return report(state=state, tlp=tlp, addressees=list(addressees),
                  route=[{"country": c, "place": None} for c in route_c],
                  location={"country": loc, "place": None, "unlocode": None, "lat": None, "lon": None})


# (tlp, reporter, addressees, route, location) -> expected recipients
CASES = [
    # RED / AMBER_STRICT: addressees only, never the reporter, not even the centre unless addressed
    ("RED", "KZ", [], ("AF", "TJ"), "KZ", set()),
    ("RED", "KZ", ["UZ"], ("AF", "TJ"), "KZ", {"UZ"}),
    ("RED", "KZ", ["KZ", "UZ", "CARICC"], ("TJ",), "KZ", {"UZ", "CARICC"}),
    ("RED", "KZ", ["AF"], ("TJ",), "KZ", {"AF"}),
    ("AMBER_STRICT", "UZ", ["KZ"], ("AF", "TJ", "KZ"), "UZ", {"KZ"}),
    ("AMBER_STRICT", "UZ", [], ("AF", "TJ", "KZ"), "UZ", set()),
    # AMBER: addressees + members on route/location + centre; partners only when addressed
    ("AMBER", "KZ", [], ("AF", "TJ", "UZ"), "KZ", {"TJ", "UZ", "CARICC"}),
    ("AMBER", "KZ", [], ("AF", "IR", "TR"), "KZ", {"CARICC"}),
    ("AMBER", "KZ", ["AF"], ("AF", "TJ"), "KZ", {"AF", "TJ", "CARICC"}),
    ("AMBER", "TJ", ["GE"], ("CN",), "RU", {"GE", "RU", "CARICC"}),
    ("AMBER", "KZ", ["KZ"], ("KZ",), "KZ", {"CARICC"}),
    # GREEN: addressees + all members + centre (partners only when addressed)
    ("GREEN", "KZ", [], ("AF",), "KZ", (MEMBERS - {"KZ"}) | {"CARICC"}),
    ("GREEN", "RU", ["TR"], ("AF",), "RU", (MEMBERS - {"RU"}) | {"TR", "CARICC"}),
    # CLEAR: everyone but the reporter
    ("CLEAR", "KZ", [], (), "KZ", (MEMBERS | PARTNERS | {"CARICC"}) - {"KZ"}),
    ("CLEAR", "AF", [], (), "AF", (MEMBERS | PARTNERS | {"CARICC"}) - {"AF"}),
]


@pytest.mark.parametrize(("tlp", "state", "addressees", "route_c", "loc", "expected"), CASES)
def test_routing_table(tlp: str, state: str, addressees: list[str], route_c: tuple[str, ...], loc: str,
                       expected: set[str]) -> None:
    assert set(route.recipients(rep(tlp, addressees, state, route_c, loc), S)) == expected


def test_partner_copy_is_redacted_and_member_copy_is_not() -> None:
    r = rep("CLEAR")
    items = route.feed_items(r, {"prior_reports": [], "also_reported_by": [], "entity_links": []},
                             incident_id="I-1", settings=S, earlier_recipients=[], incident_holders=[],
                             allowed={}, routed_at=1)
    by = {i["recipient"]: i for i in items}
    assert by["AF"]["routing"]["redacted"] is True
    assert all(p["identifier"] is None for p in by["AF"]["report"]["parties"])
    assert by["AF"]["report"]["parties"][0]["name"] == "Рахимов Фаррух"
    assert by["UZ"]["routing"]["redacted"] is False
    assert by["UZ"]["report"]["parties"][0]["identifier"] == "TJ1234567"
    # handling code and evaluation travel with every copy
    assert {i["report"]["handling_code"] for i in items} == {"H1"}
    assert all(i["report"]["evaluation"] == {"source": "B", "information": 2} for i in items)
    assert by["UZ"]["item_id"] == f"{r['report_id']}:1:UZ"
    assert r["parties"][0]["identifier"] == "TJ1234567"  # the input is not mutated


def test_delivery_kinds() -> None:
    assert route.delivery_kind("UZ", ["UZ"], ["UZ"]) == "UPDATE"
    assert route.delivery_kind("UZ", [], ["UZ"]) == "CORRELATED"
    assert route.delivery_kind("UZ", ["TJ"], ["TJ"]) == "NEW"


def test_references_only_for_recipients_allowed_to_see_them() -> None:
    ref = {"report_id": "R-secret", "agency": "A", "state": "TJ", "kind": "ALERT", "event_time": 1,
           "incident_id": "I-1"}
    link = {"name": "x", "matched_name": "y", "score": 90.0, "report_id": "R-secret", "watchlist": None}
    wl = {"name": "x", "matched_name": "y", "score": 90.0, "report_id": None, "watchlist": "list"}
    enr = {"prior_reports": [ref], "also_reported_by": [ref], "entity_links": [link, wl]}
    items = route.feed_items(rep("GREEN"), enr, incident_id="I-1", settings=S, earlier_recipients=[],
                             incident_holders=[], allowed={"R-secret": {"UZ", "TJ"}}, routed_at=1)
    by = {i["recipient"]: i["enrichment"] for i in items}
    assert by["UZ"]["prior_reports"] == [ref] and by["UZ"]["also_reported_by"] == [ref]
    assert by["UZ"]["entity_links"] == [link, wl]
    assert by["RU"]["prior_reports"] == [] and by["RU"]["also_reported_by"] == []
    assert by["RU"]["entity_links"] == [wl]
