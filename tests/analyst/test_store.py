"""The analyst store on SQLite (FTS5) and PostgreSQL (tsvector/trigram): search readings, filters,
cursors, incidents, statistics kept incrementally, idempotent replays, labels."""

from __future__ import annotations

from typing import Any

import pytest

from hub.analyst.label import label, parse_label
from hub.analyst.store import AnalystStore, BadRequest, Filters
from hub.platform.settings import Settings
from tests.analyst.conftest import fill
from tests.factories import feed_item, report
from tests.feeds.test_feed_http import item


def receipt(ref: str, state: str = "UZ", agency: str = "UZ-CUSTOMS", incident: str = "I-SENT", **over: Any) -> dict:
    rep = report(agency=agency, state=state, source_ref=ref, **over)
    return {"receipt_id": f"{rep['report_id']}:{rep['version']}", "report_id": rep["report_id"],
            "version": rep["version"], "agency": agency, "state": state, "incident_id": incident, "report": rep,
            "recipients": [{"recipient": "KZ", "delivery": "CORRELATED", "reason": "on the route", "redacted": False}],
            "routed_at": rep["received_at"]}


def corpus() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    a = item("UZ", "S-1", incident="I-1")  # heroin, container CSQU3054383, plate 01A123BC, Рахимов Фаррух
    b = item("UZ", "S-2", incident="I-1", kind="ALERT", substances=[], risk_indicators=["new consignee"],
             narrative="При досмотре в бензобаке обнаружены пакеты с героином.",
             conveyance={"mode": "ROAD", "container_numbers": [], "transport_document": "CMR 1374502",
                         "vehicle_plate": "01 А 123 ВС", "wagon_number": None, "flight": None})
    c = item("UZ", "S-3", incident="I-2", tlp="GREEN",
             parties=[{"role": "SHIPPER", "name": "ООО «Худжанд Транс»", "country": "TJ", "identifier": None}],
             substances=[{"type": "HASHISH", "name": "чарс", "quantity": 800, "unit": "G", "concealment": "BAGGAGE",
                          "concealment_detail": "false bottom of a suitcase"}],
             location={"country": "TJ", "place": "Nizhniy Panj", "unlocode": None, "lat": None, "lon": None},
             narrative="Hashish found in the false bottom of a suitcase.",
             conveyance={"mode": "RAIL", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
                         "wagon_number": "5432 1234", "flight": None})
    c["enrichment"] = {**c["enrichment"], "party_names": [{"name": "ООО «Худжанд Транс»",
                                                           "latin": 'OOO "Khudzhand Trans"'}]}
    other = item("KZ", "S-9", incident="I-9", narrative="Only the KZ feed has this: opium in melons.")
    mine = receipt("UZ-OWN-1", narrative="Our own seizure of cocaine at Termez.", conveyance=None, parties=[],
                   location={"country": "UZ", "place": "Termez", "unlocode": "UZTMZ", "lat": None, "lon": None},
                   substances=[{"type": "COCAINE", "name": None, "quantity": 2, "unit": "KG", "concealment": "BODY",
                                "concealment_detail": None}])
    return [a, b, c, other], [mine]


@pytest.fixture
def store(db_url: str, settings: Settings) -> AnalystStore:
    items, receipts = corpus()
    return fill(db_url, items, receipts, settings, batch=2)


def refs(page: dict[str, Any]) -> list[str]:
    return [r["item"]["report"]["source_ref"] for r in page["results"]]


