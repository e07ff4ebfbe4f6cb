"""SECURITY finding 10: one report with 500 parties took seconds of entity linking and stalled
routing. The fix is a count-based budget (hub/pipeline/core/parties.py): the first MAX_LINKED_PARTIES
party names are linked, each against at most MAX_NAME_CANDIDATES candidate names per view, at most
MAX_LINKS links per item. These tests count the name comparisons decide() makes -- every call of
the scorer, through ``enrich.fuzz`` -- never the time they take.

The shared name index is filled so every cap is reached: hundreds of earlier reports whose party
names share the 500-party report's name blocks (and match them), in one view or spread over the
views the report is routed to.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from rapidfuzz import fuzz

from hub.domain.report import MAX_LIST
from hub.pipeline.core import decide as decide_mod
from hub.pipeline.core import enrich
from hub.pipeline.core.parties import MAX_LINKED_PARTIES, MAX_LINKS, MAX_NAME_CANDIDATES
from tests.factories import report
from tests.pipeline.decide_support import T0, Runner

DAY = 24 * 3600 * 1000
AGENCY = {"KZ": "KZ-CUSTOMS", "AF": "AF-CNPA"}
PAIRS = [a + b for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghijklmnopqrstuvwxyz"]  # 2 letters: no block


def _party(name: str) -> dict[str, Any]:
    return {"role": "DRIVER", "name": name, "country": "UZ", "identifier": None}


def _rep(state: str, ref: str, tlp: str, names: Sequence[str], addressees: Sequence[str] = ()) -> dict[str, Any]:
    return report(AGENCY[state], state, source_ref=ref, tlp=tlp, addressees=list(addressees), route=[],
                  location={"country": state, "place": None, "unlocode": None, "lat": None, "lon": None},
                  conveyance={"mode": "ROAD", "container_numbers": [], "transport_document": None,
                              "vehicle_plate": f"WB{ref}", "wagon_number": None, "flight": None},
                  parties=[_party(n) for n in names], event_time=T0 - DAY)


def big_report(parties: int = MAX_LIST) -> dict[str, Any]:
    """A GREEN report of KZ with ``parties`` distinct names, all in the blocks 'kar' and 'azi'."""
    return _rep("KZ", "WB-BIG", "GREEN", [f"Karimov Aziz {PAIRS[i]}" for i in range(parties)])


@dataclass
class Work:
    """Scorer calls per purpose while one decide() runs."""

    link_pools: list[int] = field(default_factory=list)  # candidate pool size per scored party name
    link_comparisons: int = 0
    watchlist_comparisons: int = 0
    phase: str = "watchlist"


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    """Counts every name comparison of enrich (the scorer), split into entity links and watchlists."""
    w = Work()
    real_scored = enrich.scored_names

    def scorer(a: str, b: str, **kw: Any) -> float:
        if w.phase == "links":
            w.link_comparisons += 1
        else:
            w.watchlist_comparisons += 1
        return float(fuzz.token_sort_ratio(a, b, **kw))

    def scored(name: str, pool: Sequence[str]) -> dict[str, float]:
        w.link_pools.append(len(pool))
        w.phase = "links"
        try:
            return real_scored(name, pool)
        finally:
            w.phase = "watchlist"

    monkeypatch.setattr(enrich, "fuzz", SimpleNamespace(token_sort_ratio=scorer))
    monkeypatch.setattr(enrich, "scored_names", scored)
    monkeypatch.setattr(enrich, "_WATCH", {})  # no cached watchlist results: every comparison counts
    yield w


def _filled(prefill: list[dict[str, Any]]) -> Runner:
    run = Runner()
    run.run(prefill)
    return run


def _decide_big(run: Runner, w: Work, big: dict[str, Any]) -> Any:
    """The Decision for ``big`` on ``run``'s state, counting only that call's work."""
    w.link_pools.clear()
    w.link_comparisons = w.watchlist_comparisons = 0
    enrich._WATCH.clear()  # names of the prefill were screened already: count the report's own work
    return run.step(big)


def test_500_party_report_scores_at_most_the_caps_when_every_view_sees_the_same_names(work: Work) -> None:
    """The index holds 300 matching names of earlier CLEAR reports (one shared pool, every view sees
    every name): 20 party names x 50 candidates are scored, not 500 x 300."""
    run = _filled([_rep("KZ", f"WB-C{i:03d}", "CLEAR", [f"Karimov Aziz {PAIRS[i]}"]) for i in range(300)])
    big = big_report()
    d = _decide_big(run, work, big)
    assert len(big["parties"]) == MAX_LIST == 500
    assert len(work.link_pools) == MAX_LINKED_PARTIES, work.link_pools  # only the first 20 names are scored
    assert max(work.link_pools) == MAX_NAME_CANDIDATES  # the cap is reached ...
    assert work.link_comparisons == sum(work.link_pools) <= MAX_LINKED_PARTIES * MAX_NAME_CANDIDATES  # ... held
    items = d.feed_items
    assert items and all(len(it["enrichment"]["entity_links"]) == MAX_LINKS for it in items)
    # watchlist screening is not part of the link budget: every party against every entry, once
    entries = len(enrich.refdata().watchlists)
    assert work.watchlist_comparisons == len(big["parties"]) * entries
    print(f"work budget, one shared pool: {work.link_comparisons} link comparisons "
          f"(cap {MAX_LINKED_PARTIES} x {MAX_NAME_CANDIDATES} = {MAX_LINKED_PARTIES * MAX_NAME_CANDIDATES}), "
          f"{work.watchlist_comparisons} watchlist comparisons ({len(big['parties'])} parties x {entries} entries)")


@pytest.mark.parametrize("per_view", [60, 90])
def test_500_party_report_scores_at_most_the_caps_per_view(work: Work, per_view: int) -> None:
    """Every view the report reaches has its own ``per_view`` newest matching names (RED reports of
    AF, each addressed to one recipient): each party name is scored once against the union of the
    views' newest MAX_NAME_CANDIDATES -- at most MAX_NAME_CANDIDATES per view, whatever the index holds."""
    big = big_report()
    targets = ["KG", "TJ", "TM", "UZ", "AZ", "RU", "CARICC"]  # the recipients of a GREEN report of KZ
    assert len(targets) * per_view <= len(PAIRS)
    prefill = [_rep("AF", f"WB-{t}-{i:02d}", "RED", [f"Karimov Aziz {PAIRS[k * per_view + i]}"], addressees=[t])
               for k, t in enumerate(targets) for i in range(per_view)]
    run = _filled(prefill)
    d = _decide_big(run, work, big)
    views = len(targets)  # links are computed for the recipients' views
    assert {it["recipient"] for it in d.feed_items} == set(targets)
    assert len(work.link_pools) == MAX_LINKED_PARTIES
    assert work.link_comparisons == sum(work.link_pools)
    assert max(work.link_pools) == views * MAX_NAME_CANDIDATES  # each view's own newest 50 ...
    assert work.link_comparisons <= MAX_LINKED_PARTIES * MAX_NAME_CANDIDATES * views  # ... and no more
    for it in d.feed_items:  # each recipient links only to names it may see, newest first, capped
        links = it["enrichment"]["entity_links"]
        assert len(links) == MAX_LINKS
        assert {x["report_id"] for x in links} <= {r["report_id"] for r in prefill
                                                     if it["recipient"] in r["addressees"]}
    print(f"work budget, {views} views, {per_view} names each: {work.link_comparisons} link comparisons (cap per view "
          f"{MAX_LINKED_PARTIES} x {MAX_NAME_CANDIDATES}; x {views} views = "
          f"{MAX_LINKED_PARTIES * MAX_NAME_CANDIDATES * views}), {work.watchlist_comparisons} watchlist comparisons")


def test_the_linked_party_cap_is_what_decide_uses() -> None:
    """decide() links the first MAX_LINKED_PARTIES distinct names of a report, in report order."""
    names = decide_mod.link_names(big_report())
    assert len(names) == MAX_LINKED_PARTIES
    assert list(names) == [p["name"] for p in big_report()["parties"][:MAX_LINKED_PARTIES]]
