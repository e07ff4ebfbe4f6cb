"""The agency directory (SPEC §7): which agencies may publish, their state, and their keys.

Agencies live in the hub database (SQLite by default, PostgreSQL via ``HUB_DATABASE_URL``). Keys are
issued through :class:`hub.directory.auth.Credentials` (shown once, stored hashed) with the agency code as
subject and its state bound to the key, so the gateway takes the reporter's identity from the key.

Kafka-native agencies (``hub agency add CODE --kafka-native``) produce to their own intake topic
``hub.intake.agency.<CODE>``; the worker checks each record there against the directory
(:mod:`hub.pipeline.core.identity`) through :class:`DirectoryCache`, a small cached reader refreshed every
``HUB_DIRECTORY_REFRESH_MS``. ``hub agency revoke`` revokes the keys *and* the agency (its Kafka-native
records are rejected from the next refresh on); issuing a new key reinstates it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from hub.directory.auth import AGENCY, Credentials
from hub.domain.agency import AgencyStanding
from hub.platform.clock import now_ms
from hub.platform.db import Database
from hub.platform.kafka.topics import AGENCY_INTAKE_PREFIX, INTAKE, agency_intake
from hub.platform.settings import Settings

log = structlog.get_logger(__name__)

DDL = [
    """CREATE TABLE IF NOT EXISTS agencies (
        code TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at {bigint} NOT NULL
    )""",
    # standing of an agency beyond its keys (a table of its own: the agencies table predates it)
    """CREATE TABLE IF NOT EXISTS agency_access (
        code TEXT PRIMARY KEY,
        kafka_native INTEGER NOT NULL DEFAULT 0,
        revoked_at {bigint}
    )""",
]
STANDINGS_SQL = ("SELECT a.code, a.state, COALESCE(x.kafka_native, 0) AS kafka_native, x.revoked_at "
                 "FROM agencies a LEFT JOIN agency_access x ON x.code = a.code")

CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{1,39}")


class AgencyError(ValueError):
    """A bad agency code/state, or an unknown agency."""


@dataclass(frozen=True)
class Agency:
    code: str
    state: str
    name: str
    created_at: int
    active_keys: int = 0
    kafka_native: bool = False
    revoked: bool = False


class Directory:
    def __init__(self, db: Database, states: tuple[str, ...] | None = None) -> None:
        self.db = db
        self.states = states
        db.migrate(DDL)
        self.credentials = Credentials(db)

    def add(self, code: str, state: str, name: str, *, kafka_native: bool = False) -> Agency:
        """Register an agency (idempotent when code, state and name are unchanged). ``kafka_native``
        marks it as producing to its own intake topic (an existing agency may be marked later)."""
        code, state = code.strip().upper(), state.strip().upper()
        if not CODE_RE.fullmatch(code):
            raise AgencyError(f"code {code!r}: use 2-40 letters, digits, '-' or '_' (e.g. KZ-CUSTOMS)")
        if self.states is not None and state not in self.states:
            raise AgencyError(f"state {state!r} is not a configured member or partner ({', '.join(self.states)})")
        if not name.strip():
            raise AgencyError("name: should not be empty")
        existing = self.get(code)
        if existing is not None:
            if existing.state != state:
                raise AgencyError(f"agency {code} already exists in state {existing.state}, not {state}")
            if existing.name != name.strip():
                self.db.execute("UPDATE agencies SET name = ? WHERE code = ?", (name.strip(), code))
        else:
            self.db.execute(
                "INSERT INTO agencies (code, state, name, created_at) VALUES (?, ?, ?, ?)",
                (code, state, name.strip(), now_ms()),
            )
        if kafka_native:
            self.db.execute("INSERT INTO agency_access (code, kafka_native) VALUES (?, 1) "
                            "ON CONFLICT (code) DO UPDATE SET kafka_native = 1", (code,))
        return self.get(code)  # type: ignore[return-value]

    def get(self, code: str) -> Agency | None:
        row = self.db.one("SELECT code, state, name, created_at FROM agencies WHERE code = ?", (code.upper(),))
        return self._agency(row) if row else None

    def _agency(self, row: dict[str, Any]) -> Agency:
        keys = self.db.one(
            "SELECT COUNT(*) AS n FROM credentials WHERE kind = ? AND subject = ? AND revoked_at IS NULL",
            (AGENCY, row["code"]),
        )
        access = self.db.one("SELECT kafka_native, revoked_at FROM agency_access WHERE code = ?", (row["code"],))
        return Agency(row["code"], row["state"], row["name"], int(row["created_at"]), int(keys["n"]) if keys else 0,
                      bool(access and access["kafka_native"]), bool(access and access["revoked_at"] is not None))

    def standings(self) -> dict[str, AgencyStanding]:
        """Every agency as the identity check sees it (one query)."""
        return {r["code"]: AgencyStanding(r["code"], r["state"], bool(r["kafka_native"]), r["revoked_at"] is not None)
                for r in self.db.query(STANDINGS_SQL)}

    def list(self) -> list[Agency]:
        rows = self.db.query("SELECT code, state, name, created_at FROM agencies ORDER BY state, code")
        return [self._agency(r) for r in rows]

    def issue_key(self, code: str, *, revoke_old: bool = False) -> str:
        """A new key for the agency (returned once). ``revoke_old`` revokes its earlier keys first."""
        agency = self.get(code)
        if agency is None:
            raise AgencyError(f"unknown agency {code!r} (add it first: hub agency add {code} --state XX --name ...)")
        if revoke_old:
            self.credentials.revoke_all(AGENCY, agency.code)
        self.db.execute("UPDATE agency_access SET revoked_at = NULL WHERE code = ?", (agency.code,))  # reinstated
        return self.credentials.issue(AGENCY, agency.code, agency.state)

    def revoke(self, code: str) -> int:
        """Revoke every key of the agency and the agency itself (its Kafka-native records are rejected
        until a new key is issued); returns how many keys were active."""
        agency = self.get(code)
        if agency is None:
            raise AgencyError(f"unknown agency {code!r}")
        self.db.execute("INSERT INTO agency_access (code, kafka_native, revoked_at) VALUES (?, 0, ?) "
                        "ON CONFLICT (code) DO UPDATE SET revoked_at = excluded.revoked_at", (agency.code, now_ms()))
        return self.credentials.revoke_all(AGENCY, agency.code)


def _database_exists(settings: Settings) -> bool:
    url = settings.db_url
    return not url.startswith("sqlite:///") or Path(url[len("sqlite:///"):]).exists()


def kafka_native_codes(settings: Settings) -> list[str]:
    """Codes of the Kafka-native agencies in the directory ([] when there is no hub database yet;
    a database error is logged and treated as none, so topic creation goes on)."""
    if not _database_exists(settings):
        return []
    db = Database(settings.db_url)
    try:
        return sorted(c for c, a in Directory(db, settings.states).standings().items() if a.kafka_native)
    except Exception as exc:
        log.warning("agency directory not readable; no Kafka-native intake topics", error=repr(exc))
        return []
    finally:
        db.close()


def _broker_topics(settings: Settings) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    from hub.platform.kafka.clients import client_settings

    async def go() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **client_settings(settings).admin)
        await admin.start()
        try:
            return list(await admin.list_topics())
        finally:
            await admin.close()

    with ThreadPoolExecutor(1) as pool:  # its own event loop, whether or not the caller runs one
        return pool.submit(asyncio.run, go()).result(timeout=60)


def intake_topics(settings: Settings) -> list[str]:
    """The topics the validate stage reads: ``hub.intake``, the intake topic of every Kafka-native
    agency of the directory, and any other ``hub.intake.agency.*`` topic on the broker (so records on
    the topic of an unknown or removed agency are rejected, not left unread). Read at worker start:
    a worker reads a new Kafka-native agency's topic after its restart."""
    names = {agency_intake(c) for c in kafka_native_codes(settings)}
    try:
        names |= {t for t in _broker_topics(settings) if t.startswith(AGENCY_INTAKE_PREFIX)}
    except Exception as exc:
        log.warning("broker topics not listed; reading the directory's agency topics only", error=repr(exc))
    return [INTAKE, *sorted(names)]


