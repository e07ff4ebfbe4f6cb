"""The §5 routing table, written out by hand, against hub.pipeline.core.route."""

from __future__ import annotations

import pytest

from hub.pipeline.core import route
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
    partner = route.redact(r)
    assert all(p["identifier"] is None for p in partner["parties"])
    assert partner["parties"][0]["name"] == "Рахимов Фаррух"
    # handling code and evaluation travel with the partner copy; nothing else changes
    assert partner["handling_code"] == "H1" and partner["evaluation"] == {"source": "B", "information": 2}
    assert {k: v for k, v in partner.items() if k != "parties"} == {k: v for k, v in r.items() if k != "parties"}
    assert r["parties"][0]["identifier"] == "TJ1234567"  # the input is not mutated
