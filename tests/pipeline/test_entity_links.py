"""scored_names (rapidfuzz over a pool of names, what decide()'s entity links score with) equals the
rule applied pair by pair."""

from __future__ import annotations

import random

from hub.pipeline.core.enrich import NAME_MATCH_THRESHOLD, name_score, scored_names

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
