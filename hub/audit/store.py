"""Tamper-evident audit store (SPEC §9): audit events stored once each, in an HMAC chain, anchored.

Each stored event gets the next ``seq`` (1, 2, 3, … with no gaps) and
``hash = HMAC-SHA256(HUB_AUDIT_KEY, "<seq>\\x1f<prev_hash>\\x1f<canonical JSON of the event>")``; the
first record's ``prev_hash`` is :data:`GENESIS`. The key lives outside the database
(:func:`hub.platform.keys.audit_key`), so whoever holds only the database cannot forge, re-hash or re-order
records. The newest ``(seq, hash)`` is kept in ``audit_head`` with its own MAC
(``HMAC(key, "head\\x1f<seq>\\x1f<hash>")``), so deleting records at the end, deleting the head or
moving it back is detected too. ``hub audit anchor`` appends the head to an append-only anchor file
kept elsewhere (:class:`Anchor`); verify checks the chain against every anchor, so even a rewrite
by someone holding the database *and* the key, or a restored old head, is detected.

The chain logic (:func:`canonical`, :func:`chain_hash`, :func:`head_mac`, :func:`link`,
:func:`verify`, :func:`read_anchors`) is pure, over plain rows; :class:`AuditStore` is the thin
database shell (SQLite or PostgreSQL through :class:`hub.db.Database`).

Storage is idempotent: an event whose ``event_id`` is already stored is skipped, so redelivered
audit messages never create a second record.

Stores written before the HMAC chain (v1: unkeyed SHA-256, no head MAC) are recognised by a missing
``audit_meta.chain`` row. They are verified with the v1 rule but never reported OK, and the store
refuses to append to them until ``hub audit migrate`` re-chains them (see docs/audit.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.platform.clock import now_ms
from hub.platform.db import Database
from hub.platform.settings import Settings

GENESIS = "0" * 64
CHAIN = "hmac-sha256"  # audit_meta.chain of the current chain; v1 stores have no such row
V1 = "sha256-v1"

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
        hash TEXT NOT NULL,
        mac TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS audit_meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
]


class ChainError(RuntimeError):
    """The store cannot do what was asked: a v1 chain not migrated yet, or a broken chain to anchor."""


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


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def chain_hash(key: bytes, prev_hash: str, event_json: str, seq: int) -> str:
    """The record's link: HMAC-SHA256 over its seq, the previous record's hash and its event."""
    return _mac(key, f"{seq}\x1f{prev_hash}\x1f{event_json}")


def head_mac(key: bytes, seq: int, head_hash: str) -> str:
    """MAC of the chain head (a head copied from a record's columns has no valid MAC)."""
    return _mac(key, f"head\x1f{seq}\x1f{head_hash}")


def chain_hash_v1(prev_hash: str, event_json: str, seq: int) -> str:
    """The unkeyed link of v1 stores (read only, for verifying before ``hub audit migrate``)."""
    return hashlib.sha256(f"{prev_hash}{event_json}{seq}".encode()).hexdigest()


def link(events: Iterable[Mapping[str, Any]], head_seq: int, head_hash: str, key: bytes) -> list[dict[str, Any]]:
    """Rows for ``events`` appended after the head ``(head_seq, head_hash)`` of a chain."""
    rows = []
    seq, prev = head_seq, head_hash
    for ev in events:
        seq += 1
        text = canonical(ev)
        h = chain_hash(key, prev, text, seq)
        rows.append({"seq": seq, "event_id": ev["event_id"], "stage": ev["stage"],
                     "report_id": ev.get("report_id"), "occurred_at": _ms(ev["occurred_at"]),
                     "event": text, "prev_hash": prev, "hash": h})
        prev = h
    return rows


@dataclass(frozen=True)
class Anchor:
    """One line of the anchor file: the chain head at a moment, MACed and chained to the line before."""

    seq: int
    hash: str
    at: int  # epoch ms
    line: int  # 1-based line in the anchor file
    prev: str = GENESIS  # MAC of the line before
    mac: str = ""
    note: Mapping[str, Any] = field(default_factory=dict)

    @property
    def at_iso(self) -> str:
        return iso(self.at)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "hash": self.hash, "at": self.at, "at_iso": self.at_iso,
                               "prev": self.prev}
        if self.note:
            out["note"] = dict(self.note)
        return out

    def as_line(self) -> str:
        return json.dumps({**self.body(), "mac": self.mac}, sort_keys=True, separators=(",", ":")) + "\n"


