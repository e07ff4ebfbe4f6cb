"""The hub database: SQLite by default, PostgreSQL when ``HUB_DATABASE_URL`` is ``postgresql://…``.

A deliberately thin layer: SQL is written once with ``?`` placeholders and portable types; DDL may
use ``{serial}`` (auto-increment primary key) and ``{blob}``, filled in per dialect. Each module
that owns tables (agencies, officers, feed store, audit store) declares its DDL and calls
:meth:`Database.migrate` with it. Connections are per thread (``check_same_thread`` semantics).

**The feed file (SQLite only).** SQLite has one writer per file, so the officers' feed store lives in
a file of its own beside the main one (``hub.db`` → ``hub.feed.db``, :func:`feed_path`):
:meth:`Database.feed_database` opens it, and only the feed store and the ``feeds`` projection write
it. Every connection to the main file attaches the feed file READ-ONLY as schema ``feed``, so a
reader of the main file still finds ``feed_items`` / ``feed_acks`` by their plain names (SQLite
looks in ``main`` first, then in attached schemas), while ``BEGIN IMMEDIATE`` on the main file takes
no lock of the feed file (a read-only attachment only ever gets a read transaction, which in WAL
mode never blocks that file's writer). PostgreSQL keeps everything in one database:
:meth:`Database.feed_database` is the database itself.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

DIALECT_TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB", "bigint": "INTEGER"},
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA", "bigint": "BIGINT"},
}


FEED_SCHEMA = "feed"  # the name the main file's connections give the attached (read-only) feed file
#: page size of a new feed file: a feed item's row (~4 KB, most of it the item's JSON) does not fit a
#: 4 KiB page and spilled into an overflow page of its own; in 16 KiB pages rows are stored whole,
#: several per page, and a batch's commit writes about half the bytes to the WAL
#: (``python -m hub.tools.bench.feedrow``). An existing file keeps the page size it was made with.
FEED_PAGE_SIZE = 16384


def feed_path(path: str) -> str:
    """The feed file beside a main SQLite file: ``hub.db`` → ``hub.feed.db`` (``hub`` → ``hub.feed.db``)."""
    p = Path(path)
    return str(p.with_name(f"{p.stem if p.suffix else p.name}.feed{p.suffix or '.db'}"))


class Database:
    def __init__(self, url: str, *, feed_file: bool = False) -> None:
        """``feed_file``: this IS a feed file (:meth:`feed_database`), which attaches nothing."""
        self.url = url
        self.feed_file = feed_file
        #: SQLite: the feed file attached read-only to every connection (None: PostgreSQL, in-memory,
        #: or this is the feed file itself)
        self.feed_path: str | None = None
        self._feed: Database | None = None
        self._feed_lock = threading.Lock()
        if url.startswith("sqlite:///"):
            self.dialect = "sqlite"
            self.path = url[len("sqlite:///"):]
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                if not feed_file:
                    self.feed_path = feed_path(self.path)
        elif url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
        else:
            raise ValueError(f"HUB_DATABASE_URL: unsupported URL {url!r} (sqlite:///PATH or postgresql://…)")
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------------------
    def connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.dialect == "sqlite":
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, uri=self.feed_path is not None)
                if self.feed_file:  # takes effect when the file is new (its first page not yet written)
                    conn.execute(f"PRAGMA page_size={FEED_PAGE_SIZE}")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
                if self.feed_path is not None:
                    if not Path(self.feed_path).exists():  # created (in WAL mode) before it is attached
                        self.feed_database().connection()
                    conn.execute(f"ATTACH DATABASE ? AS {FEED_SCHEMA}",
                                 (f"file:{quote(str(Path(self.feed_path).resolve()))}?mode=ro",))
            else:
                import psycopg

                conn = psycopg.connect(self.url, autocommit=True)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._feed is not None:
            self._feed.close()

    def feed_database(self) -> Database:
        """The database of the officers' feed store: on SQLite the feed file beside this one (its own
        writer, its own writer gate), written only by the feed store; else (PostgreSQL, in-memory)
        this database itself."""
        if self.feed_path is None:
            return self
        with self._feed_lock:
            if self._feed is None:
                self._feed = Database(f"sqlite:///{self.feed_path}", feed_file=True)
            return self._feed

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    # -- statements ----------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the affected row count."""
        cur = self.connection().execute(self._sql(sql), tuple(params))
        return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn = self.connection()
        if self.dialect == "sqlite":
            conn.executemany(sql, rows)
        else:
            with conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.connection().execute(self._sql(sql), tuple(params))
        if cur.description is None:
            return []
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def query_in(self, sql: str, values: Sequence[Any], params: Sequence[Any] = (),
                 chunk: int = 500) -> list[dict[str, Any]]:
        """``sql`` with ``{marks}`` standing for the placeholders of an ``IN (...)`` list, run once per
        ``chunk`` of ``values`` (``params`` bind the placeholders before it); all the rows."""
        rows: list[dict[str, Any]] = []
        for i in range(0, len(values), chunk):
            part = list(values[i:i + chunk])
            rows += self.query(sql.format(marks=",".join("?" * len(part))), (*params, *part))
        return rows

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """A write transaction (SQLite: BEGIN IMMEDIATE, so concurrent writers queue). Reentrant: a
        transaction opened inside another one of the same thread is a savepoint in it (both
        dialects), so a caller can put several stores' writes in one transaction."""
        conn = self.connection()
        if self.dialect == "sqlite":
            depth = getattr(self._local, "depth", 0)
            if depth:  # nested: a savepoint, like psycopg's nested transaction()
                name = f"hub_sp{depth}"
                conn.execute(f"SAVEPOINT {name}")
                self._local.depth = depth + 1
                try:
                    yield self
                except BaseException:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                    raise
                else:
                    conn.execute(f"RELEASE {name}")
                finally:
                    self._local.depth = depth
                return
            conn.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield self
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._local.depth = 0
        else:
            with conn.transaction():
                yield self

    def migrate(self, ddl: Sequence[str]) -> None:
        """Create tables/indexes (``CREATE … IF NOT EXISTS``), with dialect placeholders filled in."""
        types = DIALECT_TYPES[self.dialect]
        for statement in ddl:
            self.connection().execute(statement.format(**types))


def open_database(url: str) -> Database:
    return Database(url)
