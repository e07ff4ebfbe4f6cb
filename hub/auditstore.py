"""Tamper-evident audit store (SPEC §9): audit events stored once each, hash-chained.

Each stored event gets the next ``seq`` (1, 2, 3, … with no gaps) and
``hash = sha256(prev_hash + canonical JSON of the event + seq)``; the first record's ``prev_hash``
is :data:`GENESIS`. The newest ``(seq, hash)`` is also kept in ``audit_head``, so deleting records
at the end of the chain is detected too. The chain logic (:func:`canonical`, :func:`chain_hash`,
:func:`link`, :func:`verify`) is pure, over plain rows; :class:`AuditStore` is the thin database
shell (SQLite or PostgreSQL through :class:`hub.db.Database`).

Storage is idempotent: an event whose ``event_id`` is already stored is skipped, so redelivered
audit messages never create a second record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.db import Database

GENESIS = "0" * 64

DDL = [
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq {bigint} PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        stage TEXT NOT NULL,
        report_id TEXT,
        occurred_at {bigint} NOT NULL,
        event TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_log_report ON audit_log (report_id, occurred_at)",
    """CREATE TABLE IF NOT EXISTS audit_head (
        id INTEGER PRIMARY KEY,
        seq {bigint} NOT NULL,
        hash TEXT NOT NULL
    )""",
]


# -- pure chain logic ---------------------------------------------------------------------------
def _ms(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    return value


def normalize(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as plain JSON data (timestamps as epoch milliseconds)."""
    return {k: _ms(v) for k, v in event.items()}