def anchor_mac(key: bytes, body: Mapping[str, Any]) -> str:
    return _mac(key, "anchor\x1f" + json.dumps(body, sort_keys=True, separators=(",", ":")))


def new_anchor(key: bytes, seq: int, head_hash: str, at: int, previous: Anchor | None,
               note: Mapping[str, Any] | None = None) -> Anchor:
    a = Anchor(seq, head_hash, at, (previous.line + 1) if previous else 1,
               previous.mac if previous else GENESIS, "", dict(note or {}))
    return Anchor(a.seq, a.hash, a.at, a.line, a.prev, anchor_mac(key, a.body()), a.note)


def read_anchors(lines: Iterable[str], key: bytes) -> tuple[list[Anchor], str | None]:
    """Anchors of an anchor file's lines, and the first problem with the file (None when sound):
    a line that does not parse, whose MAC is wrong (edited, or forged without the key), that does not
    follow the line before (a line deleted or inserted), or that goes back in the chain."""
    out: list[Anchor] = []
    prev = GENESIS
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            d = json.loads(text)
            a = Anchor(int(d["seq"]), str(d["hash"]), int(d["at"]), n, str(d["prev"]), str(d["mac"]),
                       dict(d.get("note") or {}))
            body = {k: v for k, v in d.items() if k != "mac"}
        except (ValueError, KeyError, TypeError) as exc:
            return out, f"anchor file line {n}: unreadable ({type(exc).__name__}: {exc})"
        if not hmac.compare_digest(anchor_mac(key, body), a.mac) or body != a.body():
            return out, f"anchor file line {n}: its MAC does not match (the anchor file was altered)"
        if a.prev != prev:
            return out, f"anchor file line {n}: does not follow the line before (anchor lines deleted or inserted)"
        if out and (a.seq < out[-1].seq or a.at < out[-1].at):
            return out, (f"anchor file line {n}: seq {a.seq} is before the previous anchor's seq {out[-1].seq} "
                         "(the chain was cut back before this anchor was written)")
        out.append(a)
        prev = a.mac
    return out, None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    records: int
    bad_seq: int | None = None  # the first bad record (or where the first missing one should be)
    problem: str = ""
    anchors: int = 0  # anchors the chain was checked against
    chain: str = CHAIN

    def describe(self) -> str:
        if self.ok:
            text = f"audit chain OK: {self.records} records verified (HMAC-SHA256), {self.anchors} anchors matched"
            if not self.anchors:
                text += " -- no anchors yet: run `hub audit anchor` regularly (see docs/audit.md)"
            return text
        where = f" at record seq={self.bad_seq}" if self.bad_seq is not None else ""
        return f"audit chain BROKEN{where}: {self.problem}"


def _row_problem(row: Mapping[str, Any], expected_seq: int, prev: str, key: bytes) -> tuple[int, str] | None:
    """(seq, problem) of the first thing wrong with one record of a chain, or None."""
    seq = int(row["seq"])
    if seq != expected_seq:
        what = "missing (deleted)" if seq > expected_seq else "duplicated/inserted"
        return expected_seq, f"expected seq {expected_seq}, found {seq}: record {expected_seq} is {what}"
    if row["prev_hash"] != prev:
        return seq, ("prev_hash does not match the previous record's hash "
                     "(a record before it was deleted, inserted or reordered)")
    try:
        event = json.loads(row["event"])
    except ValueError:
        return seq, "event is not valid JSON (altered)"
    if not isinstance(event, dict) or canonical(event) != row["event"]:
        return seq, "event text is not canonical (altered)"
    for col in ("event_id", "stage", "report_id", "occurred_at"):
        if event.get(col) != row[col]:
            return seq, f"column {col} differs from the hashed event (altered)"
    if not hmac.compare_digest(chain_hash(key, prev, row["event"], seq), str(row["hash"])):
        return seq, ("hash does not match the record's content under the audit key "
                     "(altered, or forged/re-hashed without the key)")
    return None


