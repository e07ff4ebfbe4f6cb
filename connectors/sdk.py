"""Store-and-forward publisher for agency systems (SPEC §7).

An agency system calls :meth:`Publisher.publish` with a report (its JSON form); the report is
written to a durable SQLite outbox *before* anything is sent, so nothing is lost if the hub, the link
or the agency process itself goes down. :meth:`Publisher.flush` / :meth:`Publisher.drain` send pending
reports in batches and retry with exponential backoff while the hub is unreachable.

No duplicates: a report's outbox key is ``source_ref|version`` (one outbox per agency), so
publishing it again is a no-op, and the hub is idempotent on (agency, source_ref, version) -- a
report sent but not yet marked sent when the process was killed is answered ``duplicate: true`` when
it is resent, and is not delivered twice.

Two transports: :class:`RestTransport` (``POST /v1/reports/batch`` with the agency key) and
:class:`KafkaTransport` (Avro straight to the agency's own ``hub.intake.agency.<CODE>`` for agencies
inside the network, registered with ``hub agency add CODE --kafka-native``; the same validation runs
locally and again in the hub's validate stage, which also checks the agency and its state against
the directory)::

    from connectors.sdk import Publisher, RestTransport
    pub = Publisher("outbox.db", RestTransport("https://hub.example", key="hka_..."))
    pub.publish({"kind": "SEIZURE", "source_ref": "KZ-2026-1", ...})
    pub.drain(timeout=60)          # or pub.start() for a background sender thread
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
import structlog

from connectors.gateway import GatewayClient, TransportDown, TransportRefused
from connectors.status import StatusClient

log = structlog.get_logger(__name__)

PENDING, SENT, REJECTED = "pending", "sent", "rejected"
MAX_BATCH = 500
MAX_BATCH_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Result:
    status: str  # sent | rejected
    report_id: str | None = None
    duplicate: bool = False
    error: str | None = None
    errors: tuple[dict[str, str], ...] = ()


class Transport(Protocol):
    def send(self, bodies: Sequence[dict[str, Any]]) -> list[Result]: ...

    def close(self) -> None: ...


def outbox_key(body: Any) -> str:
    """``source_ref|version`` of a report body; ValueError naming the field when they are unusable."""
    if not isinstance(body, dict):
        raise ValueError(f"a report should be a JSON object, not {type(body).__name__}")
    ref = body.get("source_ref")
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError("source_ref: is required (a non-empty string)")
    version = body.get("version", 1)
    if version is None:
        version = 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version: should be a whole number ≥ 1, not {version!r}")
    return f"{ref.strip()}|{version}"


class RestTransport(GatewayClient):
    """Batches over ``POST /v1/reports/batch`` with ``Authorization: Bearer <agency key>``."""

    def __init__(self, url: str, key: str, *, timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        super().__init__(url, key, timeout=timeout, client=client)
        self.headers["Content-Type"] = "application/json"

    def send(self, bodies: Sequence[dict[str, Any]]) -> list[Result]:
        resp = self.call("POST", "/v1/reports/batch", content=orjson.dumps(list(bodies)))
        if resp.status_code in (401, 403):
            raise TransportRefused(f"hub refused the key ({resp.status_code}): {_error_text(resp)}")
        if resp.status_code != 202:
            retry = resp.headers.get("retry-after", "")
            raise TransportDown(f"hub answered {resp.status_code}: {_error_text(resp)}",
                                retry_after=float(retry) if retry.isdigit() else None)
        results = []
        for item in resp.json()["results"]:
            if item["status"] == 202:
                results.append(Result(SENT, item.get("report_id"), bool(item.get("duplicate"))))
            else:
                results.append(Result(REJECTED, item.get("report_id"), False,
                                      f"{item['status']}: {item.get('error')}", tuple(item.get("errors") or ())))
        return results


def _error_text(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error"))
    except Exception:
        return resp.text[:200]


class KafkaTransport:
    """Avro straight to the agency's intake topic ``hub.intake.agency.<CODE>`` for agencies inside the
    network (validated locally first). On real Kafka the agency's SASL principal may write only that
    topic; the hub takes the agency's identity from it, never from the report."""

    def __init__(self, settings: Any, agency: str, state: str) -> None:
        self.settings, self.agency, self.state = settings, agency, state
        self.loop = asyncio.new_event_loop()
        self._producer: Any = None

    def _prod(self) -> Any:
        from hub.platform.kafka.io import producer

        if self._producer is None:

            async def start() -> Any:  # aiokafka clients must be created inside the running loop
                p = producer(self.settings, request_timeout_ms=10_000)
                try:
                    await asyncio.wait_for(p.start(), 10)
                except BaseException:
                    await p.stop()
                    raise
                return p

            try:
                self._producer = self.loop.run_until_complete(start())
            except Exception as exc:
                raise TransportDown(f"broker unreachable: {exc!r}") from exc
        return self._producer

    def send(self, bodies: Sequence[dict[str, Any]]) -> list[Result]:
        from hub.domain.report import AgencyMismatch, ReportInvalid, from_json
        from hub.domain.wire import intake_record
        from hub.platform.kafka.topics import agency_intake

        results: list[Result | None] = []
        todo = []
        for body in bodies:
            try:
                r = from_json(body, agency=self.agency, state=self.state, settings=self.settings)
            except AgencyMismatch as exc:
                results.append(Result(REJECTED, error=f"403: {exc}"))
                continue
            except ReportInvalid as exc:
                results.append(Result(REJECTED, error=f"422: {exc}", errors=tuple(e.as_dict() for e in exc.errors)))
                continue
            results.append(None)
            todo.append((len(results) - 1, r))
        if todo:
            prod = self._prod()

            async def go() -> None:
                records = [intake_record(r, topic=agency_intake(self.agency)) for _, r in todo]
                futs = [await prod.send(rec.topic, rec.value, key=rec.key, headers=rec.headers) for rec in records]
                await asyncio.wait_for(asyncio.gather(*futs), 15)

            try:
                self.loop.run_until_complete(go())
            except Exception as exc:
                self.stop_producer()
                raise TransportDown(f"broker did not acknowledge: {exc!r}") from exc
            for i, r in todo:
                results[i] = Result(SENT, r["report_id"] or None)  # Kafka-native: the hub assigns the id
        return [r for r in results if r is not None]

    def stop_producer(self) -> None:
        if self._producer is not None:
            try:
                self.loop.run_until_complete(asyncio.wait_for(self._producer.stop(), 5))
            except Exception as exc:
                log.warning("producer stop failed", error=repr(exc))
            self._producer = None

    def close(self) -> None:
        self.stop_producer()
        self.loop.close()


