"""Projection fixtures: topics filled with what the pipeline produces, dumps of each projection's tables."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.domain.codec import AUDIT_BATCH, FEED_ITEM, RECEIPT, codec
from hub.platform.db import Database
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import AUDIT, RECEIPTS, ensure_topics, feed
from hub.platform.settings import Settings

# PostgreSQL fixtures shared with the audit tests (a throwaway cluster per session)
from tests.audit.conftest import pg_server, pg_url  # noqa: F401


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        yield str(request.getfixturevalue("pg_url"))


def history(settings: Settings, reports: int = 60, seed: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Feed items, receipts and audit batches of ``reports`` simulated reports (with updates)."""
    from hub.tools.bench.stack import audit_batch_of
    from hub.tools.bench.workload import generate
    from tests.analyst import world

    seq = world.with_updates(world.reports(settings, reports, seed=seed))
    recs = world.records(seq, settings)
    batches = [audit_batch_of(it) for it in generate(reports // 2, seed=seed, settings=settings)]
    return {"items": [r for k, r in recs if k == "item"], "receipts": [r for k, r in recs if k == "receipt"],
            "audit": batches}


async def produce(settings: Settings, h: dict[str, list[dict[str, Any]]]) -> None:
    """The records on their topics, as the pipeline writes them (keys included)."""
    await ensure_topics(settings)
    c = codec()
    prod = producer(settings)
    await prod.start()
    try:
        futures = []
        for it in h["items"]:
            futures.append(await prod.send(feed(it["recipient"]), c.encode(FEED_ITEM, it), key=it["incident_id"].encode()))
        for r in h["receipts"]:
            futures.append(await prod.send(RECEIPTS, c.encode(RECEIPT, r), key=r["report_id"].encode()))
        for b in h["audit"]:
            futures.append(await prod.send(AUDIT, c.encode(AUDIT_BATCH, b), key=b["events"][0]["report_id"].encode()))
        await asyncio.gather(*futures)
    finally:
        await prod.stop()


def rows(db: Database, table: str, drop: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """A table's rows as sorted tuples of text, without the columns ``drop``."""
    return sorted(tuple(f"{k}={v}" for k, v in sorted(r.items()) if k not in drop)
                  for r in db.query(f"SELECT * FROM {table}"))


def gap_free(db: Database, table: str, key: str) -> bool:
    """Per ``key``, the seqs are 1..n."""
    per: dict[str, list[int]] = {}
    for r in db.query(f"SELECT {key} AS k, seq FROM {table} ORDER BY {key}, seq"):
        per.setdefault(r["k"], []).append(int(r["seq"]))
    return all(v == list(range(1, len(v) + 1)) for v in per.values())


def snapshot(db: Database, name: str) -> dict[str, Any]:
    """What projection ``name`` holds, without what depends only on the order in which it happened to
    read its partitions: the cursors (checked gap-free instead), the chain's seq/hash (verified
    instead), the first-seen time of a provider report."""
    if name == "feeds":
        assert gap_free(db, "feed_items", "recipient")
        return {"feed_items": rows(db, "feed_items", ("seq", "stored_at"))}
    if name == "audit":
        return {"audit_log": rows(db, "audit_log", ("seq", "prev_hash", "hash"))}
    if name == "provider":
        assert gap_free(db, "provider_changes", "agency")
        return {"provider_reports": rows(db, "provider_reports", ("first_at",)),
                **{t: rows(db, t) for t in ("provider_versions", "provider_events", "provider_recipients",
                                             "provider_cursor", "provider_pending")},
                "provider_changes": rows(db, "provider_changes", ("seq",))}
    from tests.analyst.test_batching import TABLES, dump

    out = {t: rows(db, t) for t in TABLES if t != "feed_items"}
    if db.dialect == "sqlite":
        out |= {k: v for k, v in dump(f"sqlite:///{db.path}").items() if k.startswith(("analyst_fts", "analyst_terms"))}
    else:
        out["tsv"] = sorted(str(r["t"]) for r in db.query("SELECT tsv::text AS t FROM analyst_docs"))
    return out
