"""The audit store on SQLite and on a real PostgreSQL server: idempotent storage, and
`hub audit verify` catching edits, deletions, insertions and swaps (naming the first bad record)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hub.audit_events import audit_event
from hub.auditstore import AuditStore
from hub.cli import main
from hub.db import Database


def story(n: int = 6) -> list[dict]:
    stages = ["RECEIVED", "VALIDATED", "ENRICHED", "ROUTED", "DELIVERED", "ACKNOWLEDGED"]
    return [audit_event(stages[i % len(stages)], report_id="R-1", version=1, agency="KZ-CUSTOMS",
                        state="UZ" if i >= 4 else None, actor="officer:anvar" if i >= 4 else None,
                        recipients=["UZ", "CARICC"] if i == 3 else (), occurred_at=10_000 + i)
            for i in range(n)]


def run_verify(url: str, tmp_path) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, ["audit", "verify"],
                           env={"HUB_DATABASE_URL": url, "HUB_DATA_DIR": str(tmp_path)})
    return r.exit_code, r.output


@pytest.fixture
def store(db_url: str) -> AuditStore:
    s = AuditStore(Database(db_url))
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


def test_edit_detected(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    row = store.db.one("SELECT event FROM audit_log WHERE seq = 4")
    ev = json.loads(row["event"])
    ev["recipients"] = ["UZ", "CARICC", "AF"]
    store.db.execute("UPDATE audit_log SET event = ? WHERE seq = 4",
                     (json.dumps(ev, sort_keys=True, separators=(",", ":")),))
    code, out = run_verify(db_url, tmp_path)
    assert code == 1
    assert "seq=4" in out


def test_column_edit_detected(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store.db.execute("UPDATE audit_log SET stage = 'REJECTED' WHERE seq = 2")
    code, out = run_verify(db_url, tmp_path)
    assert code == 1 and "seq=2" in out


def test_delete_detected(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store.db.execute("DELETE FROM audit_log WHERE seq = 3")
    code, out = run_verify(db_url, tmp_path)
    assert code == 1 and "seq=3" in out


def test_delete_last_detected(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store.db.execute("DELETE FROM audit_log WHERE seq = 6")
    code, out = run_verify(db_url, tmp_path)
    assert code == 1 and "seq=6" in out


def test_insert_detected(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # shift records 5.. up by one and slip a forged event in at seq 5 (hashed with the real formula)
    from hub.auditstore import link

    prev = store.db.one("SELECT hash FROM audit_log WHERE seq = 4")["hash"]
    store.db.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 5")
    store.db.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
    forged = link([audit_event("ACKNOWLEDGED", report_id="R-1", version=1, state="UZ", actor="officer:mallory",
                               occurred_at=10_004)], 4, prev)[0]
    store.db.execute("INSERT INTO audit_log (seq, event_id, stage, report_id, occurred_at, event, prev_hash, hash) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [forged[c] for c in (
                         "seq", "event_id", "stage", "report_id", "occurred_at", "event", "prev_hash", "hash")])
    code, out = run_verify(db_url, tmp_path)
    assert code == 1 and "seq=6" in out  # the forged one links; the next real record no longer does


def test_swap_detected(store: AuditStore, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store.db.execute("UPDATE audit_log SET seq = -2 WHERE seq = 2")
    store.db.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
    store.db.execute("UPDATE audit_log SET seq = 3 WHERE seq = -2")
    code, out = run_verify(db_url, tmp_path)
    assert code == 1 and "seq=2" in out


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
