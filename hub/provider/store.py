"""The provider slice's tables (SPEC §13) and the classes that read and write them.

* the provider read model (:class:`ReceiptStore`, kept by :class:`hub.provider.projection.ProviderProjection`;
  what it holds and how: :mod:`hub.provider.receipts`, whose pure views it answers with);
* the requests to providers and their answers (``provider_requests``, :class:`RequestStore`; the
  pure checks: :mod:`hub.provider.requests`).

The read model's tables (all writes idempotent, so a replayed batch changes nothing):

| table                 | key                               | holds                                          |
|-----------------------|-----------------------------------|------------------------------------------------|
| provider_reports      | report_id                         | agency, state, source_ref (first seen wins)    |
| provider_versions     | report_id, version                | incident id, routed_at, the report (receipt)   |
| provider_events       | event_id                          | stage outcomes with their reason               |
| provider_recipients   | report_id, version, recipient     | delivery kind, delivered/acknowledged at & by  |
| provider_changes      | agency, seq (change_key UNIQUE)   | the agency's stream (cursor = seq)             |
| provider_cursor       | agency                            | the last seq given out                         |
| provider_pending      | change_key                        | changes waiting for their report's agency      |

Cursors: each agency's changes get ``seq`` 1, 2, 3, … from its ``provider_cursor`` row, which the
writing transaction updates first (a row lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so
seqs are handed out in commit order and a reader resuming after seq N never misses a later row.
An ACKNOWLEDGED event names no agency; a change whose report's agency is not known yet waits in
``provider_pending`` and joins the stream as soon as it is.

``provider_requests`` (key ``request_id``) holds each request with its one answer (status,
decision, text, conditions, by whom and when).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog

from hub.platform.clock import iso, now_ms
from hub.platform.db import Database
from hub.provider import requests as rq
from hub.provider.receipts import (
    ANSWER_STAGES,
    PROJECTED,
    REASONED,
    REQUEST_STAGES,
    change_view,
    dumps,
    ms,
    plain,
    seconds_between,
    share_request_id,
    status_view,
)
from hub.provider.requests import (
    OPEN,
    STATUS_OF,
    AlreadyAnswered,
    AlreadyOpen,
    Answer,
    Asked,
    TooManyOpen,
    new_request_id,
)

log = structlog.get_logger(__name__)

READ_MODEL_DDL = [
    """CREATE TABLE IF NOT EXISTS provider_reports (
        report_id TEXT PRIMARY KEY,
        agency TEXT NOT NULL,
        state TEXT,
        source_ref TEXT,
        first_at {bigint} NOT NULL,
        last_at {bigint} NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS provider_reports_agency ON provider_reports (agency, last_at)",
    "CREATE INDEX IF NOT EXISTS provider_reports_ref ON provider_reports (agency, source_ref)",
    """CREATE TABLE IF NOT EXISTS provider_versions (
        report_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        incident_id TEXT,
        routed_at {bigint},
        report TEXT,
        PRIMARY KEY (report_id, version)
    )""",
    """CREATE TABLE IF NOT EXISTS provider_events (
        event_id TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        version INTEGER,
        stage TEXT NOT NULL,
        occurred_at {bigint} NOT NULL,
        actor TEXT,
        state TEXT,
        reason TEXT,
        detail TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS provider_events_report ON provider_events (report_id, occurred_at)",
    """CREATE TABLE IF NOT EXISTS provider_recipients (
        report_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        delivery TEXT,
        reason TEXT,
        redacted INTEGER,
        request_id TEXT,
        routed_at {bigint},
        delivered_at {bigint},
        delivered_to TEXT,
        acknowledged_at {bigint},
        acknowledged_by TEXT,
        PRIMARY KEY (report_id, version, recipient)
    )""",
    """CREATE TABLE IF NOT EXISTS provider_changes (
        agency TEXT NOT NULL,
        seq {bigint} NOT NULL,
        change_key TEXT NOT NULL UNIQUE,
        report_id TEXT,
        version INTEGER,
        type TEXT NOT NULL,
        occurred_at {bigint} NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (agency, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS provider_cursor (
        agency TEXT PRIMARY KEY,
        seq {bigint} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS provider_pending (
        change_key TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        version INTEGER,
        type TEXT NOT NULL,
        occurred_at {bigint} NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS provider_pending_report ON provider_pending (report_id)",
]


REQUESTS_DDL = [
    """CREATE TABLE IF NOT EXISTS provider_requests (
        request_id TEXT PRIMARY KEY,
        report_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        agency TEXT NOT NULL,
        kind TEXT NOT NULL,
        requester TEXT NOT NULL,
        requester_state TEXT NOT NULL,
        to_states TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at {bigint} NOT NULL,
        status TEXT NOT NULL,
        decision TEXT,
        answer_text TEXT,
        conditions TEXT,
        answered_by TEXT,
        answered_at {bigint},
        updated_at {bigint} NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS provider_requests_agency ON provider_requests (agency, status, created_at)",
    "CREATE INDEX IF NOT EXISTS provider_requests_state ON provider_requests (requester_state, report_id)",
    "CREATE INDEX IF NOT EXISTS provider_requests_requester ON provider_requests (requester, status)",
    "CREATE INDEX IF NOT EXISTS provider_requests_changed ON provider_requests (requester_state, updated_at)",
    "CREATE INDEX IF NOT EXISTS provider_requests_report ON provider_requests (report_id)",
]

COLUMNS = ("request_id, report_id, version, agency, kind, requester, requester_state, to_states, text, "
           "created_at, status, decision, answer_text, conditions, answered_by, answered_at, updated_at")



# -- the store ------------------------------------------------------------------------------------
class ReceiptStore:
    """The provider read model: written by the sink (:meth:`apply`), read by the gateway."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(READ_MODEL_DDL)

    # ---- writing (the sink) -------------------------------------------------------------------
    def apply(self, events: Iterable[Mapping[str, Any]], receipts: Iterable[Mapping[str, Any]],
              heads: dict[str, int] | None = None) -> int:
        """Project one batch (decoded audit events and receipts). Returns the changes added; ``heads``
        (when given) receives the newest change cursor of each agency that got changes."""
        events = [e for e in events if e.get("stage") in PROJECTED and e.get("report_id")]
        receipts = list(receipts)
        if not events and not receipts:
            return 0
        with self.db.transaction():
            w = _Writer(self.db)
            for r in receipts:
                w.receipt(r)
            for e in sorted(events, key=lambda e: (ms(e["occurred_at"]) or 0, e["event_id"])):
                w.event(e)
            added = w.flush()
            if heads is not None:
                heads.update(w.heads)
            return added

    # ---- reading (the gateway) ----------------------------------------------------------------
    def owner(self, report_id: str) -> dict[str, Any] | None:
        """``{report_id, agency, state, source_ref}`` of a report the projection knows."""
        return self.db.one("SELECT report_id, agency, state, source_ref FROM provider_reports WHERE report_id = ?",
                           (report_id,))

    def status(self, report_id: str) -> dict[str, Any] | None:
        """The whole status of one report (see :func:`status_view`); None when unknown."""
        rep = self.owner(report_id)
        if rep is None:
            return None
        events = self.db.query(
            "SELECT event_id, version, stage, occurred_at, actor, state, reason, detail FROM provider_events "
            "WHERE report_id = ? ORDER BY occurred_at, event_id", (report_id,))
        versions = self.db.query(
            "SELECT version, incident_id, routed_at, report FROM provider_versions WHERE report_id = ? "
            "ORDER BY version", (report_id,))
        recipients = self.db.query(
            "SELECT version, recipient, delivery, reason, redacted, request_id, routed_at, delivered_at, "
            "delivered_to, acknowledged_at, acknowledged_by FROM provider_recipients WHERE report_id = ? "
            "ORDER BY version, recipient", (report_id,))
        return status_view(rep, events, versions, recipients)

    def report_body(self, report_id: str, version: int) -> dict[str, Any] | None:
        """The version as the provider sent it (from its receipt), in Avro form; None before the receipt."""
        row = self.db.one("SELECT report FROM provider_versions WHERE report_id = ? AND version = ?",
                          (report_id, version))
        return json.loads(row["report"]) if row and row["report"] else None

    def reports(self, agency: str, limit: int = 50, source_ref: str | None = None) -> list[dict[str, Any]]:
        """The agency's reports, most recent activity first, each with its status (for the desk)."""
        if source_ref is not None:
            rows = self.db.query("SELECT report_id FROM provider_reports WHERE agency = ? AND source_ref = ? "
                                 "ORDER BY last_at DESC LIMIT ?", (agency, source_ref, limit))
        else:
            rows = self.db.query("SELECT report_id FROM provider_reports WHERE agency = ? "
                                 "ORDER BY last_at DESC, report_id LIMIT ?", (agency, limit))
        out = []
        for r in rows:
            st = self.status(r["report_id"])
            if st is not None:
                out.append(st)
        return out

    def changes(self, agency: str, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The agency's status changes with cursor > ``after``, oldest first."""
        rows = self.db.query(
            "SELECT seq, report_id, version, type, occurred_at, body FROM provider_changes "
            "WHERE agency = ? AND seq > ? ORDER BY seq LIMIT ?", (agency, after, limit))
        return [change_view(r) for r in rows]

    def recipients_of(self, report_id: str, version: int) -> list[str]:
        rows = self.db.query("SELECT recipient FROM provider_recipients WHERE report_id = ? AND version = ?",
                             (report_id, version))
        return [r["recipient"] for r in rows]


class _Writer:
    """One projection transaction: rows written as it goes, changes staged and numbered at the end."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.agency: dict[str, str | None] = {}
        self.staged: list[dict[str, Any]] = []
        self.heads: dict[str, int] = {}  # agency → its newest change seq (the wake-up's payload)

    # -- who owns a report
    def know(self, report_id: str, agency: str | None, state: str | None, source_ref: str | None,
             at: int) -> None:
        if not agency:
            return
        self.db.execute(
            "INSERT INTO provider_reports (report_id, agency, state, source_ref, first_at, last_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (report_id) DO NOTHING",
            (report_id, agency, state, source_ref, at, at))
        row = self.db.one("SELECT agency FROM provider_reports WHERE report_id = ?", (report_id,))
        if row and row["agency"] != agency:
            log.warning("report claimed by a second agency; the first stays its owner", report_id=report_id,
                        owner=row["agency"], claimed=agency)
            return
        self.db.execute(
            "UPDATE provider_reports SET last_at = CASE WHEN last_at < ? THEN ? ELSE last_at END, "
            "source_ref = COALESCE(source_ref, ?), state = COALESCE(state, ?) WHERE report_id = ?",
            (at, at, source_ref, state, report_id))
        self.agency[report_id] = row["agency"] if row else agency

    def owner(self, report_id: str) -> str | None:
        if report_id not in self.agency:
            row = self.db.one("SELECT agency FROM provider_reports WHERE report_id = ?", (report_id,))
            self.agency[report_id] = row["agency"] if row else None
        return self.agency[report_id]

    def change(self, key: str, report_id: str, version: int | None, kind: str, at: int,
               body: Mapping[str, Any]) -> None:
        self.staged.append({"change_key": key, "report_id": report_id, "version": version, "type": kind,
                            "occurred_at": at, "body": dumps(dict(body))})

    # -- inputs
    def version(self, report_id: str, version: int | None) -> None:
        if version is not None:
            self.db.execute("INSERT INTO provider_versions (report_id, version) VALUES (?, ?) "
                            "ON CONFLICT (report_id, version) DO NOTHING", (report_id, version))

    def recipient(self, report_id: str, version: int, recipient: str) -> None:
        self.db.execute("INSERT INTO provider_recipients (report_id, version, recipient) VALUES (?, ?, ?) "
                        "ON CONFLICT (report_id, version, recipient) DO NOTHING", (report_id, version, recipient))

    def receipt(self, r: Mapping[str, Any]) -> None:
        rid, ver = r["report_id"], int(r["version"])
        report = plain(r["report"])
        routed_at = ms(r["routed_at"]) or now_ms()
        self.know(rid, r["agency"], r["state"], report.get("source_ref"), routed_at)
        self.version(rid, ver)
        request_id = share_request_id(r["receipt_id"])
        if request_id is None:
            self.db.execute(
                "UPDATE provider_versions SET incident_id = ?, routed_at = COALESCE(routed_at, ?), report = ? "
                "WHERE report_id = ? AND version = ?", (r["incident_id"], routed_at, dumps(report), rid, ver))
        else:  # a share keeps the version's own receipt; it only fills in what is missing
            self.db.execute(
                "UPDATE provider_versions SET incident_id = COALESCE(incident_id, ?), report = COALESCE(report, ?) "
                "WHERE report_id = ? AND version = ?", (r["incident_id"], dumps(report), rid, ver))
        recipients = []
        for x in r.get("recipients") or []:
            self.recipient(rid, ver, x["recipient"])
            self.db.execute(
                "UPDATE provider_recipients SET delivery = ?, reason = ?, redacted = ?, request_id = ?, "
                "routed_at = CASE WHEN routed_at IS NULL OR routed_at > ? THEN ? ELSE routed_at END "
                "WHERE report_id = ? AND version = ? AND recipient = ?",
                (x["delivery"], x.get("reason") or "", int(bool(x.get("redacted"))), request_id, routed_at,
                 routed_at, rid, ver, x["recipient"]))
            recipients.append({"recipient": x["recipient"], "delivery": x["delivery"],
                               "reason": x.get("reason") or "", "redacted": bool(x.get("redacted"))})
        body: dict[str, Any] = {"incident_id": r["incident_id"], "recipients": recipients, "at": iso(routed_at)}
        if request_id:
            body["request_id"] = request_id
        self.change(f"receipt:{r['receipt_id']}", rid, ver, "shared" if request_id else "receipt", routed_at, body)

    def event(self, e: Mapping[str, Any]) -> None:
        stage, rid = e["stage"], e["report_id"]
        ver = e.get("version")
        at = ms(e["occurred_at"]) or now_ms()
        detail = dict(e.get("detail") or {})
        if stage in ("RECEIVED", "VALIDATED", "REJECTED", "DUPLICATE"):
            self.know(rid, e.get("agency"), e.get("state"), detail.get("source_ref"), at)
        elif stage == "DELIVERED":  # names the report's agency; its state is the recipient's
            self.know(rid, e.get("agency"), None, None, at)
        self.version(rid, ver)
        if stage == "DELIVERED":
            self.delivered(rid, ver, e, at)
            return
        if stage == "ACKNOWLEDGED":
            self.acknowledged(rid, ver, e, at)
            return
        reason = e.get("reason") if stage in REASONED else None
        kept = {k: detail[k] for k in ("request_id", "kind", "decision", "status", "source_ref") if k in detail}
        recipients = list(e.get("recipients") or [])
        if recipients:
            kept["recipients"] = ",".join(recipients)
        self.db.execute(
            "INSERT INTO provider_events (event_id, report_id, version, stage, occurred_at, actor, state, reason, "
            "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            (e["event_id"], rid, ver, stage, at, e.get("actor"), e.get("state"), reason, dumps(kept)))
        if stage == "ROUTED" and ver is not None:
            for x in recipients:
                self.recipient(rid, ver, x)
                self.db.execute(
                    "UPDATE provider_recipients SET routed_at = COALESCE(routed_at, ?) "
                    "WHERE report_id = ? AND version = ? AND recipient = ?", (at, rid, ver, x))
        body: dict[str, Any] = {"stage": stage, "at": iso(at)}
        if reason:
            body["reason"] = reason
        if stage in ("ROUTED", "SHARED"):
            body["recipients"] = recipients
        if stage in REQUEST_STAGES | ANSWER_STAGES:
            body.update({k: v for k, v in kept.items() if k in ("request_id", "kind", "decision")})
            body["state"] = e.get("state")
            if stage in REQUEST_STAGES:
                body["to_states"] = recipients
        kind = "request" if stage in REQUEST_STAGES else "answer" if stage in ANSWER_STAGES else "stage"
        self.change(f"event:{e['event_id']}", rid, ver, kind, at, body)

    def delivered(self, rid: str, ver: int | None, e: Mapping[str, Any], at: int) -> None:
        state = e.get("state")
        if ver is None or not state:
            return
        self._earliest(rid, ver, state, "delivered_at", "delivered_to", e.get("actor"), at)
        row = self.db.one("SELECT delivered_at FROM provider_recipients WHERE report_id = ? AND version = ? "
                          "AND recipient = ?", (rid, ver, state))
        first = int(row["delivered_at"]) if row and row["delivered_at"] is not None else at
        self.change(f"delivered:{rid}:{ver}:{state}", rid, ver, "delivered", first,
                    {"recipient": state, "at": iso(first)})

    def acknowledged(self, rid: str, ver: int | None, e: Mapping[str, Any], at: int) -> None:
        state = e.get("state")
        if ver is None or not state:
            return
        self._earliest(rid, ver, state, "acknowledged_at", "acknowledged_by", e.get("actor"), at)
        body = self._ack_body(rid, ver, state)
        self.change(f"acknowledged:{rid}:{ver}:{state}", rid, ver, "acknowledged", at, json.loads(body))

    def _earliest(self, rid: str, ver: int, state: str, at_col: str, who_col: str, who: Any, at: int) -> None:
        """Record ``who``/``at`` in the recipient's ``who_col``/``at_col`` unless an earlier one is there
        (the first delivery or acknowledgement wins, whatever order the events arrive in)."""
        self.recipient(rid, ver, state)
        self.db.execute(
            f"UPDATE provider_recipients SET {who_col} = CASE WHEN {at_col} IS NULL OR {at_col} > ? THEN ? "
            f"ELSE {who_col} END, {at_col} = CASE WHEN {at_col} IS NULL OR {at_col} > ? THEN ? ELSE {at_col} END "
            "WHERE report_id = ? AND version = ? AND recipient = ?", (at, who, at, at, rid, ver, state))

    def _ack_body(self, rid: str, ver: int, state: str) -> str:
        row = self.db.one("SELECT routed_at, acknowledged_at, acknowledged_by FROM provider_recipients "
                          "WHERE report_id = ? AND version = ? AND recipient = ?", (rid, ver, state))
        assert row is not None and row["acknowledged_at"] is not None
        return dumps({"recipient": state, "at": iso(int(row["acknowledged_at"])), "by": row["acknowledged_by"],
                      "time_to_acknowledge_s": seconds_between(row["routed_at"], row["acknowledged_at"])})

    # -- numbering
    def flush(self) -> int:
        """Number the staged changes per agency (after the ones already stored), park those whose
        agency is unknown, and release parked ones whose agency became known. Returns changes added."""
        parked = self.db.query(
            "SELECT p.change_key, p.report_id, p.version, p.type, p.occurred_at, p.body FROM provider_pending p "
            "JOIN provider_reports r ON r.report_id = p.report_id ORDER BY p.occurred_at, p.change_key")
        for p in parked:
            self.staged.append(dict(p))
            self.db.execute("DELETE FROM provider_pending WHERE change_key = ?", (p["change_key"],))
        by_agency: dict[str, list[dict[str, Any]]] = {}
        seen: set[str] = set()
        for c in self.staged:
            if c["change_key"] in seen:
                continue
            seen.add(c["change_key"])
            if c["type"] == "acknowledged":  # the routing time may have arrived since it was staged
                c["body"] = self._ack_body(c["report_id"], c["version"], json.loads(c["body"])["recipient"])
            agency = self.owner(c["report_id"])
            if agency is None:
                self.db.execute(
                    "INSERT INTO provider_pending (change_key, report_id, version, type, occurred_at, body) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (change_key) DO NOTHING",
                    (c["change_key"], c["report_id"], c["version"], c["type"], c["occurred_at"], c["body"]))
                continue
            by_agency.setdefault(agency, []).append(c)
        added = 0
        for agency in sorted(by_agency):
            fresh = self._unseen(by_agency[agency])
            if not fresh:
                continue
            self.db.execute("INSERT INTO provider_cursor (agency, seq) VALUES (?, 0) ON CONFLICT (agency) DO NOTHING",
                            (agency,))
            self.db.execute("UPDATE provider_cursor SET seq = seq + ? WHERE agency = ?", (len(fresh), agency))
            top = self.db.one("SELECT seq FROM provider_cursor WHERE agency = ?", (agency,))
            assert top is not None
            first = int(top["seq"]) - len(fresh) + 1
            self.heads[agency] = int(top["seq"])
            self.db.executemany(
                "INSERT INTO provider_changes (agency, seq, change_key, report_id, version, type, occurred_at, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(agency, first + i, c["change_key"], c["report_id"], c["version"], c["type"], c["occurred_at"],
                  c["body"]) for i, c in enumerate(fresh)])
            added += len(fresh)
        return added

    def _unseen(self, changes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        known = {r["change_key"] for r in self.db.query_in(
            "SELECT change_key FROM provider_changes WHERE change_key IN ({marks})",
            [c["change_key"] for c in changes])}
        return [c for c in changes if c["change_key"] not in known]


# -- requests ----------------------------------------------------------------------------------------
class RequestStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(REQUESTS_DDL)

    def create(self, asked: Asked, *, version: int, agency: str, requester: str, requester_state: str,
               at: int | None = None, request_id: str | None = None) -> dict[str, Any]:
        """Store a new open request (raises TooManyOpen / AlreadyOpen). Returns its row."""
        at = now_ms() if at is None else at
        row = {"request_id": request_id or new_request_id(), "report_id": asked.report_id, "version": version,
               "agency": agency, "kind": asked.kind, "requester": requester, "requester_state": requester_state,
               "to_states": ",".join(asked.to_states), "text": asked.text, "created_at": at, "status": OPEN,
               "decision": None, "answer_text": None, "conditions": None, "answered_by": None, "answered_at": None,
               "updated_at": at}
        with self.db.transaction():
            same = self.db.one(
                "SELECT request_id FROM provider_requests WHERE requester_state = ? AND report_id = ? AND kind = ? "
                "AND to_states = ? AND status = ?",
                (requester_state, asked.report_id, asked.kind, row["to_states"], OPEN))
            if same:
                raise AlreadyOpen(same["request_id"])
            n = self.db.one("SELECT COUNT(*) AS n FROM provider_requests WHERE requester = ? AND status = ?",
                            (requester, OPEN))
            if n and int(n["n"]) >= rq.MAX_OPEN_PER_OFFICER:  # read at call time (the limits live in requests)
                raise TooManyOpen(f"{requester} has {int(n['n'])} unanswered requests (the limit is "
                                  f"{rq.MAX_OPEN_PER_OFFICER}); wait for answers before asking more")
            self.db.execute(f"INSERT INTO provider_requests ({COLUMNS}) VALUES ({','.join('?' * 17)})",
                            [row[c.strip()] for c in COLUMNS.split(",")])
        return row

    def get(self, request_id: str) -> dict[str, Any] | None:
        return self.db.one(f"SELECT {COLUMNS} FROM provider_requests WHERE request_id = ?", (request_id,))

    def answer(self, request_id: str, answer: Answer, *, by: str, at: int | None = None) -> dict[str, Any]:
        """Record the one answer of an open request (raises AlreadyAnswered). Returns the new row."""
        at = now_ms() if at is None else at
        n = self.db.execute(
            "UPDATE provider_requests SET status = ?, decision = ?, answer_text = ?, conditions = ?, answered_by = ?, "
            "answered_at = ?, updated_at = ? WHERE request_id = ? AND status = ?",
            (STATUS_OF[answer.decision], answer.decision, answer.text, answer.conditions, by, at, at, request_id,
             OPEN))
        if n != 1:
            raise AlreadyAnswered(f"request {request_id} was already answered")
        row = self.get(request_id)
        assert row is not None
        return row

    def reopen(self, request_id: str, at: int | None = None) -> None:
        """Undo an answer whose audit or share could not be sent (the request is open again)."""
        self.db.execute(
            "UPDATE provider_requests SET status = ?, decision = NULL, answer_text = NULL, conditions = NULL, "
            "answered_by = NULL, answered_at = NULL, updated_at = ? WHERE request_id = ?",
            (OPEN, now_ms() if at is None else at, request_id))

    def forget(self, request_id: str) -> None:
        """Remove a request whose audit event could not be sent (it was never asked)."""
        self.db.execute("DELETE FROM provider_requests WHERE request_id = ?", (request_id,))

    def inbox(self, agency: str, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The agency's requests, open ones first, newest first."""
        where, params = "agency = ?", [agency]
        if status == OPEN:
            where += " AND status = ?"
            params.append(OPEN)
        elif status == "ANSWERED":
            where += " AND status <> ?"
            params.append(OPEN)
        rows = self.db.query(
            f"SELECT {COLUMNS} FROM provider_requests WHERE {where} "
            "ORDER BY CASE WHEN status = 'OPEN' THEN 0 ELSE 1 END, created_at DESC, request_id LIMIT ?",
            (*params, limit))
        return rows

    def of_state(self, state: str, report_ids: Sequence[str] | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Requests asked by officers of ``state`` (optionally only about ``report_ids``), oldest first."""
        if report_ids is not None:
            ids = sorted(set(report_ids))
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            return self.db.query(f"SELECT {COLUMNS} FROM provider_requests WHERE requester_state = ? AND "
                                 f"report_id IN ({marks}) ORDER BY created_at, request_id", (state, *ids))
        return self.db.query(f"SELECT {COLUMNS} FROM provider_requests WHERE requester_state = ? "
                             "ORDER BY created_at DESC, request_id LIMIT ?", (state, limit))

    def about(self, report_id: str) -> list[dict[str, Any]]:
        """Every request about one report, oldest first (for its provider's status)."""
        return self.db.query(f"SELECT {COLUMNS} FROM provider_requests WHERE report_id = ? "
                             "ORDER BY created_at, request_id", (report_id,))

    def changed_since(self, state: str, since_ms: int, limit: int = 500) -> list[dict[str, Any]]:
        """Requests of ``state`` created or answered at or after ``since_ms``, oldest change first."""
        return self.db.query(f"SELECT {COLUMNS} FROM provider_requests WHERE requester_state = ? AND updated_at >= ? "
                             "ORDER BY updated_at, request_id LIMIT ?", (state, since_ms, limit))

    def open_requests(self) -> list[dict[str, Any]]:
        """``{kind, agency, created_at}`` of every unanswered request (for the metrics)."""
        return self.db.query("SELECT kind, agency, created_at FROM provider_requests WHERE status = ?", (OPEN,))
