"""Non-interference of every analyst answer (SPEC §5, §14).

For a state R: take a sequence of report versions (with updates, some of them restricted) and the
same sequence without every version R may not receive and R's state did not send. Both go through
the same (synthetic, per-state) pipeline into two databases the way ``hub sink`` writes them —
every state's feed items and every receipt. Every answer R can get — incident pages, each incident,
search (words of the reports R may not see among the queries), statistics by every dimension, and
each export — must be identical from both databases (SQLite for five states, PostgreSQL for two).
R's own acknowledgements are the same in both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.analyst import exports
from hub.analyst.extract import DIMENSIONS
from hub.analyst.store import AnalystStore, Filters
from hub.domain.identifiers import compact
from hub.feeds.store import FeedStore
from hub.platform.settings import Settings
from tests.analyst import world
from tests.analyst.conftest import fill, fill_records
from tests.conftest import hub_settings
from tests.helpers import fresh_pg_database

STATES = ("CARICC", "KZ", "TJ", "GE", "AF")
BASE_QUERIES = ("heroin", "героин", "гашиш", "Khorgos", "Хоргос", "Afghanistan", "Казахстан", "dried apricots",
                "досмотре обнаружено", "officers found", "cargo", "Nizhniy Panj", "")
FILTERS = (Filters(), Filters(kinds=("SEIZURE",)), Filters(tlps=("AMBER", "GREEN")), Filters(directions=("sent",)),
           Filters(unacknowledged=True), Filters(from_ms=1763251200000, to_ms=1763596800000),
           Filters(substances=("HEROIN",), countries=("KZ",)))
# the exports the officer page makes: its feed (received) under the page's filters, a search, an incident
EXPORT_FILTERS = (*FILTERS[:3], Filters(directions=("received",), substances=("HEROIN",), countries=("KZ",)),
                  Filters(kinds=("SEIZURE",), substances=("HASHISH", "OPIUM"), countries=("AF", "TJ")))
EXPORT_QUERIES = ("heroin", "Khorgos", "Хоргос")


def answers(store: AnalystStore, state: str, queries: list[str]) -> dict[str, Any]:
    """Everything ``state`` can ask the analyst API, as plain data."""
    out: dict[str, Any] = {}
    pages, after = [], None
    while True:
        page = store.incidents(state, after=after, limit=7)
        pages.append(page)
        after = page["next_after"]
        if after is None:
            break
    out["incident_pages"] = pages
    ids = [i["incident_id"] for p in pages for i in p["incidents"]]
    out["incidents"] = {i: store.incident(state, i) for i in ids}
    out["labels"] = {p["label"]: store.find_incident(state, p["label"]) for pg in pages for p in pg["incidents"]}
    search: dict[str, Any] = {}
    for q in queries:
        for n, f in enumerate(FILTERS if q in BASE_QUERIES else FILTERS[:1]):
            first = store.search(state, q, f, limit=5)
            rest = store.search(state, q, f, limit=5, cursor=first["next"]) if first["next"] else None
            search[f"{q}|{n}"] = (first, rest)
    out["search"] = search
    out["stats"] = {(by, lo, hi): store.stats(state, by, lo, hi) for by in DIMENSIONS
                    for lo, hi in ((None, None), (1763251200000, 1763596800000))}
    out["filtered stats"] = {(by, n): store.stats(state, by, filters=f) for by in DIMENSIONS
                             for n, f in enumerate(EXPORT_FILTERS[1:])}
    searched = [q for q in queries if q in EXPORT_QUERIES or q not in BASE_QUERIES]
    for fmt in exports.Writer.FORMATS:
        for n, f in enumerate(EXPORT_FILTERS):
            rows = list(store.batches(state, f, size=9))
            cursors = store.cursors(r["source_id"] for b in rows for r in b)
            out[f"export {fmt} {n}"] = exports.document(fmt, rows, cursors)
        for q in searched:  # an export of a search: every page of it (words of unseen reports among them)
            for n, f in enumerate(EXPORT_FILTERS[3:4] if fmt == "csv" else ()):
                rows = list(store.search_batches(state, q, f, size=7))
                cursors = store.cursors(r["source_id"] for b in rows for r in b)
                out[f"export {fmt} q={q} {n}"] = exports.document(fmt, rows, cursors)
            if fmt == "csv":
                rows = list(store.search_batches(state, q, Filters(), size=7))
                out[f"export {fmt} q={q}"] = exports.document(fmt, rows, store.cursors(
                    r["source_id"] for b in rows for r in b))
    return out


def forbidden_words(sequence: list[dict[str, Any]], state: str, settings: Settings) -> list[str]:
    """Search words taken from reports ``state`` may not see (names, containers, plates, places)."""
    seen = {r["report_id"] for r in world.reduced(sequence, state, settings)}
    words: list[str] = []
    for r in sequence:
        if r["report_id"] in seen:
            continue
        conv = r.get("conveyance") or {}
        words += [p["name"] for p in r.get("parties") or []][:1]
        words += [compact(c) for c in conv.get("container_numbers") or []][:1]
        words += [conv["vehicle_plate"]] if conv.get("vehicle_plate") else []
        words += [(r.get("location") or {}).get("place") or ""]
        if len(words) > 24:
            break
    return sorted(set(words) - {""})


def sent(receipt: dict[str, Any]) -> dict[str, Any]:
    """A receipt without the recipients' delivery kinds (which the analyst views leave out)."""
    return {**receipt, "recipients": [{**r, "delivery": None} for r in receipt["recipients"]]}


