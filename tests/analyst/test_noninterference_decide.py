"""Non-interference of the analyst answers with the pipeline's own decisions (SPEC §5, §14).

The full and the reduced sequences go through decide() (branch core: per-view incidents, keyed
ids, per-recipient enrichment); every feed item and receipt of each run is written the way the
sink writes them; every analyst answer of each state must be the same from both databases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.analyst import world
from tests.analyst.conftest import fill_records
from tests.analyst.test_noninterference import BASE_QUERIES, answers, forbidden_words
from tests.conftest import hub_settings
from tests.pipeline.decide_support import T0, context, run_events, visible_to

STATES = ("CARICC", "KZ", "TJ", "AF")


def sink_records(decisions: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for d in decisions:
        out += [("item", it) for it in d.feed_items]
        if d.receipt is not None:
            out.append(("receipt", d.receipt))
    return out


@pytest.fixture(scope="module")
def run() -> tuple[list[tuple[dict[str, Any], int]], list[Any]]:
    sequence = world.with_updates(world.reports(hub_settings(), 140, seed=31))
    events = [(r, T0 + i * 1000) for i, r in enumerate(sequence)]
    return events, run_events(events, context())


@pytest.mark.parametrize("state", STATES)
def test_decide_full_and_reduced_give_the_same_answers(state: str, run: tuple[list[Any], list[Any]],
                                                       tmp_path: Path) -> None:
    events, full = run
    settings = hub_settings()
    keep = visible_to(events, full, state)
    assert 0 < len(keep) < len(events)
    reduced = run_events([events[i] for i in keep], context())
    a_store = fill_records(f"sqlite:///{tmp_path / 'full.db'}", sink_records(full), settings, batch=31)
    b_store = fill_records(f"sqlite:///{tmp_path / 'reduced.db'}", sink_records(reduced), settings, batch=17)
    sequence = [ev for ev, _now in events]
    queries = [*BASE_QUERIES, *forbidden_words(sequence, state, settings)]
    a, b = answers(a_store, state, queries), answers(b_store, state, queries)
    for key in a:
        assert a[key] == b[key], f"{state}: {key} differs between the full and the reduced run of decide()"
    assert a["incidents"] and any(p[0]["results"] for p in a["search"].values())