DDL = """CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    report_id TEXT,
    duplicate INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    errors BLOB,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)"""


class Publisher:
    """A durable outbox plus a transport. Thread-safe; one outbox file per agency."""

    def __init__(self, outbox: str | Path, transport: Transport, *, batch_size: int = 200,
                 min_backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.path = Path(outbox)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.transport = transport
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a report in the outbox survives power loss
        self._db.execute(DDL)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- storing -----------------------------------------------------------------------------------
    def publish(self, body: dict[str, Any]) -> str:
        """Store a report durably for sending; returns its outbox key. Publishing it again is a no-op
        (unless it was rejected: a corrected report with the same key replaces the rejected one)."""
        return self.publish_many([body])[0]

    def publish_many(self, bodies: Iterable[dict[str, Any]]) -> list[str]:
        now = time.time()
        rows = [(outbox_key(b), orjson.dumps(b), now, now) for b in bodies]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO outbox (key, body, status, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET body = excluded.body, status = 'pending', error = NULL, "
                    "errors = NULL, updated_at = excluded.updated_at "
                    "WHERE outbox.status = 'rejected' AND outbox.body != excluded.body",
                    rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return [r[0] for r in rows]

    # -- looking -----------------------------------------------------------------------------------
    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0])

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        return {PENDING: 0, SENT: 0, REJECTED: 0} | {s: int(n) for s, n in rows}

    def results(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(keys)
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = ",".join("?" * len(chunk))
                for row in self._db.execute(
                        f"SELECT key, status, report_id, duplicate, error, errors, attempts FROM outbox WHERE key IN ({q})",
                        chunk):
                    out[row[0]] = {"status": row[1], "report_id": row[2], "duplicate": bool(row[3]),
                                   "error": row[4], "errors": orjson.loads(row[5]) if row[5] else [],
                                   "attempts": row[6]}
        return out

    # -- status and receipts (SPEC §13) --------------------------------------------------------------
    status_client: Any = None  # a connectors.status.StatusClient; built from a RestTransport when unset

    def _status_client(self) -> Any:
        if self.status_client is None:
            self.status_client = StatusClient.for_transport(self.transport)
        return self.status_client

    def status(self, report_id: str | None = None, *, source_ref: str | None = None,
               version: int | None = None) -> dict[str, Any]:
        """What the hub did with a report: ``status(report_id)``, or ``status(source_ref=..., version=...)``
        (Kafka-native agencies do not learn the hub's keyed id when they send). Raises
        ``connectors.status.StatusNotFound`` for a report the hub has not seen (yet)."""
        client = self._status_client()
        if report_id:
            return client.status(report_id)
        if not source_ref:
            raise ValueError("report_id or source_ref is required")
        known = self.results([f"{source_ref}|{version or 1}"]).get(f"{source_ref}|{version or 1}") or {}
        if known.get("report_id"):
            return client.status(known["report_id"])
        return client.lookup(source_ref, version)

    def receipts(self, after: int = 0, limit: int = 100) -> dict[str, Any]:
        """One page of the agency's status changes after cursor ``after``:
        ``{"changes": [...], "next_after": N}``; call again with ``after=next_after`` to continue."""
        return self._status_client().receipts(after, limit)

    # -- sending -----------------------------------------------------------------------------------
    def flush(self) -> int:
        """Send every pending report once, batch by batch; returns how many were settled.

        Raises TransportDown/TransportRefused when the hub cannot take them (they stay pending)."""
        settled = 0
        while True:
            with self._lock:
                batch = self._db.execute(
                    "SELECT seq, key, body FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT ?",
                    (self.batch_size,)).fetchall()
            if not batch:
                return settled
            rows, size = [], 0
            for row in batch:
                size += len(row[2])
                if rows and size > MAX_BATCH_BYTES:
                    break
                rows.append(row)
            with self._lock:
                self._db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", [(r[0],) for r in rows])
            results = self.transport.send([orjson.loads(r[2]) for r in rows])
            if len(results) != len(rows):
                raise TransportDown(f"hub answered {len(results)} results for {len(rows)} reports")
            now = time.time()
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                for (seq, key, _), res in zip(rows, results, strict=True):
                    self._db.execute(
                        "UPDATE outbox SET status = ?, report_id = ?, duplicate = ?, error = ?, errors = ?, "
                        "updated_at = ? WHERE seq = ?",
                        (res.status, res.report_id, int(res.duplicate), res.error,
                         orjson.dumps(list(res.errors)) if res.errors else None, now, seq))
                    if res.status == REJECTED:
                        log.warning("report rejected by the hub", key=key, error=res.error)
                self._db.execute("COMMIT")
            settled += len(rows)

    def drain(self, timeout: float | None = None) -> dict[str, int]:
        """Flush until nothing is pending, retrying with backoff; stops at ``timeout`` seconds (None = never)
        or when :meth:`stop` is called. Returns the outbox counts."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = self.min_backoff
        while not self._stop.is_set():
            try:
                self.flush()
                delay = self.min_backoff
                if self.pending() == 0:
                    break
            except (TransportDown, TransportRefused) as exc:
                log.warning("hub not taking reports; will retry", error=str(exc), retry_in=round(delay, 2),
                            pending=self.pending())
                wait = delay * random.uniform(0.8, 1.2)
                hinted = getattr(exc, "retry_after", None)
                if hinted:  # the hub said when to come back (503 Retry-After); never wait past max_backoff
                    wait = max(wait, min(hinted, self.max_backoff))
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                self._stop.wait(wait)
                delay = min(delay * 2, self.max_backoff)
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self.counts()

    # -- background ----------------------------------------------------------------------------------
    def start(self, poll: float = 0.5) -> None:
        """Send in a background thread (call :meth:`close` to stop it)."""

        def loop() -> None:
            while not self._stop.is_set():
                self.drain(timeout=None) if self.pending() else self._stop.wait(poll)

        self._thread = threading.Thread(target=loop, name="outbox-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.transport.close()
        with self._lock:
            self._db.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