def acknowledge_some(url: str, state: str) -> None:
    """The same acknowledgements in both databases: every third item of ``state``'s feed."""
    from hub.platform.db import Database

    fs = FeedStore(Database(url))
    for i, v in enumerate(fs.page(state, 0, 10_000)):
        if i % 3 == 0:
            fs.acknowledge(state, v["report_id"], v["version"], f"officer:{state.lower()}-desk", 1763600000000 + i)


@pytest.fixture(scope="module")
def sequence() -> list[dict[str, Any]]:
    return world.with_updates(world.reports(hub_settings(), 160, seed=23))


@pytest.mark.parametrize("state", STATES)
def test_answers_do_not_depend_on_reports_the_state_may_not_see(state: str, sequence: list[dict[str, Any]],
                                                                 tmp_path: Path) -> None:
    compare(state, sequence, f"sqlite:///{tmp_path / 'full.db'}", f"sqlite:///{tmp_path / 'reduced.db'}")


@pytest.mark.parametrize("state", ("CARICC", "AF"))
def test_answers_do_not_depend_on_reports_the_state_may_not_see_postgresql(
        state: str, sequence: list[dict[str, Any]], pg_server: str) -> None:
    compare(state, sequence, fresh_pg_database(pg_server, f"ni_full_{state.lower()}"),
            fresh_pg_database(pg_server, f"ni_reduced_{state.lower()}"))


def compare(state: str, sequence: list[dict[str, Any]], full_url: str, red_url: str) -> None:
    settings = hub_settings()
    small = world.reduced(sequence, state, settings)
    assert 0 < len(small) < len(sequence)
    full_items, full_receipts = world.build(sequence, settings)
    red_items, red_receipts = world.build(small, settings)
    # the premise: the (synthetic) pipeline gives this state the same feed and receipts either way
    assert [i for i in full_items if i["recipient"] == state] == [i for i in red_items if i["recipient"] == state]
    assert [sent(r) for r in full_receipts if r["state"] == state] == [sent(r) for r in red_receipts
                                                                        if r["state"] == state]
    # other states' feeds or receipts differ: the full store holds more
    assert len(full_items) + len(full_receipts) > len(red_items) + len(red_receipts)

    # the sink sees R's records in processing order in both worlds, batched with whatever else arrives
    full = fill_records(full_url, world.records(sequence, settings), settings, batch=37)
    reduced = fill_records(red_url, world.records(small, settings), settings, batch=23)
    acknowledge_some(full_url, state), acknowledge_some(red_url, state)
    queries = [*BASE_QUERIES, *forbidden_words(sequence, state, settings)]
    a, b = answers(full, state, queries), answers(reduced, state, queries)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], f"{state}: {key} differs between the full and the reduced store"
    # and the answers are not trivially empty
    assert a["incidents"] and any(p[0]["results"] for p in a["search"].values())
    assert any(s["buckets"] for s in a["stats"].values())