@pytest.mark.parametrize(("q", "want"), [
    ("CSQU 305438-3", {"S-1"}),  # container in any formatting
    ("csqu3054383", {"S-1"}),
    ("CSQU305", {"S-1"}),  # a prefix with digits
    ("01 А 123 ВС", {"S-1", "S-2"}),  # Cyrillic look-alikes, spaces
    ("01a123bc", {"S-1", "S-2"}),
    ("1374502", {"S-2"}),  # the number of a transport document
    ("54321234", {"S-3"}),  # wagon
    ("Rakhimov", {"S-1", "S-2"}),  # Latin for a Cyrillic name
    ("Рахимов Фаррух", {"S-1", "S-2"}),
    ("Farrukh Rahimov", {"S-1", "S-2"}),  # word order, spelling variant
    ("Rahimof", {"S-1", "S-2"}),  # fuzzy
    ("Khujand", {"S-3"}),  # another transliteration of Худжанд
    ("худжанд транс", {"S-3"}),
    ("героин", {"S-1", "S-2"}),  # substance type through the Russian synonym; narrative in Russian
    ("heroin", {"S-1", "S-2"}),  # the English word finds the Russian narrative too
    ("гашиш", {"S-3"}),
    ("charas", {"S-3"}),
    ("бензобак", {"S-2"}),  # Russian stem: бензобаке
    ("suitcases", {"S-3"}),  # English stem
    ("Nizhniy Panj", {"S-3"}),
    ("Таджикистан", {"S-3"}),  # a country in Russian
    ("Kazakhstan", {"S-1", "S-2", "S-3", "UZ-OWN-1"}),  # every route ends in KZ
    ("cocaine", {"UZ-OWN-1"}),  # what the state sent
    ("opium melons", set()),  # only in another state's feed
    ("nonexistentword", set()),
])
def test_search_readings(store: AnalystStore, q: str, want: set[str]) -> None:
    assert set(refs(store.search("UZ", q, Filters(), limit=50))) == want


def test_identifier_hits_rank_first_and_filters_apply(store: AnalystStore) -> None:
    page = store.search("UZ", "01A123BC heroin", Filters(), limit=10)
    assert refs(page)[:1] in (["S-1"], ["S-2"])
    assert set(refs(store.search("UZ", "heroin", Filters(kinds=("ALERT",))))) == {"S-2"}
    assert set(refs(store.search("UZ", "", Filters(tlps=("GREEN",))))) == {"S-3"}
    assert set(refs(store.search("UZ", "", Filters(directions=("sent",))))) == {"UZ-OWN-1"}
    assert set(refs(store.search("UZ", "", Filters()))) == {"S-1", "S-2", "S-3", "UZ-OWN-1"}
    res = store.search("UZ", "героин", Filters())["results"]
    received = [r for r in res if r["direction"] == "received"]
    assert all(r["cursor"] >= 1 and r["item_id"].endswith(":UZ") and r["incident_label"] == label(r["incident_id"])
               for r in received)


def test_pages_continue_with_a_cursor(store: AnalystStore) -> None:
    first = store.search("UZ", "", Filters(), limit=3)
    assert len(first["results"]) == 3 and first["next"]
    second = store.search("UZ", "", Filters(), limit=3, cursor=first["next"])
    assert second["next"] is None
    assert len({*refs(first), *refs(second)}) == 4
    with pytest.raises(BadRequest):
        store.search("UZ", "", Filters(), cursor="x; DROP TABLE analyst_docs")


def test_query_syntax_is_never_interpreted(store: AnalystStore) -> None:
    for q in ('"', "heroin OR *", "NEAR(a b)", "{ids}:x", "a' | 'b", "::*", "AND", "(((", "\\"):
        store.search("UZ", q, Filters())  # no syntax error reaches the caller


def test_unacknowledged_filter(store: AnalystStore) -> None:
    from hub.feeds.store import FeedStore

    s1 = store.search("UZ", "CSQU3054383", Filters())["results"][0]
    FeedStore(store.db).acknowledge("UZ", s1["report_id"], s1["version"], "officer:uz", 1)
    assert set(refs(store.search("UZ", "", Filters(unacknowledged=True)))) == {"S-2", "S-3"}


