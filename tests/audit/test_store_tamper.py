"""The audit store on SQLite and on a real PostgreSQL server: idempotent storage, a column edit,
the trail, and the migration of a v1 (unkeyed SHA-256) store. Every tampering kind: test_attacks.py."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hub.audit.store import GENESIS, V1, AuditStore, ChainError, canonical, chain_hash_v1
from hub.cli import main
from hub.domain.audit_events import audit_event
from hub.platform.db import Database
from tests.conftest import TEST_AUDIT_KEY, hub_settings


def story(n: int = 6) -> list[dict]:
    stages = ["RECEIVED", "VALIDATED", "ENRICHED", "ROUTED", "DELIVERED", "ACKNOWLEDGED"]
    return [audit_event(stages[i % len(stages)], report_id="R-1", version=1, agency="KZ-CUSTOMS",
                        state="UZ" if i >= 4 else None, actor="officer:anvar" if i >= 4 else None,
                        recipients=["UZ", "CARICC"] if i == 3 else (), occurred_at=10_000 + i)
            for i in range(n)]


def cli_env(url: str, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"HUB_DATABASE_URL": url, "HUB_DATA_DIR": str(tmp_path), "HUB_AUDIT_KEY": TEST_AUDIT_KEY.decode()}


def run(url: str, tmp_path, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, list(args), env=cli_env(url, tmp_path))
    return r.exit_code, r.output


def run_verify(url: str, tmp_path) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return run(url, tmp_path, "audit", "verify")


@pytest.fixture
def store(db_url: str, tmp_path) -> AuditStore:  # type: ignore[no-untyped-def]
    s = AuditStore(Database(db_url), hub_settings(data_dir=str(tmp_path), database_url=db_url))
    s.store(story())
    return s


def test_idempotent_and_clean(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert store.store(story()) == []  # redelivery stores nothing
    assert store.count() == 6
    extra = audit_event("ACCESS_DENIED", state="KZ", actor="officer:anvar", occurred_at=20_000, unique="x")
    assert len(store.store([extra, extra])) == 1
    code, out = run_verify(db_url, tmp_path)
    assert code == 0, out
    assert "7 records verified" in out


def test_trail_tells_the_story(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, ["audit", "trail", "R-1"],
                           env={"HUB_DATABASE_URL": db_url, "HUB_DATA_DIR": str(tmp_path)})
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert "6 events" in lines[0]
    assert [ln.split()[2] for ln in lines[1:]] == ["RECEIVED", "VALIDATED", "ENRICHED", "ROUTED", "DELIVERED",
                                                  "ACKNOWLEDGED"]
    assert "to CARICC, UZ" in lines[4]
    assert "by officer:anvar" in lines[6]
    missing = CliRunner().invoke(main, ["audit", "trail", "R-404"],
                                 env={"HUB_DATABASE_URL": db_url, "HUB_DATA_DIR": str(tmp_path)})
    assert missing.exit_code == 1


def make_v1_store(db: Database, events: list[dict]) -> None:
    """A store as the v1 code wrote it: unkeyed SHA-256 chain, head without MAC, no audit_meta."""
    db.execute("""CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, stage TEXT NOT NULL,
                  report_id TEXT, occurred_at BIGINT NOT NULL, event TEXT NOT NULL, prev_hash TEXT NOT NULL,
                  hash TEXT NOT NULL)""")
    db.execute("CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)")
    prev = GENESIS
    for seq, ev in enumerate(events, start=1):
        text = canonical(ev)
        h = chain_hash_v1(prev, text, seq)
        db.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (seq, ev["event_id"], ev["stage"], ev["report_id"], ev["occurred_at"], text, prev, h))
        prev = h
    db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (len(events), prev))


def test_v1_store_is_reported_refused_then_migrated(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(db_url)
    make_v1_store(db, story())
    code, out = run_verify(db_url, tmp_path)
    assert code == 1 and "v1 chain (unkeyed SHA-256), internally consistent" in out and "hub audit migrate" in out
    store = AuditStore(db, hub_settings(data_dir=str(tmp_path), database_url=db_url))
    assert store.chain_version() == V1
    with pytest.raises(ChainError, match="hub audit migrate"):  # never appended to an unkeyed chain
        store.store([audit_event("ACCESS_DENIED", state="KZ", actor="officer:x", occurred_at=1, unique="m")])
    code, out = run(db_url, tmp_path, "audit", "migrate")
    assert code == 0 and "migrated 6 records" in out, out
    code, out = run_verify(db_url, tmp_path)
    assert code == 0 and "6 records verified" in out and "1 anchors matched" in out, out
    anchor_line = json.loads((tmp_path / "audit-anchors.jsonl").read_text())
    assert anchor_line["seq"] == 6 and anchor_line["note"]["migrated_from"] == V1
    assert len(store.store([audit_event("ACCESS_DENIED", state="KZ", actor="officer:x", occurred_at=1,
                                        unique="m")])) == 1  # appends again, on the HMAC chain
    assert run_verify(db_url, tmp_path)[0] == 0
    code, out = run(db_url, tmp_path, "audit", "migrate")
    assert code == 0 and "nothing to migrate" in out


def test_broken_v1_store_is_not_migrated(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(db_url)
    make_v1_store(db, story())
    db.execute("DELETE FROM audit_log WHERE seq = 3")
    code, out = run(db_url, tmp_path, "audit", "migrate")
    assert code == 1 and "not migrated" in out and "record 3" in out, out
    assert AuditStore(db, hub_settings(data_dir=str(tmp_path))).chain_version() == V1


def test_a_tampered_chain_is_never_anchored(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store.db.execute("DELETE FROM audit_log WHERE seq = 6")
    code, out = run(db_url, tmp_path, "audit", "anchor")
    assert code == 1 and "not anchored" in out and "seq=6" in out
    assert not (tmp_path / "audit-anchors.jsonl").exists() or not (tmp_path / "audit-anchors.jsonl").read_text()
