"""The agency directory (SPEC §7): which agencies may publish, their state, and their keys.

Agencies live in the hub database (SQLite by default, PostgreSQL via ``HUB_DATABASE_URL``). Keys are
issued through :class:`hub.auth.Credentials` (shown once, stored hashed) with the agency code as
subject and its state bound to the key, so the gateway takes the reporter's identity from the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.auth import AGENCY, Credentials
from hub.clock import now_ms
from hub.db import Database

DDL = [
    """CREATE TABLE IF NOT EXISTS agencies (
        code TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at {bigint} NOT NULL
    )""",
]

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


class Directory:
    def __init__(self, db: Database, states: tuple[str, ...] | None = None) -> None:
        self.db = db
        self.states = states
        db.migrate(DDL)
        self.credentials = Credentials(db)

    def add(self, code: str, state: str, name: str) -> Agency:
        """Register an agency (idempotent when code, state and name are unchanged)."""
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
            return self.get(code)  # type: ignore[return-value]
        self.db.execute(
            "INSERT INTO agencies (code, state, name, created_at) VALUES (?, ?, ?, ?)",
            (code, state, name.strip(), now_ms()),
        )
        return self.get(code)  # type: ignore[return-value]

    def get(self, code: str) -> Agency | None:
        row = self.db.one("SELECT code, state, name, created_at FROM agencies WHERE code = ?", (code.upper(),))
        return self._agency(row) if row else None

    def _agency(self, row: dict[str, Any]) -> Agency:
        keys = self.db.one(
            "SELECT COUNT(*) AS n FROM credentials WHERE kind = ? AND subject = ? AND revoked_at IS NULL",
            (AGENCY, row["code"]),
        )
        return Agency(row["code"], row["state"], row["name"], int(row["created_at"]), int(keys["n"]) if keys else 0)

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
        return self.credentials.issue(AGENCY, agency.code, agency.state)

    def revoke(self, code: str) -> int:
        """Revoke every key of the agency; returns how many were active."""
        agency = self.get(code)
        if agency is None:
            raise AgencyError(f"unknown agency {code!r}")
        return self.credentials.revoke_all(AGENCY, agency.code)