def verify(rows: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None, *, key: bytes,
           anchors: Sequence[Anchor] = (), anchor_problem: str | None = None) -> Verdict:
    """Check an HMAC chain (rows ordered by seq; any iterable, so a large store can be streamed)
    against its stored ``head`` (``{seq, hash, mac}``; None = no head row) and the ``anchors``. Names
    the first record that is altered, forged, missing, inserted or out of order, a missing or altered
    head, a truncated tail, and a record that differs from an anchor."""
    n_anchors = len(anchors)
    if anchor_problem:
        return Verdict(False, 0, None, anchor_problem, n_anchors)
    pinned: dict[int, Anchor] = {}
    for a in anchors:
        if a.seq in pinned and pinned[a.seq].hash != a.hash:
            return Verdict(False, 0, a.seq, f"anchor file lines {pinned[a.seq].line} and {a.line} disagree on "
                                            f"record {a.seq}", n_anchors)
        pinned.setdefault(a.seq, a)
    last_matched = 0
    prev = GENESIS
    count = 0
    for expected_seq, row in enumerate(rows, start=1):
        count = expected_seq
        seq = int(row["seq"])
        problem = _row_problem(row, expected_seq, prev, key)
        if problem is not None:
            return Verdict(False, count, problem[0], problem[1], n_anchors)
        a = pinned.get(seq)
        if a is not None:
            if a.hash != row["hash"]:
                return Verdict(False, count, seq, (
                    f"differs from the anchor of {a.at_iso} (anchor file line {a.line}): the chain was "
                    f"rewritten between records {last_matched + 1} and {seq} after that anchor was written "
                    "(consistently, so by someone holding the audit key)"), n_anchors)
            last_matched = seq
        prev = row["hash"]
    if head is None:
        if count:
            return Verdict(False, count, None, f"the chain head (audit_head) is missing; the log ends at seq "
                                               f"{count}: records after it may have been deleted with the head",
                           n_anchors)
    else:
        hseq, hhash = int(head["seq"]), str(head["hash"])
        if not hmac.compare_digest(head_mac(key, hseq, hhash), str(head.get("mac") or "")):
            return Verdict(False, count, hseq, f"the chain head (seq {hseq}) has a wrong MAC: the head was altered "
                                               f"or re-created (records after seq {hseq} may have been deleted)",
                           n_anchors)
        if hseq != count or hhash != prev:
            if hseq > count:
                return Verdict(False, count, count + 1, f"chain head says seq {hseq} but the log ends at seq {count}: "
                                                        f"records {count + 1}..{hseq} were deleted at the end",
                               n_anchors)
            if hseq == count:
                return Verdict(False, count, hseq, f"the chain head's hash differs from record {hseq}'s "
                                                   "(the head or the record was replaced)", n_anchors)
            return Verdict(False, count, hseq + 1, f"chain head says seq {hseq} but the log ends at seq {count} "
                                                   "(records appended without the head)", n_anchors)
    beyond = [a for a in anchors if a.seq > count]
    if beyond:
        a = beyond[0]
        return Verdict(False, count, count + 1, f"the log ends at seq {count} but the anchor of {a.at_iso} "
                                                f"(anchor file line {a.line}) recorded seq {a.seq}: records "
                                                f"{count + 1}..{a.seq} (at least) were deleted", n_anchors)
    return Verdict(True, count, anchors=n_anchors)


def verify_v1(rows: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None) -> tuple[int, str | None]:
    """The v1 rule (unkeyed SHA-256 chain and head): (records, first problem or None)."""
    prev, count = GENESIS, 0
    for expected_seq, row in enumerate(rows, start=1):
        count = expected_seq
        seq = int(row["seq"])
        if seq != expected_seq:
            return count, f"record {expected_seq}: missing or out of order"
        if row["prev_hash"] != prev or chain_hash_v1(prev, row["event"], seq) != row["hash"]:
            return count, f"record {seq}: does not match the v1 chain"
        prev = row["hash"]
    if count and (head is None or int(head["seq"]) != count or head["hash"] != prev):
        return count, f"the v1 head does not match the log's end (seq {count})"
    return count, None


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


def anchor_path(settings: Settings) -> Path:
    return Path(settings.audit_anchor_file or Path(settings.data_dir) / "audit-anchors.jsonl")


