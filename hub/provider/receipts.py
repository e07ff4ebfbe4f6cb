"""The provider's read model (SPEC §13): per report and version what the hub did with it, who got
it, when it was first served and acknowledged — and the agency's own stream of status changes.

The ``provider`` projection (:mod:`hub.provider.projection`, its own consumer) keeps it from two inputs:

* audit events (``hub.audit``): RECEIVED, VALIDATED, REJECTED (any stage, also after the 202),
  DUPLICATE, ROUTED, SHARED, the request/answer stages, DELIVERED (→ ``delivered_at``, the first
  one per recipient wins) and ACKNOWLEDGED (→ ``acknowledged_at`` and by whom). CORRELATED and
  ENRICHED are never projected: their details name other agencies' reports, which the provider
  may not see (SPEC §5).
* Receipts (``hub.receipts``, release v2): one per routed version and per share — the report as
  sent, the reporting state's incident id, the recipients with delivery kind, reason and redaction.

Tables (all writes idempotent, so a replayed batch changes nothing):

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

The views (:func:`status_view`, :func:`change_view`) are pure functions over rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from hub.platform.clock import iso, now_ms
from hub.platform.db import Database

log = structlog.get_logger(__name__)

DDL = [
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

# stages whose outcome the provider sees in its status, with the reason where it has one
STAGE_EVENTS = frozenset({"RECEIVED", "VALIDATED", "REJECTED", "DUPLICATE", "ROUTED", "SHARED",
                          "CONSENT_REQUESTED", "CONSENT_GRANTED", "CONSENT_REFUSED", "INFO_REQUESTED",
                          "INFO_PROVIDED"})
REASONED = frozenset({"REJECTED", "DUPLICATE"})  # ROUTED's reason is replaced by the receipt's recipients
REQUEST_STAGES = frozenset({"CONSENT_REQUESTED", "INFO_REQUESTED"})
ANSWER_STAGES = frozenset({"CONSENT_GRANTED", "CONSENT_REFUSED", "INFO_PROVIDED"})
PROJECTED = STAGE_EVENTS | {"DELIVERED", "ACKNOWLEDGED"}


# -- pure helpers ---------------------------------------------------------------------------------
def ms(value: Any) -> int | None:
    """Epoch milliseconds of a decoded timestamp (datetime) or an int; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1000)
    return int(value)


def plain(value: Any) -> Any:
    """A decoded Avro value as JSON data with every timestamp as epoch milliseconds."""
    if isinstance(value, datetime):
        return ms(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def share_request_id(receipt_id: str) -> str | None:
    """``report_id:version:share:<request_id>`` → the request id (None for a routed version)."""
    parts = receipt_id.split(":share:", 1)
    return parts[1] if len(parts) == 2 else None


def seconds_between(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0, end - start) / 1000, 3)


# -- the store ------------------------------------------------------------------------------------
class ReceiptStore:
    """The provider read model: written by the sink (:meth:`apply`), read by the gateway."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(DDL)

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


# -- views (pure) ---------------------------------------------------------------------------------
def _stage(row: Mapping[str, Any]) -> dict[str, Any]:
    detail = json.loads(row["detail"]) if row.get("detail") else {}
    out: dict[str, Any] = {"stage": row["stage"], "at": iso(int(row["occurred_at"])), "actor": row.get("actor")}
    if row.get("reason"):
        out["reason"] = row["reason"]
    if row["stage"] in REQUEST_STAGES | ANSWER_STAGES:
        out["state"] = row.get("state")
    if detail.get("recipients"):
        out["recipients"] = detail["recipients"].split(",")
    for k in ("request_id", "kind", "decision"):
        if k in detail:
            out[k] = detail[k]
    return out


def version_status(stages: Sequence[str], receipted: bool) -> str:
    """The outcome of one version: REJECTED wins, then ROUTED, VALIDATED, RECEIVED, DUPLICATE."""
    for s in ("REJECTED", "ROUTED", "VALIDATED", "RECEIVED", "DUPLICATE"):
        if s in stages or (s == "ROUTED" and receipted):
            return s
    return "UNKNOWN"


def _recipient(row: Mapping[str, Any]) -> dict[str, Any]:
    routed, delivered, acked = row.get("routed_at"), row.get("delivered_at"), row.get("acknowledged_at")
    return {
        "recipient": row["recipient"], "delivery": row.get("delivery"), "reason": row.get("reason") or None,
        "redacted": bool(row["redacted"]) if row.get("redacted") is not None else None,
        "request_id": row.get("request_id"), "routed_at": iso(routed) or None,
        "delivered_at": iso(delivered) or None, "delivered_to": row.get("delivered_to"),
        "acknowledged_at": iso(acked) or None, "acknowledged_by": row.get("acknowledged_by"),
        "time_to_acknowledge_s": seconds_between(routed, acked),
    }


def status_view(report: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                versions: Sequence[Mapping[str, Any]], recipients: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The API view of one report: per version every stage outcome, the recipients with delivery
    kind and times; stage events the hub could not tie to a version are listed apart."""
    numbers = sorted({int(v["version"]) for v in versions}
                     | {int(e["version"]) for e in events if e.get("version") is not None}
                     | {int(r["version"]) for r in recipients})
    out_versions = []
    for n in numbers:
        vrow = next((v for v in versions if int(v["version"]) == n), {})
        stages = [_stage(e) for e in events if e.get("version") is not None and int(e["version"]) == n]
        recips = [_recipient(r) for r in recipients if int(r["version"]) == n]
        body = json.loads(vrow["report"]) if vrow.get("report") else None
        out_versions.append({
            "version": n,
            "status": version_status([s["stage"] for s in stages], bool(vrow.get("routed_at"))),
            "kind": body.get("kind") if body else None,
            "incident_id": vrow.get("incident_id"),
            "routed_at": iso(vrow.get("routed_at")) or None,
            "stages": stages,
            "recipients": recips,
            "delivered": sum(1 for r in recips if r["delivered_at"]),
            "acknowledged": sum(1 for r in recips if r["acknowledged_at"]),
        })
    return {
        "report_id": report["report_id"], "agency": report["agency"], "state": report.get("state"),
        "source_ref": report.get("source_ref"),
        "status": out_versions[-1]["status"] if out_versions else "UNKNOWN",
        "versions": out_versions,
        "unversioned": [_stage(e) for e in events if e.get("version") is None],
    }


def change_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"cursor": int(row["seq"]), "type": row["type"], "report_id": row["report_id"],
            "version": None if row["version"] is None else int(row["version"]),
            **json.loads(row["body"])}
