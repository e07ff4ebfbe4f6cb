"""The sink's bulk writes: a batch has the outcome of its records applied one by one, whatever the
batch size, and a redelivery (at-least-once) of everything changes nothing — feed store and analyst
index, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.platform.db import Database
from tests.analyst import world
from tests.analyst.conftest import fill_records
from tests.conftest import hub_settings
from tests.helpers import fresh_pg_database

TABLES = {
    "analyst_docs": "state, report_id",
    "analyst_versions": "state, source_id",
    "analyst_facts": "state, report_id, dim, bucket, day, mg",
    "analyst_stats": "state, dim, day, bucket",
    "analyst_incidents": "state, incident_id",
    "analyst_name_terms": "state, term",
    "feed_items": "recipient, seq",
}


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the sink wrote (``stored_at`` is the clock's), full-text tables included."""
    db = Database(url)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table, order in TABLES.items():
            rows = db.query(f"SELECT * FROM {table} ORDER BY {order}")
            out[table] = [tuple(str(v) for k, v in sorted(r.items()) if k != "stored_at") for r in rows]
        if db.dialect == "sqlite":
            for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'analyst_fts_%' "
                              "OR name LIKE 'analyst_terms_%') AND name NOT LIKE '%\\_%\\_%\\_%' ESCAPE '\\'"):
                # documents by number; the fuzzy vocabulary is a set (its rowids are insertion order)
                fts = r["name"].startswith("analyst_fts_")
                out[r["name"]] = sorted(tuple(str(v) for v in row.values()) for row in db.query(
                    f"SELECT {'rowid, ' if fts else ''}* FROM {r['name']}"))
        return out
    finally:
        db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'bulk.db'}"
    server = str(request.getfixturevalue("pg_server"))
    return fresh_pg_database(server, "batching_one"), fresh_pg_database(server, "batching_bulk")


def test_bulk_batches_write_what_single_records_write_and_redelivery_changes_nothing(urls: tuple[str, str]) -> None:
    settings = hub_settings()
    records = world.records(world.with_updates(world.reports(settings, 90, seed=5), every=3), settings)
    # updates, shares and redeliveries inside one batch: every version twice, the second copy later
    redelivered = records + records[: len(records) // 2]
    one, bulk = urls
    fill_records(one, redelivered, settings, batch=1)
    fill_records(bulk, redelivered, settings, batch=64)
    a, b = dump(one), dump(bulk)
    assert a.keys() == b.keys()
    for table in a:
        assert a[table] == b[table], f"{table} differs between batch sizes 1 and 64"
    assert a["analyst_docs"] and a["analyst_stats"] and a["analyst_incidents"] and a["feed_items"]
    fill_records(bulk, records, settings, batch=500)  # the whole log again, in big batches
    assert dump(bulk) == b


def test_ascii_fast_path_tokens_are_the_folded_word_tokens() -> None:
    import random
    import string

    from hub.analyst import text

    rnd = random.Random(7)
    samples = ["CMR 1374502", "Hashish_found in the FALSE bottom", "", "__", "a-b.c/d", "01A123BC;x"]
    samples += ["".join(rnd.choice(string.printable) for _ in range(rnd.randint(0, 60))) for _ in range(3000)]
    for s in samples:
        assert text.tokens(s) == [t for w in text._WORD.findall(s) if (t := text.fold(w))], s
    assert text.tokens("Éric Café героин") == ["eric", "cafe", "героин"]


def test_a_failing_projection_rolls_only_itself_back_and_its_replay_stores_it_once(tmp_path: Path) -> None:
    """Each projection is its own transaction (issue 20): a projection that fails leaves nothing of
    the batch in ITS tables and does not hold the others back; its retry (the same records, its
    offsets uncommitted) writes the batch exactly once."""
    from hub.analyst.projection import AnalystProjection
    from hub.audit.projection import AuditProjection
    from hub.feeds.projection import FeedProjection
    from hub.sink import Sink, Sorted

    class Broken(AnalystProjection):
        def write(self, batch: Sorted) -> int:
            super().write(batch)  # rows written, then the failure: the transaction must take them back
            raise RuntimeError("projection failed")

    settings = hub_settings()
    items = [r for k, r in world.records(world.reports(settings, 12, seed=9), settings) if k == "item"]
    from hub.tools.bench.stack import audit_batch_of
    from hub.tools.bench.workload import generate

    events = [e for it in generate(4, seed=9, settings=settings) for e in audit_batch_of(it)["events"]]
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    db = Database(url)
    batch = Sorted(feed_items=items, audit_events=events)
    feeds, audit = FeedProjection(db, settings), AuditProjection(db, settings)
    index = AnalystProjection(db, settings)  # the same instance retries, as `hub sink` does: its caches must not lie
    with pytest.raises(RuntimeError):
        Sink(settings, db=db, projections=[feeds, audit, Broken(db, settings)]).write(batch)
    first = dump(url)
    assert len(first["feed_items"]) == len(items) and first["analyst_docs"] == []  # the feed did not wait
    assert db.one("SELECT COUNT(*) AS n FROM audit_log") == {"n": len(events)}
    ok = Sink(settings, db=db, projections=[feeds, audit, index])
    assert ok.write(batch) == {"feeds": 0, "audit": 0, "analyst": len(items)} and len(items) > 0
    once = dump(url)
    assert ok.write(batch) == {"feeds": 0, "audit": 0, "analyst": len(items)} and dump(url) == once
    verdict = audit.store.verify()
    assert verdict.ok and verdict.records == len(events), verdict.describe()  # one chain, no gap
    assert once["feed_items"] == first["feed_items"] and len(once["analyst_versions"]) == len(items)
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    fill_records(clean, [("item", i) for i in items], settings, batch=len(items))
    assert {k: v for k, v in dump(clean).items() if not k.startswith(("audit", "projection"))} == \
        {k: v for k, v in once.items() if not k.startswith(("audit", "projection"))}  # full-text and name-term tables included