# -- database shell -----------------------------------------------------------------------------
class AuditStore:
    """The audit store of one database. ``settings`` gives the audit key and the anchor file (default:
    the process's environment, :func:`hub.platform.settings.load`); the key is read only when needed."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db
        if settings is None:
            from hub.platform.settings import load

            settings = load()
        self.settings = settings
        self.anchor_file = anchor_path(settings)
        db.migrate(DDL)
        self._chain = self._init_chain()

    @property
    def key(self) -> bytes:
        from hub.platform.keys import audit_key

        return audit_key(self.settings)

    def _init_chain(self) -> str:
        chain = self.chain_version()
        if chain == V1 and self.db.one("SELECT seq FROM audit_log LIMIT 1") is None \
                and self.db.one("SELECT seq FROM audit_head") is None:
            self.db.execute("INSERT INTO audit_meta (name, value) VALUES ('chain', ?) ON CONFLICT (name) DO NOTHING",
                            (CHAIN,))  # a new store
            chain = self.chain_version()
        return chain

    def chain_version(self) -> str:
        """``hmac-sha256``, or ``sha256-v1`` for a store written before the HMAC chain (not migrated)."""
        row = self.db.one("SELECT value FROM audit_meta WHERE name = 'chain'")
        return str(row["value"]) if row else V1

    def _require_current(self) -> None:
        if self._chain != CHAIN:
            self._chain = self.chain_version()
            if self._chain != CHAIN:
                raise ChainError("the audit store has the v1 chain (unkeyed SHA-256): run `hub audit migrate` "
                                 "before storing more events (docs/audit.md)")

    def store(self, events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append the events not stored yet (by event_id), in order. Returns the new rows.
        One id lookup per 500 events, one head read, one executemany (SQLite) or COPY (PostgreSQL) and
        one head write per call."""
        events = list(events)
        if not events:
            return []
        self._require_current()
        key = self.key
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
            lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
            row = self.db.one(f"SELECT seq, hash FROM audit_head WHERE id = 1{lock}")
            head = {"seq": int(row["seq"]), "hash": row["hash"]} if row else {"seq": 0, "hash": GENESIS}
            rows = link(fresh, head["seq"], head["hash"], key)
            values = [(r["seq"], r["event_id"], r["stage"], r["report_id"], r["occurred_at"], r["event"],
                       r["prev_hash"], r["hash"]) for r in rows]
            if self.db.dialect == "postgresql":  # COPY: one stream of rows instead of a bind per row
                with self.db.connection().cursor() as cur, cur.copy(
                        "COPY audit_log (seq, event_id, stage, report_id, occurred_at, event, prev_hash, hash) "
                        "FROM STDIN") as copy:
                    for v in values:
                        copy.write_row(v)
            else:
                self.db.executemany(
                    "INSERT INTO audit_log (seq, event_id, stage, report_id, occurred_at, event, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
            self._write_head(rows[-1]["seq"], rows[-1]["hash"], key, exists=row is not None)
            return rows

    def _write_head(self, seq: int, h: str, key: bytes, *, exists: bool) -> None:
        mac = head_mac(key, seq, h)
        if exists:
            self.db.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ? WHERE id = 1", (seq, h, mac))
        else:
            self.db.execute("INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?)", (seq, h, mac))

    def head(self) -> dict[str, Any]:
        row = self.db.one("SELECT seq, hash FROM audit_head WHERE id = 1")
        return {"seq": int(row["seq"]), "hash": row["hash"]} if row else {"seq": 0, "hash": GENESIS}

    def _head_row(self) -> dict[str, Any] | None:
        cols = "seq, hash, mac" if self._chain == CHAIN else "seq, hash"
        return self.db.one(f"SELECT {cols} FROM audit_head WHERE id = 1")

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

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One consistent read of head and records while the sink keeps appending (no write lock)."""
        conn = self.db.connection()
        if self.db.dialect == "sqlite":
            conn.execute("BEGIN")  # deferred: a WAL read snapshot from the first read on
            try:
                yield
            finally:
                conn.execute("COMMIT")
        else:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield

    # -- anchors ---------------------------------------------------------------------------------
    def anchors(self) -> tuple[list[Anchor], str | None]:
        """The anchors in the anchor file and the file's first problem (None when sound)."""
        try:
            text = self.anchor_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], None
        return read_anchors(text.splitlines(), self.key)

    def verify(self) -> Verdict:
        """Check the whole chain, its head and every anchor (a consistent snapshot of the store)."""
        self._chain = self.chain_version()
        if self._chain != CHAIN:
            with self._snapshot():
                count, problem = verify_v1(self.rows(), self._head_row())
            state = f"broken ({problem})" if problem else "internally consistent"
            return Verdict(False, count, None,
                           f"this store has the v1 chain (unkeyed SHA-256), {state}: it is not tamper-evident "
                           "against whoever holds the database; run `hub audit migrate` (docs/audit.md)",
                           chain=V1)
        anchors, problem = self.anchors()
        with self._snapshot():
            return verify(self.rows(), self._head_row(), key=self.key, anchors=anchors, anchor_problem=problem)

    def anchor(self, note: Mapping[str, Any] | None = None) -> Anchor:
        """Verify the chain, then append its head to the anchor file (O_APPEND, fsync, under a file
        lock so concurrent anchors chain correctly). Raises ChainError when the chain does not verify:
        anchoring a tampered chain would bless it."""
        verdict = self.verify()
        if not verdict.ok:
            raise ChainError(f"not anchored: {verdict.describe()}")
        head = self.head()
        self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.anchor_file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with open(fd, encoding="utf-8", closefd=False) as f:
                existing, problem = read_anchors(f.read().splitlines(), self.key)
            if problem:
                raise ChainError(f"not anchored: {problem}")
            a = new_anchor(self.key, head["seq"], head["hash"], max(now_ms(), existing[-1].at if existing else 0),
                           existing[-1] if existing else None, note)
            os.write(fd, a.as_line().encode("utf-8"))
            os.fsync(fd)
            return a
        finally:
            os.close(fd)  # releases the lock

    # -- migration from v1 -----------------------------------------------------------------------
    def migrate(self) -> dict[str, Any]:
        """Re-chain a v1 store with the HMAC chain: verify it with the v1 rule (refuse when broken),
        re-hash every record and the head in one transaction, mark the store current and anchor the
        result with a note naming the v1 head. A current store is left alone."""
        if self.chain_version() == CHAIN:
            return {"migrated": False, "records": self.count(), "head": self.head()}
        count, problem = verify_v1(self.rows(), self.db.one("SELECT seq, hash FROM audit_head WHERE id = 1"))
        if problem:
            raise ChainError(f"not migrated: the v1 chain is broken ({problem}); keep the database for "
                             "investigation")
        v1_head = self.head()
        key = self.key
        has_mac = self._has_column("audit_head", "mac")
        with self.db.transaction():
            if not has_mac:
                self.db.execute("ALTER TABLE audit_head ADD COLUMN mac TEXT")
            prev, batch = GENESIS, []
            for row in self.rows():
                h = chain_hash(key, prev, row["event"], int(row["seq"]))
                batch.append((prev, h, row["seq"]))
                prev = h
                if len(batch) >= 5000:
                    self.db.executemany("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", batch)
                    batch = []
            if batch:
                self.db.executemany("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", batch)
            if count:
                self._write_head(count, prev, key, exists=True)
            self.db.execute("INSERT INTO audit_meta (name, value) VALUES ('chain', ?)", (CHAIN,))
            self.db.execute("INSERT INTO audit_meta (name, value) VALUES ('migrated_from_v1', ?)",
                            (json.dumps({"seq": v1_head["seq"], "hash": v1_head["hash"], "at": now_ms()}),))
        self._chain = CHAIN
        a = self.anchor(note={"migrated_from": V1, "v1_head_seq": v1_head["seq"], "v1_head_hash": v1_head["hash"]})
        return {"migrated": True, "records": count, "head": self.head(), "v1_head": v1_head, "anchor_line": a.line}

    def _has_column(self, table: str, column: str) -> bool:
        if self.db.dialect == "sqlite":
            return any(r["name"] == column for r in self.db.query(f"PRAGMA table_info({table})"))
        return self.db.one("SELECT 1 AS x FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
                           (table, column)) is not None

    # -- reading ---------------------------------------------------------------------------------
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
