"""Desk users (SPEC §13): people at an agency's desk, each with a credential bound to one agency.

A desk user's token is an agency credential (kind ``agency``, subject the agency code, the agency's
state) issued through :class:`hub.directory.auth.Credentials`, so it files reports exactly like the agency's
key, reads the agency's status and answers its requests. This table remembers *which person* holds
each token (by its hash), so audit events name them (``desk:<name>@<AGENCY>``) and one person can be
revoked without touching the agency's system key. Revoking the agency (``hub agency revoke``, or a key
rotation with ``hub agency key --revoke``) revokes its desk users' tokens as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.directory.agencies import AgencyError, Directory
from hub.directory.auth import AGENCY, hash_token
from hub.platform.clock import now_ms
from hub.platform.db import Database

DDL = [
    """CREATE TABLE IF NOT EXISTS agency_users (
        name TEXT PRIMARY KEY,
        agency TEXT NOT NULL,
        created_at {bigint} NOT NULL,
        revoked_at {bigint}
    )""",
    """CREATE TABLE IF NOT EXISTS agency_user_tokens (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS agency_user_tokens_name ON agency_user_tokens (name)",
]

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")


class UserError(ValueError):
    """A clear, user-facing problem (names the field)."""


@dataclass(frozen=True)
class DeskUser:
    name: str
    agency: str
    active: bool
    active_tokens: int

    @property
    def label(self) -> str:
        return desk_label(self.name, self.agency)


def desk_label(name: str, agency: str) -> str:
    return f"desk:{name}@{agency}"


class DeskUsers:
    def __init__(self, db: Database, states: tuple[str, ...] | None = None) -> None:
        self.db = db
        db.migrate(DDL)
        self.directory = Directory(db, states)

    def add(self, name: str, agency: str) -> str:
        """Register a desk user of ``agency`` and return a first token (shown once)."""
        name = name.strip().lower()
        if not NAME_RE.fullmatch(name):
            raise UserError(f"name: {name!r} should be 2-40 lower-case letters, digits, '.', '-' or '_'")
        a = self.directory.get(agency)
        if a is None:
            raise UserError(f"agency: unknown agency {agency.upper()!r} (add it first: hub agency add)")
        existing = self.get(name)
        if existing is not None:
            raise UserError(f"name: {name!r} already exists (at {existing.agency}); "
                            f"use `hub agency user token {name}` for a new token")
        self.db.execute("INSERT INTO agency_users (name, agency, created_at) VALUES (?, ?, ?)",
                        (name, a.code, now_ms()))
        return self.token(name)

    def token(self, name: str) -> str:
        """A new token for an existing, active desk user."""
        u = self.get(name)
        if u is None:
            raise UserError(f"name: no desk user called {name!r}")
        if not u.active:
            raise UserError(f"name: {name!r} was revoked; add a new desk user instead")
        try:
            token = self.directory.issue_key(u.agency)
        except AgencyError as exc:
            raise UserError(str(exc)) from exc
        self.db.execute("INSERT INTO agency_user_tokens (token_hash, name) VALUES (?, ?)", (hash_token(token), name))
        return token

    def revoke(self, name: str) -> int:
        """Revoke every token of the desk user and disable them. Returns the tokens revoked."""
        u = self.get(name)
        if u is None:
            raise UserError(f"name: no desk user called {name!r}")
        now = now_ms()
        with self.db.transaction():
            n = self.db.execute(
                "UPDATE credentials SET revoked_at = ? WHERE kind = ? AND revoked_at IS NULL AND token_hash IN "
                "(SELECT token_hash FROM agency_user_tokens WHERE name = ?)", (now, AGENCY, name))
            self.db.execute("UPDATE agency_users SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?", (now, name))
        return n

    def get(self, name: str) -> DeskUser | None:
        row = self.db.one("SELECT name, agency, revoked_at FROM agency_users WHERE name = ?", (name.strip().lower(),))
        if row is None:
            return None
        n = self.db.one(
            "SELECT COUNT(*) AS n FROM credentials c JOIN agency_user_tokens t ON t.token_hash = c.token_hash "
            "WHERE t.name = ? AND c.revoked_at IS NULL", (row["name"],))
        return DeskUser(row["name"], row["agency"], row["revoked_at"] is None, int(n["n"]) if n else 0)

    def list(self, agency: str | None = None) -> list[DeskUser]:
        if agency:
            rows = self.db.query("SELECT name FROM agency_users WHERE agency = ? ORDER BY name", (agency.upper(),))
        else:
            rows = self.db.query("SELECT name FROM agency_users ORDER BY agency, name")
        return [u for u in (self.get(r["name"]) for r in rows) if u is not None]

    def holder(self, token: str | None) -> str | None:
        """The desk user's name holding ``token`` (None for an agency's system key or anything else)."""
        if not token:
            return None
        row = self.db.one("SELECT name FROM agency_user_tokens WHERE token_hash = ?", (hash_token(token),))
        return row["name"] if row else None
