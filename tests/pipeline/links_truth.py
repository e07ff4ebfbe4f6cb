"""Ground truth for entity links: a labelled scenario and its recall/precision per feed item.

The simulator's world labels every party name with the real party it names
(:data:`hub.tools.simulator.world.WHO`: "Рахимов Фаррух Абдуллоевич" and "Rakhimov Farrukh" are one
person). For every feed item (recipient R, report X), the *expected* links are the pairs
``(party, Y)``: a party of X (its first MAX_LINKED_PARTIES distinct names) and an earlier report Y
that R may see (routed to R, or sent by R's state) naming the same party in a version R may see.
Nothing here calls the matching code under test except :func:`hub.pipeline.core.enrich.name_score`,
the similarity the links are ordered by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.pipeline.core.decide import Decision, link_names
from hub.pipeline.core.enrich import name_score
from hub.pipeline.core.parties import MAX_LINKS
from hub.tools.bench import workload
from hub.tools.simulator.world import WHO
from tests.pipeline.decide_support import SETTINGS, Runner

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def labelled_reports(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` valid simulator reports (Avro form, updates included), deterministic per seed."""
    return [it.report for it in workload.generate(count, seed=seed, settings=SETTINGS, now=NOW)]


@dataclass
class Scores:
    """Recall and precision over the feed items of a run."""

    items: int = 0
    expected_items: int = 0  # items with at least one expected link
    recall_sum: float = 0.0  # per item: found ∩ expected / min(expected, MAX_LINKS)
    missed_below_cap: int = 0  # expected pairs missing from items with fewer than MAX_LINKS expected pairs
    wrong: list[str] = field(default_factory=list)  # links to another party or an invisible report
    misordered: list[str] = field(default_factory=list)  # not most similar, then most recent, first
    shown: int = 0
    right: int = 0
    below_cap: int = 0  # items with expected links and fewer expected pairs than MAX_LINKS
    pairs_below_cap: int = 0  # their expected pairs
    at_cap: int = 0  # items with at least MAX_LINKS expected pairs
    across_spellings: int = 0  # right links between two different spellings of a party
    without_patronymic: int = 0  # right links between a name with and one without a patronymic

    @property
    def recall(self) -> float:
        return self.recall_sum / self.expected_items if self.expected_items else 1.0

    @property
    def recall_below_cap(self) -> float:
        """Of the expected links of items below the cap, the share shown."""
        return 1 - self.missed_below_cap / self.pairs_below_cap if self.pairs_below_cap else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.shown if self.shown else 1.0

    def line(self) -> str:
        return (f"entity links: {self.items} items ({self.expected_items} with expected links), recall "
                f"{self.recall:.4f} (below the cap {self.recall_below_cap:.4f}: {self.missed_below_cap} of "
                f"{self.pairs_below_cap} missed), precision {self.precision:.4f}, {len(self.misordered)} items "
                f"misordered or holding the wrong {MAX_LINKS}")


class Truth:
    """What each view may see so far: view -> party -> report -> (position first seen, the names
    written for that party in it)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, dict[str, tuple[int, set[str]]]]] = {}

    def expected(self, view: str, report: Mapping[str, Any]) -> dict[tuple[str, str], tuple[float, int]]:
        """(party, earlier report) -> (similarity, position) for the item of ``report`` sent to ``view``;
        the similarity of the best-matching pair of names when a party is written twice."""
        out: dict[tuple[str, str], tuple[float, int]] = {}
        known = self.seen.get(view, {})
        for name in link_names(report):
            who = WHO[name]
            for other, (pos, other_names) in known.get(who, {}).items():
                if other != report["report_id"]:
                    best = max(round(name_score(name, n), 1) for n in other_names)
                    out[(who, other)] = (max(best, out.get((who, other), (0.0, 0))[0]), pos)
        return out

    def add(self, views: Iterable[str], report: Mapping[str, Any], pos: int) -> None:
        for view in views:
            known = self.seen.setdefault(view, {})
            for name in link_names(report):
                by_report = known.setdefault(WHO[name], {})
                _first, names = by_report.setdefault(report["report_id"], (pos, set()))
                names.add(name)


def _rank(score: float, pos: int) -> tuple[float, int]:
    return (-score, -pos)  # most similar first, then the most recent


def score_run(reports: list[dict[str, Any]], scores: Scores | None = None) -> Scores:
    """decide() over ``reports`` in order; every item's entity links against the ground truth."""
    scores = scores or Scores()
    run, truth = Runner(), Truth()
    for pos, rep in enumerate(reports):
        d: Decision = run.step(rep)
        if d.verdict not in ("NEW", "UPDATE"):
            continue
        for it in d.feed_items:
            check_item(scores, truth.expected(it["recipient"], rep), it)
        truth.add([it["recipient"] for it in d.feed_items] + [rep["reporter_state"]], rep, pos)
    return scores


def check_item(scores: Scores, expected: dict[tuple[str, str], tuple[float, int]], item: Mapping[str, Any]) -> None:
    links = item["enrichment"]["entity_links"]
    where = f"{item['item_id']}"
    scores.items += 1
    found: list[tuple[str, str]] = []
    ranks: list[tuple[float, int]] = []
    for lk in links:
        pair = (WHO[lk["name"]], lk["report_id"])
        scores.shown += 1
        if WHO[lk["matched_name"]] != pair[0] or pair not in expected:
            scores.wrong.append(f"{where}: {lk}")
            continue
        scores.right += 1
        found.append(pair)
        if lk["name"] != lk["matched_name"]:
            scores.across_spellings += 1
            if len(lk["name"].split()) != len(lk["matched_name"].split()):
                scores.without_patronymic += 1
        score = round(name_score(lk["name"], lk["matched_name"]), 1)
        if lk["score"] != score:
            scores.wrong.append(f"{where}: score {lk['score']} != {score} ({lk})")
        ranks.append(_rank(lk["score"], expected[pair][1]))
    if not expected:
        return
    scores.expected_items += 1
    if len(expected) < MAX_LINKS:
        scores.below_cap += 1
        scores.pairs_below_cap += len(expected)
    else:
        scores.at_cap += 1
    hit = set(found) & set(expected)
    scores.recall_sum += len(hit) / min(len(expected), MAX_LINKS)
    if len(expected) < MAX_LINKS:
        scores.missed_below_cap += len(set(expected) - hit)
    if ranks != sorted(ranks):
        scores.misordered.append(f"{where}: {links}")
    elif len(links) >= MAX_LINKS and ranks:
        worst = ranks[-1]
        better = [p for p in expected if p not in hit and _rank(*expected[p]) < worst]
        if better:
            scores.misordered.append(f"{where}: left out {better[:3]} ranking before the last link shown")
