"""Where each projection is: the ``projection_progress`` table, its lag gauge and the lag arithmetic.

Each projection writes its row in the same transaction as the rows of the batch (so the row never
says more than the tables hold): records and rows added so far, the Kafka timestamp of the newest
record applied (``last_record_ms``), how many records were still waiting on its partitions when the
batch was fetched (``backlog``, from the fetch responses' high watermarks) and when it was written
(``updated_at``). An idle projection refreshes ``updated_at`` every :data:`HEARTBEAT_S`.

:func:`lag_seconds` is the arithmetic the gauge ``hub_projection_lag_seconds{projection}`` and the
endpoint ``GET /v1/projections`` share: 0 when nothing was waiting, else the age of the newest
applied record (an upper bound of how old the projection's view is).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from hub.platform.clock import now_ms
from hub.platform.db import Database

HEARTBEAT_S = 5.0
STALE_S = 30.0  # a row not refreshed for this long: its projection is not running

LAG = Gauge("hub_projection_lag_seconds", "How far a projection's tables are behind its topics "
            "(0 when caught up, else the age of the newest record applied)", ["projection"])
ROWS = Counter("hub_projection_records_total", "Records applied by a projection", ["projection"])
BATCH_SECONDS = Histogram("hub_projection_batch_seconds", "Time of one projection transaction", ["projection"],
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

DDL = [
    """CREATE TABLE IF NOT EXISTS projection_progress (
        name TEXT PRIMARY KEY,
        records {bigint} NOT NULL,
        added {bigint} NOT NULL,
        last_record_ms {bigint},
        backlog {bigint},
        updated_at {bigint} NOT NULL
    )""",
]


def migrate(db: Database) -> None:
    db.migrate(DDL)


def lag_seconds(last_record_ms: int | None, backlog: int | None, now: int) -> float:
    """0 when caught up (nothing waiting), else the age of the newest applied record (pure)."""
    if not backlog:
        return 0.0
    if last_record_ms is None:
        return float("inf")
    return max(0.0, (now - last_record_ms) / 1000)


def record(db: Database, name: str, *, records: int, added: int, last_record_ms: int | None,
           backlog: int | None) -> None:
    """Add one batch to the projection's row (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO projection_progress (name, records, added, last_record_ms, backlog, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET records = projection_progress.records + "
        "excluded.records, added = projection_progress.added + excluded.added, "
        "last_record_ms = COALESCE(excluded.last_record_ms, projection_progress.last_record_ms), "
        "backlog = COALESCE(excluded.backlog, projection_progress.backlog), updated_at = excluded.updated_at",
        (name, records, added, last_record_ms, backlog, now_ms()))


def heartbeat(db: Database, name: str, backlog: int) -> None:
    """An idle (caught-up) projection says so."""
    with db.transaction():
        db.execute("INSERT INTO projection_progress (name, records, added, last_record_ms, backlog, updated_at) "
                   "VALUES (?, 0, 0, NULL, ?, ?) ON CONFLICT (name) DO UPDATE SET backlog = excluded.backlog, "
                   "updated_at = excluded.updated_at", (name, backlog, now_ms()))


def forget(db: Database, name: str) -> None:
    db.execute("DELETE FROM projection_progress WHERE name = ?", (name,))


def view(row: Mapping[str, Any], now: int) -> dict[str, Any]:
    """The API view of one row (pure): lag, whether it is running, the counts."""
    last = None if row["last_record_ms"] is None else int(row["last_record_ms"])
    lag = lag_seconds(last, row["backlog"], now)
    return {"projection": row["name"], "lag_seconds": None if lag == float("inf") else round(lag, 3),
            "backlog": None if row["backlog"] is None else int(row["backlog"]),
            "records": int(row["records"]), "rows_added": int(row["added"]), "last_record_ms": last,
            "updated_at": int(row["updated_at"]),
            "running": (now - int(row["updated_at"])) / 1000 <= STALE_S}


def read(db: Database) -> list[dict[str, Any]]:
    """Every projection's view, with ``behind_feed_seconds``: how much later than the officers' feed
    its answers are (the analyst page says "search is N s behind the feed" from it)."""
    sql = "SELECT name, records, added, last_record_ms, backlog, updated_at FROM projection_progress ORDER BY name"
    migrate(db)
    rows = {r["name"]: r for r in db.query(sql)}
    fdb = db.feed_database()  # SQLite: the feeds projection's row is in the feed file
    if fdb is not db:
        migrate(fdb)
        rows |= {r["name"]: r for r in fdb.query(sql)}
    now = now_ms()
    views = [view(rows[n], now) for n in sorted(rows)]
    feed_lag = next((v["lag_seconds"] for v in views if v["projection"] == "feeds"), None) or 0.0
    for v in views:
        v["behind_feed_seconds"] = None if v["lag_seconds"] is None else round(max(0.0, v["lag_seconds"] - feed_lag), 3)
    return views
