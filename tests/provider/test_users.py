"""Desk users (hub.directory.desk_users, `hub agency user …`): a credential bound to one agency, named in
the audit trail, revocable one person at a time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hub.directory.agencies import Directory
from hub.directory.auth import AGENCY, Credentials
from hub.directory.desk_users import DeskUsers, UserError
from hub.platform.db import Database
from tests.conftest import HUB, hub_env, hub_settings


@pytest.fixture
def users(db_url: str) -> DeskUsers:
    db = Database(db_url)  # SQLite and PostgreSQL
    Directory(db).add("UZ-CUSTOMS", "UZ", "State Customs Committee")
    return DeskUsers(db)


def test_a_desk_token_is_an_agency_credential_held_by_a_person(users: DeskUsers) -> None:
    token = users.add("Aziz", "uz-customs")
    who = Credentials(users.db).authenticate(token)
    assert who is not None and (who.kind, who.subject, who.state) == (AGENCY, "UZ-CUSTOMS", "UZ")
    assert users.holder(token) == "aziz"
    system_key = users.directory.issue_key("UZ-CUSTOMS")
    assert users.holder(system_key) is None  # the agency's own key is nobody's desk token
    u = users.get("aziz")
    assert u is not None and u.label == "desk:aziz@UZ-CUSTOMS" and u.active_tokens == 1


def test_revoking_one_person_leaves_the_agency_key(users: DeskUsers) -> None:
    t1, key = users.add("aziz", "UZ-CUSTOMS"), users.directory.issue_key("UZ-CUSTOMS")
    t2 = users.token("aziz")
    other = users.add("malika", "UZ-CUSTOMS")
    assert users.revoke("aziz") == 2
    creds = Credentials(users.db)
    assert creds.authenticate(t1) is None and creds.authenticate(t2) is None
    assert creds.authenticate(key) is not None and creds.authenticate(other) is not None
    with pytest.raises(UserError, match="was revoked"):
        users.token("aziz")
    assert [(u.name, u.active, u.active_tokens) for u in users.list("UZ-CUSTOMS")] == [
        ("aziz", False, 0), ("malika", True, 1)]


@pytest.mark.parametrize(("name", "agency", "problem"), [
    ("a", "UZ-CUSTOMS", "name: 'a' should be 2-40"),
    ("has space", "UZ-CUSTOMS", "should be 2-40"),
    ("aziz", "KZ-NOBODY", "agency: unknown agency 'KZ-NOBODY'"),
])
def test_bad_input_names_the_field(users: DeskUsers, name: str, agency: str, problem: str) -> None:
    with pytest.raises(UserError, match=problem):
        users.add(name, agency)


def test_names_are_unique(users: DeskUsers) -> None:
    users.add("aziz", "UZ-CUSTOMS")
    with pytest.raises(UserError, match="already exists"):
        users.add("AZIZ", "UZ-CUSTOMS")


def test_cli(tmp_path: Path) -> None:
    s = hub_settings(data_dir=str(tmp_path / "hub"))
    env = hub_env(s)

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, timeout=60)

    assert hub("agency", "add", "UZ-CUSTOMS", "--state", "UZ", "--name", "Customs").returncode == 0
    added = hub("agency", "user", "add", "aziz", "--agency", "UZ-CUSTOMS")
    assert added.returncode == 0 and added.stdout.strip().startswith("hka_"), added.stderr
    assert "desk user aziz of UZ-CUSTOMS" in added.stderr
    listed = hub("agency", "user", "list")
    assert "aziz" in listed.stdout and "active" in listed.stdout and "tokens=1" in listed.stdout
    bad = hub("agency", "user", "add", "aziz", "--agency", "UZ-CUSTOMS")
    assert bad.returncode == 2 and "already exists" in bad.stderr
    assert "1 token(s) of desk user aziz revoked" in hub("agency", "user", "revoke", "aziz").stdout
    assert "revoked" in hub("agency", "user", "list", "--agency", "UZ-CUSTOMS").stdout
    assert "Desk users of an agency" in hub("agency", "user", "--help").stdout
