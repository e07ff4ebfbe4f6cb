"""Demo tokens of `hub up --demo` (issue 12 finding 12): the token file is never readable by others,
not even for an instant, and a new `hub up --demo` revokes the tokens of the previous one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hub.cli.up import demo_officers
from hub.directory.auth import Credentials
from hub.platform.db import Database
from tests.conftest import hub_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_token_file_is_created_0600_without_a_chmod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a permissive umask and chmod doing nothing (the instant before a chmod), the file already
    is owner-only: it is created with that mode, not tightened afterwards."""
    s = hub_settings(data_dir=str(tmp_path / "hub"))
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    old = os.umask(0)
    try:
        demo_officers(s)
    finally:
        os.umask(old)
    path = tmp_path / "hub" / "demo-tokens.txt"
    assert mode(path) == 0o600, oct(mode(path))
    assert len(path.read_text().splitlines()) == 4


def test_an_existing_readable_token_file_is_replaced_by_a_private_one(tmp_path: Path) -> None:
    s = hub_settings(data_dir=str(tmp_path / "hub"))
    path = tmp_path / "hub" / "demo-tokens.txt"
    path.parent.mkdir(parents=True)
    path.write_text("old\n")
    path.chmod(0o644)
    demo_officers(s)
    assert mode(path) == 0o600 and "old" not in path.read_text()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".demo-tokens")], "no temp file left"


def test_earlier_demo_tokens_are_revoked(tmp_path: Path) -> None:
    s = hub_settings(data_dir=str(tmp_path / "hub"))
    first = demo_officers(s)
    second = demo_officers(s)
    creds = Credentials(Database(s.db_url))
    for (name, _state, old), (_n, _s, new) in zip(first, second, strict=True):
        assert creds.authenticate(old) is None, f"{name}: the earlier demo token still works"
        who = creds.authenticate(new)
        assert who is not None and who.subject == name
    lines = (tmp_path / "hub" / "demo-tokens.txt").read_text().splitlines()
    assert [ln.split("\t")[2] for ln in lines] == [t for _n, _s, t in second]