def test_incidents_detail_and_labels(store: AnalystStore) -> None:
    page = store.incidents("UZ")
    by_id = {i["incident_id"]: i for i in page["incidents"]}
    assert set(by_id) == {"I-1", "I-2", "I-SENT"}
    assert by_id["I-1"]["reports"] == 2 and by_id["I-1"]["seizures"] == 1 and by_id["I-1"]["alerts"] == 1
    assert by_id["I-SENT"]["sent"] == 1
    d = store.incident("UZ", "I-1")
    assert d is not None and d["label"] == label("I-1")
    shared = {(i["type"], i["value"]) for i in d["shared_identifiers"]}
    assert ("plate", "01A123BC") in shared
    assert [p["latin"] for p in d["parties"]] == ["Rakhimov Farrukh"]
    assert [(t["type"], t["kg"]) for t in d["substance_totals"]] == [("HEROIN", 12.5)]
    assert {e["event"] for e in d["timeline"]} == {"seized", "alerted", "received"}
    assert [e["at"] for e in d["timeline"]] == sorted(e["at"] for e in d["timeline"])
    assert d["routes"] and d["locations"][0]["country"] == "KZ"
    # by label, typed any way; another state's incident is not found
    lbl = label("I-2")
    assert store.find_incident("UZ", lbl.lower().replace("-", "")) == "I-2"
    assert store.find_incident("UZ", lbl.replace("0", "O")) == "I-2"
    assert store.incident("UZ", "I-9") is None and store.incident("KZ", "I-1") is None
    # pages
    p1 = store.incidents("UZ", limit=2)
    p2 = store.incidents("UZ", after=p1["next_after"], limit=2)
    assert len(p1["incidents"]) == 2 and len(p2["incidents"]) == 1 and p2["next_after"] is None


def test_stats(store: AnalystStore) -> None:
    sub = store.stats("UZ", "substance")
    assert {b["key"]: (b["reports"], b["kg"]) for b in sub["buckets"]} == {
        "HEROIN": (1, 12.5), "HASHISH": (1, 0.8), "COCAINE": (1, 2.0)}
    assert sub["total"] == {"reports": 4, "kg": 15.3}
    assert {b["key"] for b in store.stats("UZ", "route_country")["buckets"]} >= {"AF", "KZ", "TJ"}
    assert {b["key"]: b["reports"] for b in store.stats("UZ", "agency")["buckets"]} == {"KZ-CUSTOMS": 3,
                                                                                        "UZ-CUSTOMS": 1}
    cps = {b["key"] for b in store.stats("UZ", "crossing_point")["buckets"]}
    assert cps == {"Khorgos / Altynkol (KZ-CN)", "Nizhniy Panj bridge (TJ-AF)",
                   "Termez / Hairatan Friendship Bridge (UZ-AF)"}
    assert store.stats("UZ", "month", 0, 1)["buckets"] == []
    with pytest.raises(BadRequest):
        store.stats("UZ", "colour")


def test_update_moves_statistics_and_replay_changes_nothing(db_url: str, settings: Settings) -> None:
    v1 = item("UZ", "U-1", incident="I-U")
    v2 = item("UZ", "U-1", version=2, incident="I-U", substances=[
        {"type": "HEROIN", "name": None, "quantity": 20, "unit": "KG", "concealment": "CARGO", "concealment_detail": None},
        {"type": "OPIUM", "name": None, "quantity": 3, "unit": "KG", "concealment": "CARGO", "concealment_detail": None}])
    v2["delivery"] = "UPDATE"
    store = fill(db_url, [v1, v2, v1, v2], [], settings, batch=1)  # redeliveries, and v1 again after v2
    assert {b["key"]: (b["reports"], b["kg"]) for b in store.stats("UZ", "substance")["buckets"]} == {
        "HEROIN": (1, 20.0), "OPIUM": (1, 3.0)}
    assert store.stats("UZ", "month")["total"] == {"reports": 1, "kg": 23.0}
    (res,) = store.search("UZ", "opium", Filters())["results"]
    assert res["version"] == 2
    d = store.incident("UZ", "I-U")
    assert d is not None and [e["event"] for e in d["timeline"] if e["event"] != "seized"] == ["received", "updated"]
    before = (store.incidents("UZ"), store.stats("UZ", "substance"))
    fill(db_url, [v2, v1], [], settings)
    assert (store.incidents("UZ"), store.stats("UZ", "substance")) == before


def test_labels() -> None:
    lbl = label("I-0123456789abcdef0123")
    assert len(lbl) == 9 and lbl[4] == "-" and lbl == label("I-0123456789abcdef0123")
    assert not set(lbl) & set("ILOU")
    assert parse_label(lbl.lower()) == lbl and parse_label("not a label") is None
    assert len({label(f"I-{n}") for n in range(5000)}) == 5000


def test_state_names_are_checked(db_url: str, settings: Settings) -> None:
    bad = feed_item(recipient="x; DROP TABLE feed_items", item_id="r:1:x")
    with pytest.raises(BadRequest):
        fill(db_url, [bad], [], settings)