def canonical(event: Mapping[str, Any]) -> str:
    """Canonical JSON of an event: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(normalize(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, event_json: str, seq: int) -> str:
    return hashlib.sha256(f"{prev_hash}{event_json}{seq}".encode()).hexdigest()


def link(events: Iterable[Mapping[str, Any]], head_seq: int, head_hash: str) -> list[dict[str, Any]]:
    """Rows for ``events`` appended after the head ``(head_seq, head_hash)`` of a chain."""
    rows = []
    seq, prev = head_seq, head_hash
    for ev in events:
        seq += 1
        text = canonical(ev)
        h = chain_hash(prev, text, seq)
        rows.append({"seq": seq, "event_id": ev["event_id"], "stage": ev["stage"],
                     "report_id": ev.get("report_id"), "occurred_at": _ms(ev["occurred_at"]),
                     "event": text, "prev_hash": prev, "hash": h})
        prev = h
    return rows


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    bad_seq: int | None = None  # the first bad record (or where the first missing one should be)
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.records} records verified"
        return f"audit chain BROKEN at record seq={self.bad_seq}: {self.problem}"


def verify(rows: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None = None) -> Verdict:
    """Check a chain (rows ordered by seq; any iterable, so a large store can be streamed). Names
    the first record that is altered, missing, inserted or out of order. ``head`` is the stored
    newest ``{seq, hash}`` (detects deletion at the end)."""
    prev = GENESIS
    count = 0
    for expected_seq, row in enumerate(rows, start=1):
        count = expected_seq
        seq = int(row["seq"])
        if seq != expected_seq:
            what = "missing (deleted)" if seq > expected_seq else "duplicated/inserted"
            return Verdict(False, count, expected_seq,
                           f"expected seq {expected_seq}, found {seq}: record {expected_seq} is {what}")
        if row["prev_hash"] != prev:
            return Verdict(False, count, seq,
                           "prev_hash does not match the previous record's hash "
                           "(a record before it was deleted, inserted or reordered)")
        try:
            event = json.loads(row["event"])
        except ValueError:
            return Verdict(False, count, seq, "event is not valid JSON (altered)")
        if not isinstance(event, dict) or canonical(event) != row["event"]:
            return Verdict(False, count, seq, "event text is not canonical (altered)")
        for col in ("event_id", "stage", "report_id", "occurred_at"):
            if event.get(col) != row[col]:
                return Verdict(False, count, seq, f"column {col} differs from the hashed event (altered)")
        if chain_hash(prev, row["event"], seq) != row["hash"]:
            return Verdict(False, count, seq, "hash does not match the record's content (altered)")
        prev = row["hash"]
    if head is not None and (int(head["seq"]) != count or head["hash"] != prev):
        bad = count + 1 if int(head["seq"]) > count else int(head["seq"])
        return Verdict(False, count, bad,
                       f"chain head says seq {head['seq']} but the log ends at seq {count} "
                       "(records deleted at the end, or the head was altered)")
    return Verdict(True, count)


# -- trail (pure) -------------------------------------------------------------------------------
def iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe_event(ev: Mapping[str, Any]) -> str:
    """One readable sentence for an audit event (used by ``hub audit trail`` and the API)."""
    stage = ev["stage"]
    parts = [stage]
    if ev.get("version") is not None:
        parts.append(f"v{ev['version']}")
    if stage == "ROUTED" and ev.get("recipients"):
        parts.append("to " + ", ".join(ev["recipients"]))
    elif ev.get("state"):
        parts.append(("for " if stage in ("DELIVERED", "ACKNOWLEDGED", "ACCESS_DENIED") else "state ")
                     + ev["state"])
    if ev.get("actor"):
        parts.append("by " + ev["actor"])
    elif ev.get("agency"):
        parts.append("from " + ev["agency"])
    if ev.get("reason"):
        parts.append(f"— {ev['reason']}")
    return " ".join(parts)


# -- database shell -----------------------------------------------------------------------------
class AuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(DDL)

    def store(self, events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append the events not stored yet (by event_id), in order. Returns the new rows."""
        events = list(events)
        if not events:
            return []
        with self.db.transaction():
            ids = list({e["event_id"] for e in events})
            known: set[str] = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                known |= {r["event_id"] for r in self.db.query(
                    f"SELECT event_id FROM audit_log WHERE event_id IN ({marks})", chunk)}
            fresh, seen = [], set(known)
            for e in events:
                if e["event_id"] not in seen:
                    seen.add(e["event_id"])
                    fresh.append(e)
            if not fresh:
                return []
            head = self.head()
            rows = link(fresh, head["seq"], head["hash"])
            self.db.executemany(
                "INSERT INTO audit_log (seq, event_id, stage, report_id, occurred_at, event, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["seq"], r["event_id"], r["stage"], r["report_id"], r["occurred_at"], r["event"],
                  r["prev_hash"], r["hash"]) for r in rows],
            )
            last = rows[-1]
            if head["seq"] == 0 and self.db.one("SELECT id FROM audit_head WHERE id = 1") is None:
                self.db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (last["seq"], last["hash"]))
            else:
                self.db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (last["seq"], last["hash"]))
            return rows

    def head(self) -> dict[str, Any]:
        row = self.db.one("SELECT seq, hash FROM audit_head WHERE id = 1")
        return {"seq": int(row["seq"]), "hash": row["hash"]} if row else {"seq": 0, "hash": GENESIS}

    def rows(self, chunk: int = 5000) -> Iterator[dict[str, Any]]:
        """Every record in seq order, read in chunks."""
        after: int | None = None
        while True:
            page = self.db.query(
                "SELECT seq, event_id, stage, report_id, occurred_at, event, prev_hash, hash FROM audit_log "
                + ("WHERE seq > ? " if after is not None else "") + "ORDER BY seq LIMIT ?",
                (after, chunk) if after is not None else (chunk,))
            yield from page
            if len(page) < chunk:
                return
            after = int(page[-1]["seq"])

    def verify(self) -> Verdict:
        head_row = self.db.one("SELECT seq, hash FROM audit_head WHERE id = 1")
        return verify(self.rows(), head_row)

    def trail(self, report_id: str) -> list[dict[str, Any]]:
        """Every stored event about one report, oldest first, with its seq."""
        rows = self.db.query(
            "SELECT seq, event FROM audit_log WHERE report_id = ? ORDER BY occurred_at, seq", (report_id,))
        out = []
        for r in rows:
            ev = json.loads(r["event"])
            ev["seq"] = int(r["seq"])
            ev["occurred_at_iso"] = iso(ev.get("occurred_at"))
            ev["summary"] = describe_event(ev)
            out.append(ev)
        return out

    def count(self) -> int:
        row = self.db.one("SELECT COUNT(*) AS n FROM audit_log")
        return int(row["n"]) if row else 0