class DirectoryCache:
    """The directory as the identity check needs it, read from the hub database at most every
    ``HUB_DIRECTORY_REFRESH_MS`` (default 5 s): a revocation applies to every record validated from
    one refresh interval after it on. When the database cannot be read the last view is kept for
    :attr:`max_stale` seconds (12 refresh intervals), then :meth:`snapshot` answers None and
    Kafka-native records are rejected (fail closed; they stay replayable in the DLQ)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.db = Database(settings.db_url)
        self.clock = clock
        self.refresh = max(settings.directory_refresh_ms, 1) / 1000
        self.max_stale = 12 * self.refresh
        self._snap: Mapping[str, AgencyStanding] = {}
        self._loaded: float | None = None
        self._attempt: float | None = None

    def _load(self) -> Mapping[str, AgencyStanding]:
        try:
            return Directory(self.db, self.settings.states).standings()
        except Exception:
            self.db.close()  # a fresh connection next time
            raise

    def snapshot(self) -> Mapping[str, AgencyStanding] | None:
        now = self.clock()
        if self._attempt is None or now - self._attempt >= self.refresh:
            self._attempt = now
            try:
                self._snap, self._loaded = self._load(), now
            except Exception as exc:
                log.warning("agency directory not readable; keeping the last view", error=repr(exc))
        if self._loaded is None or now - self._loaded > self.max_stale:
            return None
        return self._snap