def test_a_state_never_finds_counts_or_exports_a_report_it_may_not_see(sequence: list[dict[str, Any]],
                                                                       tmp_path: Path) -> None:
    settings = hub_settings()
    items, receipts = world.build(sequence, settings)
    store = fill(f"sqlite:///{tmp_path / 'hub.db'}", items, receipts, settings)
    for state in STATES:
        mine = {i["report"]["report_id"] for i in items if i["recipient"] == state} | {
            r["report_id"] for r in receipts if r["state"] == state}
        found = {v["report_id"] for q in (*BASE_QUERIES, *forbidden_words(sequence, state, settings))
                 for v in store.search(state, q, Filters(), limit=200)["results"]}
        assert found <= mine
        exported = {r["report_id"] for b in store.batches(state, Filters()) for r in b}
        assert exported == mine
        for f in EXPORT_FILTERS:  # a filtered export holds a part of the state's own reports, never more
            assert {r["report_id"] for b in store.batches(state, f) for r in b} <= mine
        for q in (*EXPORT_QUERIES, *forbidden_words(sequence, state, settings)):
            assert {r["report_id"] for b in store.search_batches(state, q, Filters()) for r in b} <= mine
        assert store.stats(state, "month")["total"]["reports"] == len(mine)
        in_incidents = {rid for p in [store.incidents(state, limit=500)] for i in p["incidents"]
                        for rid in [r["report_id"] for r in store.incident(state, i["incident_id"])["report_list"]]}
        assert in_incidents == mine


def on_screen(report: dict[str, Any], substances: tuple[str, ...], countries: tuple[str, ...]) -> bool:
    """The officer page's Substance and Country filters (app.js ``matches``), in Python."""
    held = {s["type"] for s in report.get("substances") or []}
    touched = {(report.get("location") or {}).get("country"), report.get("reporter_state"),
               *((p or {}).get("country") for p in report.get("route") or [])}
    return (not substances or bool(held & set(substances))) and (not countries or bool(touched & set(countries)))


@pytest.mark.parametrize(("substances", "countries"), [(("HEROIN",), ()), ((), ("KZ",)), (("HEROIN",), ("AF",)),
                                                        (("HASHISH", "OPIUM"), ("TJ", "UZ"))])
def test_substance_and_country_filters_select_what_the_page_shows(sequence: list[dict[str, Any]], tmp_path: Path,
                                                                  substances: tuple[str, ...],
                                                                  countries: tuple[str, ...]) -> None:
    settings = hub_settings()
    items, receipts = world.build(sequence, settings)
    store = fill(f"sqlite:///{tmp_path / 'hub.db'}", items, receipts, settings)
    chosen = Filters(substances=substances, countries=countries)
    total = 0
    for state in STATES:
        every = [r for b in store.batches(state, Filters()) for r in b]
        expected = {r["report_id"] for r in every if on_screen(r["body"]["report"], substances, countries)}
        assert {r["report_id"] for b in store.batches(state, chosen) for r in b} == expected
        # the search applies them too, and its export is every page of it
        page = store.search(state, "", chosen, limit=500)
        assert {v["report_id"] for v in page["results"]} == expected
        for q in ("Khorgos", "heroin"):
            listed = {v["report_id"] for v in store.search(state, q, chosen, limit=500)["results"]}
            assert {r["report_id"] for b in store.search_batches(state, q, chosen, size=3) for r in b} == listed
            assert listed <= expected
        total += len(expected)
        # the charts count the same reports (one month each)
        assert store.stats(state, "month", filters=chosen)["total"]["reports"] == len(expected)
        by_sub = store.stats(state, "substance", filters=chosen)["buckets"]
        assert {b["key"] for b in by_sub} == {s["type"] for r in every if r["report_id"] in expected
                                              for s in r["body"]["report"].get("substances") or []}
    assert 0 < total < sum(len([r for b in store.batches(s, Filters()) for r in b]) for s in STATES)
