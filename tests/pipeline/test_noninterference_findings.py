"""Issue 12 findings 1-3, rebuilt against decide(): each is a leak of a hidden report into what a
recipient receives (SPEC §5 non-interference). Fixed scenarios; the generated ones are in
test_noninterference.py."""

from __future__ import annotations

import hashlib
from typing import Any

from hub.domain.report import report_id
from tests.conftest import TEST_ID_KEY
from tests.factories import report
from tests.pipeline.decide_support import T0, check_noninterference, run_events, view_of

DAY = 24 * 3600 * 1000
AGENCY = {"KZ": "KZ-CUSTOMS", "UZ": "UZ-CUSTOMS", "TJ": "TJ-DCA", "RU": "RU-FCS", "KG": "KG-DCS"}


def conv(**kw: Any) -> dict[str, Any]:
    return {"mode": "ROAD", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
            "wagon_number": None, "flight": None} | kw


def rep(state: str, tlp: str, ref: str, *, addressees: tuple[str, ...] = (), **kw: Any) -> dict[str, Any]:
    kw.setdefault("conveyance", conv(vehicle_plate=f"P{ref}"))
    kw.setdefault("event_time", T0 - DAY)
    return report(AGENCY[state], state, source_ref=ref, tlp=tlp, addressees=list(addressees), route=[],
                  location={"country": state, "place": None, "unlocode": None, "lat": None, "lon": None}, **kw)


def timed(reports: list[dict[str, Any]]) -> list[tuple[Any, int]]:
    return [(r, T0 + i * 1000) for i, r in enumerate(reports)]


def test_finding_1_risk_reasons_count_only_visible_agencies() -> None:
    """'+15 also reported by 1 other agency' reached a state that could not see that agency's report."""
    c = conv(container_numbers=["CSQU3054383"])
    hidden = rep("TJ", "RED", "F1-HIDDEN", addressees=("UZ",), conveyance=c)
    seen = rep("KZ", "GREEN", "F1-SEEN", conveyance=c)
    events = timed([hidden, seen])
    kg = [it for d in run_events(events) for it in d.feed_items if it["recipient"] == "KG"]
    assert [it["report"]["source_ref"] for it in kg] == ["F1-SEEN"]
    assert not any("also reported by" in x for x in kg[0]["enrichment"]["risk_reasons"]), \
        kg[0]["enrichment"]["risk_reasons"]
    assert check_noninterference(events) > 0


def test_finding_2_incident_id_is_not_derived_from_a_hidden_report() -> None:
    """The incident id of a report was sha256 of the hidden opening report's id: it told a recipient
    that an invisible report opened the incident, and with unkeyed report ids which one."""
    c = conv(vehicle_plate="01A777BC")
    hidden = rep("TJ", "RED", "KZ-CUS-2026-00017", addressees=("UZ",), conveyance=c)
    seen = rep("KZ", "GREEN", "F2-SEEN", conveyance=c)
    events = timed([hidden, seen])
    items = [it for d in run_events(events) for it in d.feed_items if it["recipient"] == "KG"]
    inc = items[0]["incident_id"]
    # the attack: sequential source_refs, every id formula the attacker can compute without the key
    for n in range(1, 200):
        ref = f"KZ-CUS-2026-{n:05d}"
        for agency in AGENCY.values():
            unkeyed = hashlib.sha256(f"{agency}:{ref}".encode()).hexdigest()
            for rid in (unkeyed, f"R-{unkeyed[:24]}"):
                assert inc != "I-" + hashlib.sha256(rid.encode()).hexdigest()[:20], "incident id reveals the report"
    # and the id is KG's own: the same as without the hidden report
    alone = [it for d in run_events(timed([seen])) for it in d.feed_items if it["recipient"] == "KG"]
    assert alone[0]["incident_id"] == inc
    assert check_noninterference(events) > 0


def _ref_sorting_after(prefix: str, bound: str) -> str:
    """A source_ref whose (keyed) report id sorts after ``bound``."""
    n = 0
    while True:
        ref = f"{prefix}-{n}"
        if report_id(TEST_ID_KEY, AGENCY["KZ"], ref) > bound:
            return ref
        n += 1


def test_finding_3_entity_links_are_cut_after_the_filter() -> None:
    """Entity links were cut to the top 50 before the per-recipient filter: reports a state cannot see
    decided which links it got."""
    p = [{"role": "DRIVER", "name": "Karimov Aziz", "country": "UZ", "identifier": None}]
    hidden = [rep("TJ", "RED", f"F3-H{i}", addressees=("UZ",), parties=p) for i in range(60)]
    bound = max(r["report_id"] for r in hidden)
    seen = rep("KZ", "GREEN", _ref_sorting_after("F3-SEEN", bound), parties=p)
    probe = rep("RU", "GREEN", "F3-PROBE", parties=p)
    events = timed([seen, *hidden, probe])
    kg = view_of(run_events(events), "KG")
    links = [x["report_id"] for x in kg[-1]["enrichment"]["entity_links"]]
    assert links == [seen["report_id"]]
    assert check_noninterference(events, recipients=["KG"]) == 1


def test_caps_apply_after_the_filter_under_hidden_volume() -> None:
    """150 hidden reports share the plate, the incident and the party name of a visible one, and
    bring 150 more names into the same name blocks: every cap (sightings per key, incident members,
    candidate names, links) is exceeded by hidden rows, and compaction runs -- KG's answer is the one
    it gets without them."""
    c = conv(vehicle_plate="01A555BC")
    p = {"role": "DRIVER", "country": "UZ", "identifier": None}
    seen = rep("KZ", "GREEN", "CAP-SEEN", conveyance=c, parties=[dict(p, name="Karimov Aziz")])
    hidden = [rep("TJ", "RED", f"CAP-H{i:03d}", addressees=("UZ",), conveyance=c,
                  parties=[dict(p, name="Karimov Aziz"), dict(p, name=f"Karimov Zafar {i:03d}")])
              for i in range(150)]
    probe = rep("RU", "GREEN", "CAP-PROBE", conveyance=c, parties=[dict(p, name="Aziz Karimov")])
    events = timed([seen, *hidden, probe])
    kg = view_of(run_events(events), "KG")[-1]
    assert kg["delivery"] == "CORRELATED"
    assert [x["report_id"] for x in kg["enrichment"]["prior_reports"]] == [seen["report_id"]]
    assert [x["report_id"] for x in kg["enrichment"]["entity_links"]] == [seen["report_id"]]
    assert [x["report_id"] for x in kg["enrichment"]["also_reported_by"]] == [seen["report_id"]]
    assert check_noninterference(events, recipients=["KG", "CARICC"]) == 2
