"""entity_links (vectorised over distinct names) equals the rule applied pair by pair."""

from __future__ import annotations

import random

from hub.pipeline.enrich import NAME_MATCH_THRESHOLD, entity_links, name_score

POOL = ["Karimov Aziz", "Karimova Dilnoza", "Rakhimov Farrukh", "Kar Trans LLC", "Azimov Kamol",
        "Рахимов Фаррух", "Ivanov Petr", "Ivanova Anna", "Karimov Azis", "Petr Ivanov"]


def brute_force(report: dict, candidates: list[dict]) -> list[dict]:
    best: dict[tuple[str, str, str], float] = {}
    for p in report["parties"]:
        for c in candidates:
            s = name_score(p["name"], c["name"])
            if c["report_id"] != report["report_id"] and s >= NAME_MATCH_THRESHOLD:
                k = (p["name"], c["report_id"], c["name"])
                best[k] = max(s, best.get(k, 0.0))
    return [{"name": n, "matched_name": m, "score": round(s, 1), "report_id": r, "watchlist": None}
            for (n, r, m), s in sorted(best.items())]


def test_entity_links_match_pairwise_rule() -> None:
    rnd = random.Random(3)
    linked = 0
    for _ in range(200):
        rep = {"report_id": "R-0", "parties": [{"name": n} for n in rnd.sample(POOL, rnd.randint(0, 3))]}
        cands = [{"name": rnd.choice(POOL), "report_id": f"R-{rnd.randrange(20)}"} for _ in range(rnd.randrange(60))]
        want = brute_force(rep, cands)
        linked += len(want)
        assert entity_links(rep, cands) == want
        assert entity_links(rep, cands, limit=3) == want[:3]
    assert linked > 100  # the sample really exercises matches, incl. the own report being skipped
