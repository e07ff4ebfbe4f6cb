"""The ingest slice's table: the idempotency ledger ``ingest_ledger`` (SPEC §4.1, §7).

One row per accepted (agency, source_ref, version) with the report id it was given, written after
the broker acknowledged the report (:mod:`hub.ingest.http`); what a new submission is -- new,
duplicate or stale -- is decided from it by :func:`hub.ingest.http.apply_ledger`.
"""

from __future__ import annotations

from typing import Any

from hub.directory.agencies import DDL as AGENCY_DDL
from hub.platform.clock import now_ms
from hub.platform.db import Database

LEDGER_DDL = [
    """CREATE TABLE IF NOT EXISTS ingest_ledger (
        agency TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        version INTEGER NOT NULL,
        report_id TEXT NOT NULL,
        trace_id TEXT,
        recorded_at {bigint} NOT NULL,
        PRIMARY KEY (agency, source_ref, version)
    )""",
]

LedgerKey = tuple[str, str]
LedgerOp = tuple[str, Any]  # ("known", set of keys) | ("record", list of reports)


class Ledger:
    """The idempotency ledger (table ``ingest_ledger``). Blocking: the gateway calls :meth:`apply` from
    one dedicated thread, a group of concurrent requests at a time (:class:`~hub.platform.http.GroupCommit`)."""

    CHUNK = 400  # source_refs per lookup statement

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(AGENCY_DDL)
        db.migrate(LEDGER_DDL)

    def known(self, keys: set[LedgerKey]) -> dict[LedgerKey, dict[int, str]]:
        """Accepted versions (version → report id) of every (agency, source_ref) in ``keys``."""
        out: dict[LedgerKey, dict[int, str]] = {k: {} for k in keys}
        by_agency: dict[str, list[str]] = {}
        for agency, ref in keys:
            by_agency.setdefault(agency, []).append(ref)
        for agency, refs in by_agency.items():
            rows = self.db.query_in(
                "SELECT source_ref, version, report_id FROM ingest_ledger WHERE agency = ? AND source_ref IN ({marks})",
                refs, (agency,), chunk=self.CHUNK)
            for r in rows:
                out[(agency, r["source_ref"])][int(r["version"])] = r["report_id"]
        return out

    def record(self, reports: list[dict[str, Any]]) -> None:
        """Remember accepted reports (one transaction; a version already there is left as it is)."""
        if not reports:
            return
        now = now_ms()
        ins = ("INSERT INTO ingest_ledger (agency, source_ref, version, report_id, trace_id, recorded_at) "
               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agency, source_ref, version) DO NOTHING")
        with self.db.transaction():
            self.db.executemany(ins, [(r["agency"], r["source_ref"], r["version"], r["report_id"], r["trace_id"], now)
                                      for r in reports])

    def apply(self, ops: list[LedgerOp]) -> list[Any]:
        """A group of requests' ledger work: every ``record`` in one transaction first, then every
        ``known`` lookup in as few statements as possible. Results in the order of ``ops``."""
        self.record([r for op, arg in ops if op == "record" for r in arg])
        keys: set[LedgerKey] = set()
        for op, arg in ops:
            if op == "known":
                keys |= arg
        found = self.known(keys) if keys else {}
        return [{k: found[k] for k in arg} if op == "known" else None for op, arg in ops]
