"""Liaison officers and auditors (SPEC §8, §9): a directory in the hub database plus tokens.

An officer is bound to one state (a member, a partner or the centre, e.g. ``CARICC``); an auditor
to no state. Tokens are issued, stored hashed and revoked through :class:`hub.directory.auth.Credentials`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.directory.auth import AUDITOR, OFFICER, Credentials
from hub.platform.clock import now_ms
from hub.platform.db import Database
from hub.platform.settings import Settings

DDL = [
    """CREATE TABLE IF NOT EXISTS officers (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT,
        created_at {bigint} NOT NULL,
        disabled_at {bigint}
    )""",
]


class OfficerError(ValueError):
    """A clear, user-facing problem (names the field)."""


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise OfficerError(f"name: {name!r} must be 1–64 characters without spaces")
    return name


def check_state(state: str | None, settings: Settings, auditor: bool) -> str | None:
    if auditor:
        if state:
            raise OfficerError("state: auditors are not bound to a state; omit --state")
        return None
    if not state:
        raise OfficerError("state: an officer needs --state (one of " + ", ".join(settings.recipients) + ")")
    state = state.strip().upper()
    if state not in settings.recipients:
        raise OfficerError(f"state: {state!r} is not a configured recipient ("
                           + ", ".join(settings.recipients) + ")")
    return state


@dataclass(frozen=True)
class Officer:
    name: str
    kind: str
    state: str | None
    active: bool


class Officers:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        db.migrate(DDL)
        self.credentials = Credentials(db)

    def add(self, name: str, state: str | None, auditor: bool = False) -> str:
        """Register an officer (or auditor) and return a first token (shown once)."""
        name = check_name(name)
        state = check_state(state, self.settings, auditor)
        if self.get(name):
            raise OfficerError(f"name: {name!r} already exists (use `hub officer token {name}` for a new token)")
        kind = AUDITOR if auditor else OFFICER
        self.db.execute("INSERT INTO officers (name, kind, state, created_at) VALUES (?, ?, ?, ?)",
                        (name, kind, state, now_ms()))
        return self.credentials.issue(kind, name, state)

    def get(self, name: str) -> Officer | None:
        row = self.db.one("SELECT name, kind, state, disabled_at FROM officers WHERE name = ?", (name,))
        return Officer(row["name"], row["kind"], row["state"], row["disabled_at"] is None) if row else None

    def token(self, name: str) -> str:
        o = self.get(name)
        if o is None:
            raise OfficerError(f"name: no officer or auditor called {name!r} (add one with `hub officer add`)")
        if not o.active:
            raise OfficerError(f"name: {name!r} is disabled")
        return self.credentials.issue(o.kind, o.name, o.state)

    def revoke(self, name: str, disable: bool = False) -> int:
        """Revoke every token of ``name``; with ``disable`` also refuse new ones. Returns tokens revoked."""
        o = self.get(name)
        if o is None:
            raise OfficerError(f"name: no officer or auditor called {name!r}")
        n = self.credentials.revoke_all(o.kind, o.name)
        if disable:
            self.db.execute("UPDATE officers SET disabled_at = ? WHERE name = ?", (now_ms(), name))
        return n

    def list(self) -> list[dict[str, Any]]:
        return self.db.query("SELECT name, kind, state, created_at, disabled_at FROM officers ORDER BY name")