def test_a_broad_query_is_ranked_among_its_newest_matches(store: AnalystStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.analyst import store as store_mod

    everything = store.search("UZ", "Kazakhstan", Filters(), limit=50)
    assert len(everything["results"]) == 4 and everything["window"] is None
    monkeypatch.setattr(store_mod, "WINDOW", 2)
    for f in (Filters(), Filters(from_ms=0, to_ms=2**42), Filters(unacknowledged=True)):
        page = store.search("UZ", "Kazakhstan", f, limit=1)
        assert page["window"] == 2 and len(page["results"]) == 1
        # the unacknowledged filter may leave one document of the window (the state's own sent report
        # is among the two newest when it was written last): then there is no next page
        assert page["next"] or f.unacknowledged
        rest = store.search("UZ", "Kazakhstan", f, limit=5, cursor=page["next"]) if page["next"] else {
            "results": [], "next": None}
        got = [r["report_id"] for r in page["results"] + rest["results"]]
        assert len(got) <= 2 and len(set(got)) == len(got) and rest["next"] is None
        if f.unacknowledged:
            assert all(r["direction"] == "received" for r in page["results"] + rest["results"])


def company(ref: str, name: str, place: str, **over: Any) -> dict[str, Any]:
    return item("UZ", ref, incident=f"I-{ref}", kind="ALERT", substances=[], risk_indicators=["new consignee"],
                narrative="Consignment held for checks.", conveyance=None,
                parties=[{"role": "CONSIGNEE", "name": name, "country": "KZ", "identifier": None}],
                location={"country": "KZ", "place": place, "unlocode": None, "lat": None, "lon": None},
                route=[], **over)


@pytest.mark.parametrize(("q", "want"), [
    ("Zhibek Zholy Trans LLP", {"C-1"}),  # the full Latin name with its legal form finds the Cyrillic one
    ("ТОО Жибек Жолы Транс", {"C-1"}),
    ("Жибек Жолы Транс", {"C-1"}),
    ("Romashka LLC", {"C-2"}),  # ООО ↔ LLC
    ("ООО Ромашка", {"C-2"}),
    ("KazTransOil JSC", {"C-3"}),  # АО ↔ JSC
    ("IE Ivanov", {"C-4"}),  # ИП ↔ IE
    ("LLP", {"C-1", "C-5"}),  # a legal form alone: in every script
    ("ТОО", {"C-1", "C-5"}),
    ("ИП", {"C-4"}),
    ("Хоргос", {"C-1", "C-2", "C-3"}),  # place names across scripts, both ways
    ("Khorgos", {"C-1", "C-2", "C-3"}),
    ("Хоргосе", {"C-1", "C-2", "C-3"}),  # a Russian case ending
    ("Алматы", {"C-4", "C-5"}),
    ("Almaty", {"C-4", "C-5"}),
])
def test_names_and_places_across_scripts_and_legal_forms(db_url: str, settings: Settings, q: str,
                                                        want: set[str]) -> None:
    items = [company("C-1", "ТОО «Жибек Жолы Транс»", "Хоргос"), company("C-2", "ООО Ромашка", "Khorgos"),
             company("C-3", "АО «КазТрансОйл»", "Хоргос"), company("C-4", "ИП Иванов", "Алматы"),
             company("C-5", "Silk Way Cargo LLP", "Almaty")]
    store = fill(db_url, items, [], settings, batch=2)
    assert set(refs(store.search("UZ", q, Filters(), limit=50))) == want


@pytest.mark.parametrize(("q", "field", "text"), [
    ("бензобак", "narrative", "При досмотре в бензобаке обнаружены пакеты с героином."),
    ("CSQU 305438-3", "container", "CSQU3054383"),
    ("Rakhimov", "party", "Рахимов Фаррух"),
    ("1374502", "transport_document", "CMR 1374502"),
    ("Khujand", "party", "ООО «Худжанд Транс»"),
    ("charas", "substance", "HASHISH"),
])
def test_results_say_where_they_matched(store: AnalystStore, q: str, field: str, text: str) -> None:
    results = store.search("UZ", q, Filters(), limit=50)["results"]
    assert results and all({"field": field, "text": text} in r["why"] for r in results), [r["why"] for r in results]
