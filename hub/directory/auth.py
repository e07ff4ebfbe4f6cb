"""Credentials: agency keys, officer tokens and auditor tokens (SPEC §7, §8, §9).

A token is shown once when issued; only its SHA-256 is stored. Tokens carry a readable prefix
(``hka_`` agency, ``hko_`` officer, ``hkx_`` auditor) so a leaked one is recognisable, and can be
revoked. ``authenticate`` is the one place that turns a bearer token into a :class:`Principal`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hub.platform.clock import now_ms
from hub.platform.db import Database

AGENCY, OFFICER, AUDITOR = "agency", "officer", "auditor"
PREFIX = {AGENCY: "hka_", OFFICER: "hko_", AUDITOR: "hkx_"}

DDL = [
    """CREATE TABLE IF NOT EXISTS credentials (
        token_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        state TEXT,
        created_at {bigint} NOT NULL,
        revoked_at {bigint}
    )""",
    "CREATE INDEX IF NOT EXISTS credentials_subject ON credentials (kind, subject)",
]


@dataclass(frozen=True)
class Principal:
    kind: str  # agency | officer | auditor
    subject: str  # agency code, officer name or auditor name
    state: str | None  # agency's state, officer's state (or the centre); None for auditors

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.subject}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Credentials:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(DDL)

    def issue(self, kind: str, subject: str, state: str | None) -> str:
        """A new token for ``subject`` (returned once; only its hash is stored)."""
        token = PREFIX[kind] + secrets.token_urlsafe(32)
        self.db.execute(
            "INSERT INTO credentials (token_hash, kind, subject, state, created_at) VALUES (?, ?, ?, ?, ?)",
            (hash_token(token), kind, subject, state, now_ms()),
        )
        return token

    def revoke_all(self, kind: str, subject: str) -> int:
        return self.db.execute(
            "UPDATE credentials SET revoked_at = ? WHERE kind = ? AND subject = ? AND revoked_at IS NULL",
            (now_ms(), kind, subject),
        )

    def revoke(self, token: str) -> bool:
        return bool(self.db.execute(
            "UPDATE credentials SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            (now_ms(), hash_token(token)),
        ))

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of a valid, unrevoked token; None otherwise."""
        if not token or not any(token.startswith(p) for p in PREFIX.values()):
            return None
        h = hash_token(token)
        row = self.db.one(
            "SELECT token_hash, kind, subject, state FROM credentials WHERE token_hash = ? AND revoked_at IS NULL",
            (h,),
        )
        if row is None or not hmac.compare_digest(row["token_hash"], h):
            return None
        return Principal(row["kind"], row["subject"], row["state"])
