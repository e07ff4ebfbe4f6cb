"""Entity links: scored_names (rapidfuzz over a pool of names, what decide()'s entity links score with)
equals the rule applied pair by pair; and on a labelled scenario decide() finds every earlier report
of the same party its recipient may see, up to the cap, and nothing else (tests/pipeline/links_truth.py)."""

from __future__ import annotations

import random

import pytest

from hub.pipeline.core.enrich import NAME_MATCH_THRESHOLD, name_score, scored_names
from tests.pipeline.links_truth import labelled_reports, score_run

POOL = ["Karimov Aziz", "Karimova Dilnoza", "Rakhimov Farrukh", "Kar Trans LLC", "Azimov Kamol",
        "Рахимов Фаррух", "Ivanov Petr", "Ivanova Anna", "Karimov Azis", "Petr Ivanov"]


def test_scored_names_match_the_pairwise_rule() -> None:
    rnd = random.Random(3)
    linked = 0
    for _ in range(200):
        name = rnd.choice(POOL)
        pool = rnd.sample(POOL, rnd.randint(0, len(POOL)))
        want = {n: name_score(name, n) for n in pool if name_score(name, n) >= NAME_MATCH_THRESHOLD}
        linked += len(want)
        assert scored_names(name, pool) == want
    assert linked > 100  # the sample really exercises matches


def test_scored_names_match_the_pairwise_rule_with_patronymics() -> None:
    pool = ["Рахимов Фаррух Абдуллоевич", "Rakhimov Farrukh", "Rakhimov Farrukh Sergeevich", "Farrukh Rahimov",
            "Karimov Dilshod Rustam o'g'li", "Каримов Дилшод", "Karimov Dilshod Aliyevich", "Karimova Dilnoza"]
    for name in pool:
        want = {n: name_score(name, n) for n in pool if name_score(name, n) >= NAME_MATCH_THRESHOLD}
        assert scored_names(name, pool) == want
    assert set(scored_names("Rakhimov Farrukh", pool)) == {
        "Рахимов Фаррух Абдуллоевич", "Rakhimov Farrukh", "Rakhimov Farrukh Sergeevich", "Farrukh Rahimov"}
    assert set(scored_names("Рахимов Фаррух Абдуллоевич", pool)) == {
        "Рахимов Фаррух Абдуллоевич", "Rakhimov Farrukh", "Farrukh Rahimov"}


# ---------------------------------------------------------------- recall and precision on a labelled scenario
@pytest.mark.parametrize(("seed", "count"), [(1, 250), (2, 250), (3, 250), (4, 250), (5, 1200)])
def test_entity_links_find_every_earlier_visible_report_of_the_party(seed: int, count: int) -> None:
    """Simulator reports whose party names are labelled with the party they name (several spellings,
    scripts and with or without a patronymic per person): every item links to every earlier report
    of each of its parties that its recipient may see, up to MAX_LINKS, the most similar and then the
    most recent first; and to nothing else (SPEC §4.4, §5)."""
    reports = labelled_reports(count, seed)
    s = score_run(reports)
    print(s.line())
    assert s.wrong == []
    assert s.precision == 1.0
    assert s.missed_below_cap == 0
    assert s.misordered == []
    assert s.recall == 1.0
    assert s.expected_items > count  # the scenario really exercises links (several items per report)
    assert s.below_cap > 20 and s.at_cap > 20  # both sides of the cap
    assert s.across_spellings > 50 and s.without_patronymic > 5  # and names written differently
