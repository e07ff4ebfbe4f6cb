"""Agency directory CLI (real SQLite database) and the pure decisions of the ingest core."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.directory.agencies import AgencyError, Directory
from hub.directory.auth import Credentials
from hub.ingest.http import ledger_decision, parse_batch
from hub.platform.db import Database


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args), env={"HUB_DATA_DIR": str(tmp_path / "hub")})
    return r.exit_code, r.output


def test_agency_add_list_key_revoke(tmp_path: Path) -> None:
    code, out = run(tmp_path, "agency", "add", "kz-customs", "--state", "kz", "--name", "State Revenue Committee")
    assert code == 0 and "agency KZ-CUSTOMS (KZ)" in out
    code, out = run(tmp_path, "agency", "key", "KZ-CUSTOMS")
    key1 = out.strip()
    assert code == 0 and key1.startswith("hka_")
    db = Database(f"sqlite:///{tmp_path / 'hub' / 'hub.db'}")
    stored = [r["token_hash"] for r in db.query("SELECT token_hash FROM credentials")]
    assert key1 not in stored and len(stored) == 1  # only the hash is stored
    principal = Credentials(db).authenticate(key1)
    assert principal is not None and (principal.subject, principal.state) == ("KZ-CUSTOMS", "KZ")
    code, out = run(tmp_path, "agency", "key", "KZ-CUSTOMS", "--revoke")
    key2 = out.strip().splitlines()[-1]
    assert Credentials(db).authenticate(key1) is None and Credentials(db).authenticate(key2) is not None
    code, out = run(tmp_path, "agency", "list")
    assert "KZ-CUSTOMS" in out and "keys=1" in out
    code, out = run(tmp_path, "agency", "revoke", "KZ-CUSTOMS")
    assert "1 key(s) of KZ-CUSTOMS revoked" in out and Credentials(db).authenticate(key2) is None
    code, out = run(tmp_path, "agency", "add", "X1", "--state", "FR", "--name", "n")
    assert code != 0 and "state 'FR' is not a configured member or partner" in out
    code, out = run(tmp_path, "agency", "key", "NOPE")
    assert code != 0 and "unknown agency 'NOPE'" in out


def test_agency_state_cannot_change(tmp_path: Path) -> None:
    d = Directory(Database(f"sqlite:///{tmp_path}/h.db"), ("KZ", "KG"))
    d.add("KG-BORDER", "KG", "Border Service")
    assert d.add("KG-BORDER", "KG", "Border Service").code == "KG-BORDER"  # idempotent
    with pytest.raises(AgencyError, match="already exists in state KG"):
        d.add("KG-BORDER", "KZ", "Border Service")


@pytest.mark.parametrize("cmd", [["agency", "--help"], ["agency", "add", "--help"], ["gateway", "--help"],
                                 ["publish", "--help"], ["connector", "filedrop", "--help"], ["simulate", "--help"],
                                 ["up", "--help"]])
def test_help(cmd: list[str], tmp_path: Path) -> None:
    code, out = run(tmp_path, *cmd)
    assert code == 0 and "Usage:" in out


def test_ledger_decision() -> None:
    assert ledger_decision(1, set()) == "new"
    assert ledger_decision(1, {1}) == "duplicate"
    assert ledger_decision(2, {1}) == "new"
    assert ledger_decision(1, {2}) == "stale"
    assert ledger_decision(2, {1, 3}) == "stale"
    assert ledger_decision(1, {1, 3}) == "duplicate"


def test_parse_batch() -> None:
    assert parse_batch(b' [{"a": 1}, 2] ') == [{"a": 1}, 2]
    assert parse_batch(b'{"a": 1}\n\n{"b": 2}\n') == [{"a": 1}, {"b": 2}]
    with pytest.raises(ValueError, match="line 3"):
        parse_batch(b'{"a": 1}\n\n{"b": \n')
