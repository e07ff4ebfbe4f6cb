"""The attacker's tests of the audit store (issue 12 finding 5, SPEC §9), on SQLite and PostgreSQL.

Each test stores a real chain, tampers with the database as someone holding it would (plain SQL, with
the hash formulas an attacker knows: the old unkeyed SHA-256 one, or the HMAC one with the hub's key
for an insider), and runs ``hub audit verify`` (and ``hub audit anchor``) through the CLI. Every kind
of tampering must be detected and named: the record seq and the problem.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.audit.store import AuditStore
from hub.cli import main
from hub.domain.audit_events import audit_event
from hub.platform.db import Database

KEY = b"attack-test-audit-key-0123456789"
GENESIS = "0" * 64
Formula = Callable[[str, str, int], str]


def v1_formula(prev: str, text: str, seq: int) -> str:
    """The unkeyed chain of the v1 store: anyone holding the database can compute it."""
    return hashlib.sha256(f"{prev}{text}{seq}".encode()).hexdigest()


def hmac_formula(key: bytes) -> Formula:
    """The documented HMAC chain (docs/audit.md), as an insider holding the key computes it."""
    return lambda prev, text, seq: hmac.new(key, f"{seq}\x1f{prev}\x1f{text}".encode(), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, h: str) -> str:
    return hmac.new(key, f"head\x1f{seq}\x1f{h}".encode(), hashlib.sha256).hexdigest()


def story(n: int = 8, offset: int = 0) -> list[dict]:
    stages = ["RECEIVED", "VALIDATED", "ENRICHED", "ROUTED", "DELIVERED", "ACKNOWLEDGED"]
    return [audit_event(stages[j % 6], report_id=f"R-{j // 6}", version=1, agency="KZ-CUSTOMS",
                        state="UZ" if j % 6 >= 4 else None, actor="officer:anvar" if j % 6 >= 4 else None,
                        recipients=["UZ", "CARICC"] if j % 6 == 3 else (), occurred_at=10_000 + j)
            for j in range(offset, offset + n)]


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    e = {"HUB_DATABASE_URL": db_url, "HUB_DATA_DIR": str(tmp_path / "hub"), "HUB_AUDIT_KEY": KEY.decode()}
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    return e


@pytest.fixture
def db(env: dict[str, str]) -> Database:
    d = Database(env["HUB_DATABASE_URL"])
    AuditStore(d).store(story())
    return d


def hub(env: dict[str, str], *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args), env=env)
    return r.exit_code, r.output


def verify(env: dict[str, str]) -> tuple[int, str]:
    return hub(env, "audit", "verify")


def anchor(env: dict[str, str]) -> None:
    code, out = hub(env, "audit", "anchor")
    assert code == 0, out


def rows(db: Database) -> list[dict]:
    return db.query("SELECT seq, event, prev_hash, hash FROM audit_log ORDER BY seq")


def rewrite_from(db: Database, start: int, formula: Formula, *, key: bytes | None = None) -> None:
    """Alter record ``start`` (an officer's acknowledgement becomes mallory's), re-hash it and every
    later record with ``formula`` and recompute the head (its MAC too when ``key`` is known)."""
    all_rows = rows(db)
    prev = all_rows[start - 2]["hash"] if start > 1 else GENESIS
    for r in all_rows[start - 1:]:
        text = r["event"]
        if r["seq"] == start:
            ev = json.loads(text)
            ev["actor"] = "officer:mallory"
            text = json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        h = formula(prev, text, r["seq"])
        db.execute("UPDATE audit_log SET event = ?, prev_hash = ?, hash = ? WHERE seq = ?", (text, prev, h, r["seq"]))
        prev = h
    last = all_rows[-1]["seq"]
    db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (last, prev))
    if key is not None:
        db.execute("UPDATE audit_head SET mac = ? WHERE id = 1", (head_mac(key, last, prev),))


def test_untouched_chain_and_anchors_verify(db: Database, env: dict[str, str]) -> None:
    anchor(env)
    AuditStore(db).store(story(4, offset=8))
    anchor(env)
    code, out = verify(env)
    assert code == 0, out
    assert "12 records verified" in out and "2 anchors" in out


def test_edit(db: Database, env: dict[str, str]) -> None:
    ev = json.loads(rows(db)[3]["event"])
    ev["recipients"] = ["AF", "CARICC", "UZ"]
    db.execute("UPDATE audit_log SET event = ? WHERE seq = 4",
               (json.dumps(ev, sort_keys=True, separators=(",", ":")),))
    code, out = verify(env)
    assert code == 1 and "seq=4" in out and "altered" in out, out


def test_delete_middle(db: Database, env: dict[str, str]) -> None:
    db.execute("DELETE FROM audit_log WHERE seq = 3")
    code, out = verify(env)
    assert code == 1 and "seq=3" in out and "missing" in out, out


def test_insert_forged_record(db: Database, env: dict[str, str]) -> None:
    """A record forged with the formula the attacker knows, later records renumbered."""
    prev = rows(db)[3]["hash"]
    db.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 5")
    db.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
    forged = audit_event("ACKNOWLEDGED", report_id="R-0", version=1, state="UZ", actor="officer:mallory",
                         occurred_at=10_004)
    text = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    db.execute("INSERT INTO audit_log (seq, event_id, stage, report_id, occurred_at, event, prev_hash, hash) "
               "VALUES (5, ?, ?, ?, ?, ?, ?, ?)", (forged["event_id"], forged["stage"], forged["report_id"],
                                                    forged["occurred_at"], text, prev, v1_formula(prev, text, 5)))
    code, out = verify(env)
    assert code == 1 and "seq=5" in out, out  # the forged record itself, not only the next one


def test_swap(db: Database, env: dict[str, str]) -> None:
    db.execute("UPDATE audit_log SET seq = -2 WHERE seq = 2")
    db.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
    db.execute("UPDATE audit_log SET seq = 3 WHERE seq = -2")
    code, out = verify(env)
    assert code == 1 and "seq=2" in out, out


def test_truncate_tail(db: Database, env: dict[str, str]) -> None:
    db.execute("DELETE FROM audit_log WHERE seq >= 7")
    code, out = verify(env)
    assert code == 1 and "seq=7" in out and "ends at seq 6" in out, out


def test_missing_head(db: Database, env: dict[str, str]) -> None:
    db.execute("DELETE FROM audit_head")
    code, out = verify(env)
    assert code == 1 and "head" in out and "missing" in out, out


def test_delete_tail_and_head(db: Database, env: dict[str, str]) -> None:
    db.execute("DELETE FROM audit_log WHERE seq >= 6")
    db.execute("DELETE FROM audit_head")
    code, out = verify(env)
    assert code == 1 and "head" in out and "missing" in out and "seq 5" in out, out


def test_delete_tail_and_recompute_head(db: Database, env: dict[str, str]) -> None:
    """The head moved back to the new last record (seq and hash copied from it; no key for its MAC)."""
    last = rows(db)[4]
    db.execute("DELETE FROM audit_log WHERE seq >= 6")
    db.execute("UPDATE audit_head SET seq = 5, hash = ? WHERE id = 1", (last["hash"],))
    code, out = verify(env)
    assert code == 1 and "head" in out and "seq=5" in out, out


def test_full_rewrite_from_record_2_without_the_key(db: Database, env: dict[str, str]) -> None:
    """Finding 5: a rewrite from record 2 on, head included, passed the unkeyed chain."""
    rewrite_from(db, 2, v1_formula)
    code, out = verify(env)
    assert code == 1 and "seq=2" in out and "key" in out, out


def test_full_rewrite_with_a_guessed_key(db: Database, env: dict[str, str]) -> None:
    guess = b"audit-key-guess-0000000000000000"
    rewrite_from(db, 2, hmac_formula(guess), key=guess)
    code, out = verify(env)
    assert code == 1 and "seq=2" in out, out


def test_full_rewrite_by_a_key_holder_is_caught_by_the_anchor(db: Database, env: dict[str, str]) -> None:
    """An insider with the database AND the key rewrites everything consistently: only the anchor
    (kept outside the database) can tell."""
    anchor(env)
    rewrite_from(db, 2, hmac_formula(KEY), key=KEY)
    code, out = verify(env)
    assert code == 1 and "anchor" in out and "seq=8" in out and "rewritten" in out, out


def test_truncation_with_a_replayed_old_head_is_caught_by_the_anchor(db: Database, env: dict[str, str]) -> None:
    """The attacker kept an old (validly MACed) head row and restores it after deleting the tail."""
    old_head = db.one("SELECT * FROM audit_head WHERE id = 1")
    AuditStore(db).store(story(4, offset=8))
    anchor(env)
    db.execute("DELETE FROM audit_log WHERE seq > 8")
    db.execute("DELETE FROM audit_head")
    cols = ", ".join(old_head)
    db.execute(f"INSERT INTO audit_head ({cols}) VALUES ({', '.join('?' * len(old_head))})", list(old_head.values()))
    code, out = verify(env)
    assert code == 1 and "anchor" in out and "seq=9" in out, out


def test_everything_deleted_is_caught_by_the_anchor(db: Database, env: dict[str, str]) -> None:
    anchor(env)
    db.execute("DELETE FROM audit_log")
    db.execute("DELETE FROM audit_head")
    code, out = verify(env)
    assert code == 1 and "anchor" in out and "seq=1" in out, out


def test_anchor_file_edited(db: Database, env: dict[str, str]) -> None:
    anchor(env)
    path = Path(env["HUB_DATA_DIR"]) / "audit-anchors.jsonl"
    line = json.loads(path.read_text())
    line["seq"] = 7
    path.write_text(json.dumps(line) + "\n")
    code, out = verify(env)
    assert code == 1 and "anchor file line 1" in out, out
