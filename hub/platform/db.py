"""The hub database: SQLite by default, PostgreSQL when ``HUB_DATABASE_URL`` is ``postgresql://…``.

A deliberately thin layer: SQL is written once with ``?`` placeholders and portable types; DDL may
use ``{serial}`` (auto-increment primary key) and ``{blob}``, filled in per dialect. Each module
that owns tables (agencies, officers, feed store, audit store) declares its DDL and calls
:meth:`Database.migrate` with it. Connections are per thread (``check_same_thread`` semantics).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DIALECT_TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB", "bigint": "INTEGER"},
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA", "bigint": "BIGINT"},
}


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            self.dialect = "sqlite"
            self.path = url[len("sqlite:///"):]
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
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
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=30000")
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
