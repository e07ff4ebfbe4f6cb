"""Analyst fixtures: stores filled through the sink's own write path (feed store, then projections)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from hub.analyst.projection import AnalystProjection
from hub.analyst.store import AnalystStore
from hub.feeds.projection import FeedProjection
from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.sink import Sink, Sorted

# PostgreSQL fixtures shared with the audit tests (a throwaway cluster per session)
from tests.audit.conftest import pg_server, pg_url  # noqa: F401
from tests.conftest import hub_settings


def fill(url: str, items: Sequence[dict[str, Any]], receipts: Sequence[dict[str, Any]], settings: Settings,
         batch: int = 40) -> AnalystStore:
    """A database written the way ``hub sink`` writes it, in batches (items and receipts interleaved)."""
    db = Database(url)
    sink = Sink(settings, db=db, projections=[FeedProjection(db, settings), AnalystProjection(db, settings)])
    for i in range(0, max(len(items), len(receipts)), batch):
        sink.write(Sorted(feed_items=list(items[i:i + batch]), receipts=list(receipts[i:i + batch])))
    return AnalystStore(db)


def fill_records(url: str, records: Sequence[tuple[str, dict[str, Any]]], settings: Settings,
                 batch: int = 40) -> AnalystStore:
    """A database written by the sink from records in processing order, ``batch`` records at a time."""
    db = Database(url)
    sink = Sink(settings, db=db, projections=[FeedProjection(db, settings), AnalystProjection(db, settings)])
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        sink.write(Sorted(feed_items=[r for k, r in chunk if k == "item"],
                          receipts=[r for k, r in chunk if k == "receipt"]))
    return AnalystStore(db)


@pytest.fixture
def settings() -> Settings:
    return hub_settings()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("pg_url"))
