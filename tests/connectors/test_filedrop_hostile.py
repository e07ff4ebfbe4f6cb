"""The file drop under attack (issue 12 finding 11), through a real gateway and real files.

Who attacks: anyone who can write into the drop directory (a shared SFTP drop, a mounted share)
but must not read other files of the connector's host or make it write outside the directory.
Bad files go to failed/ with their error report while the directory keeps flowing; links are never
followed; files over the size cap are refused unread.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import orjson
import pytest

from connectors import filedrop as filedrop_mod
from connectors.filedrop import FileDrop
from connectors.sdk import Publisher, RestTransport
from hub.directory.agencies import Directory
from hub.platform.settings import Settings
from tests.conftest import HUB, hub_env
from tests.connectors.conftest import Gateway
from tests.connectors.intake import read_intake_sync
from tests.factories import csv_bytes, json_report
from tests.helpers import stop_process, wait_until


def csv_row(ref: str, **over: str) -> dict[str, str]:
    row = {"kind": "SEIZURE", "source_ref": ref, "event_time": "2026-11-01T08:30:00Z", "tlp": "GREEN",
           "location_country": "TJ", "substance_type": "HEROIN", "quantity": "4.2", "unit": "KG",
           "concealment": "CONVEYANCE"}
    row.update(over)
    return row


def outbox_refs(drop: Path) -> set[str]:
    """source_refs the connector ever queued for sending (its durable outbox, read directly)."""
    db = sqlite3.connect(drop / ".filedrop" / "outbox.db")
    try:
        return {k.split("|")[0] for (k,) in db.execute("SELECT key FROM outbox")}
    finally:
        db.close()


def once(settings: Settings, url: str, key: str, drop: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, "connector", "filedrop", "--agency", "KZ-CUSTOMS", "--dir", str(drop), "--url", url,
                           "--once", "--settle", "0"], env=hub_env(settings, HUB_AGENCY_KEY=key, **env),
                          capture_output=True, text=True, timeout=120)


def test_bad_files_go_to_failed_and_the_directory_keeps_flowing(gateway: Gateway, directory: Directory,
                                                                tmp_path: Path) -> None:
    """Finding 11: one CSV field over 128 KiB raised csv.Error and blocked the whole directory forever."""
    key = directory.issue_key("KZ-CUSTOMS")
    p = f"FH-{uuid.uuid4().hex[:8]}"
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "01-huge-field.csv").write_bytes(csv_bytes([csv_row(f"{p}-huge", narrative="x" * (200 * 1024))]))
    (drop / "02-nul.csv").write_bytes(csv_bytes([csv_row(f"{p}-nul")]).replace(b"GREEN", b"GR\x00EEN"))
    (drop / "03-latin1.csv").write_bytes(csv_bytes([csv_row(f"{p}-latin1")]) + "Zürich".encode("latin-1"))
    (drop / "04-deep.json").write_bytes(b"[" * 5000 + b"]" * 5000)
    big = b"".join(orjson.dumps(json_report(source_ref=f"{p}-big-{i}")) + b"\n" for i in range(500))
    assert len(big) > 307200
    (drop / "05-too-big.ndjson").write_bytes(big)
    os.mkfifo(drop / "06-fifo.json")
    good = orjson.dumps(json_report(source_ref=f"{p}-good"))
    (drop / "07-good.json").write_bytes(good)
    watcher = subprocess.Popen([*HUB, "connector", "filedrop", "--agency", "KZ-CUSTOMS", "--dir", str(drop),
                                "--url", gateway.url, "--poll", "0.2", "--settle", "0"],
                               env=hub_env(gateway.settings, HUB_AGENCY_KEY=key, HUB_FILEDROP_MAX_BYTES="307200"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failed = ["01-huge-field.csv", "02-nul.csv", "03-latin1.csv", "04-deep.json", "05-too-big.ndjson", "06-fifo.json"]
    try:
        wait_until(lambda: (drop / "done" / "07-good.json").exists()
                   and all((drop / "failed" / f"{n}.errors.txt").exists() for n in failed), 60,
                   "the good file done and every bad one in failed/", every=0.2)
    finally:
        stop_process(watcher, 20)

    def errors(name: str) -> str:
        return (drop / "failed" / f"{name}.errors.txt").read_text()

    assert "row 2" in errors("01-huge-field.csv") and "128 KiB" in errors("01-huge-field.csv")
    assert "NUL" in errors("02-nul.csv")
    assert "UTF-8" in errors("03-latin1.csv")
    assert "depth" in errors("04-deep.json")
    assert "over the 307200-byte limit" in errors("05-too-big.ndjson")
    assert "not a regular file" in errors("06-fifo.json")
    for name in failed:
        assert not (drop / name).exists() and (drop / "failed" / f"{name}.report.json").exists()
    assert (drop / "done" / "07-good.json").read_bytes() == good
    assert not {r for r in outbox_refs(drop) if r.startswith(f"{p}-big")}, "an over-size file was read"
    msgs = read_intake_sync(gateway.settings, lambda m: m["key"] == f"KZ-CUSTOMS:{p}-good", 1)
    assert len(msgs) == 1


def test_links_are_never_followed(gateway: Gateway, directory: Directory, tmp_path: Path) -> None:
    """Finding 11: a symlink in the drop directory published a file from outside it. Also: a symlinked
    subdirectory, a hard link, and a planted link where the connector writes its report."""
    key = directory.issue_key("KZ-CUSTOMS")
    p = f"FL-{uuid.uuid4().hex[:8]}"
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    secret = orjson.dumps(json_report(source_ref=f"{p}-secret"))
    (outside / "secret.json").write_bytes(secret)
    (outside / "dir" / "inner.json").write_bytes(orjson.dumps(json_report(source_ref=f"{p}-inner")))
    (outside / "hard.json").write_bytes(orjson.dumps(json_report(source_ref=f"{p}-hard")))
    (outside / "victim.txt").write_text("untouched")
    drop = tmp_path / "drop"
    (drop / "done").mkdir(parents=True)
    (drop / "leak.json").symlink_to(outside / "secret.json")
    (drop / "sub").symlink_to(outside / "dir", target_is_directory=True)
    (drop / "sub.json").symlink_to(outside / "dir", target_is_directory=True)
    os.link(outside / "hard.json", drop / "hard.json")
    (drop / "done" / "good.json.report.json").symlink_to(outside / "victim.txt")
    good = orjson.dumps(json_report(source_ref=f"{p}-good"))
    (drop / "good.json").write_bytes(good)

    r = once(gateway.settings, gateway.url, key, drop)
    assert r.returncode == 0, r.stderr
    assert (outside / "victim.txt").read_text() == "untouched", "the connector wrote through a planted link"
    assert (outside / "secret.json").read_bytes() == secret and (outside / "dir" / "inner.json").exists()
    assert (drop / "failed" / "leak.json").is_symlink(), "the link itself is moved aside, never its target"
    assert "symbolic link" in (drop / "failed" / "leak.json.errors.txt").read_text()
    assert "symbolic link" in (drop / "failed" / "sub.json.errors.txt").read_text()
    assert "hard link" in (drop / "failed" / "hard.json.errors.txt").read_text()
    assert (drop / "sub").is_symlink() and not (drop / "done" / "inner.json").exists()
    moved = [f for f in (drop / "done").iterdir() if f.suffix == ".json" and not f.is_symlink()
             and not f.name.endswith(".report.json")]
    assert [f.read_bytes() for f in moved] == [good]
    assert (drop / "done" / f"{moved[0].name}.report.json").exists()
    assert outbox_refs(drop) == {f"{p}-good"}
    assert len(read_intake_sync(gateway.settings, lambda m: m["key"] == f"KZ-CUSTOMS:{p}-good", 1)) == 1


def test_a_symlinked_working_directory_is_refused(gateway: Gateway, directory: Directory, tmp_path: Path) -> None:
    """failed/ (or done/, .filedrop/) replaced by a link to elsewhere: files would be moved out of the
    drop directory and reports written there. The connector refuses to start."""
    key = directory.issue_key("KZ-CUSTOMS")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "failed").symlink_to(outside, target_is_directory=True)
    (drop / "bad.json").write_text('{"kind": ')
    r = once(gateway.settings, gateway.url, key, drop)
    assert r.returncode != 0 and "symbolic link" in r.stderr, r.stderr
    assert list(outside.iterdir()) == [] and (drop / "bad.json").exists()
    from connectors.filedrop import UnsafeDirectory

    with pytest.raises(UnsafeDirectory, match="symbolic link"):
        FileDrop.prepare(drop)


@pytest.fixture
def local_drop(gateway: Gateway, directory: Directory, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(**kw: object) -> FileDrop:
        drop = tmp_path / "drop"
        pub = Publisher(FileDrop.default_outbox(drop), RestTransport(gateway.url, directory.issue_key("KZ-CUSTOMS")))
        return FileDrop(drop, pub, settle=0, **kw)  # type: ignore[arg-type]

    made: list[FileDrop] = []
    yield lambda **kw: made.append(make(**kw)) or made[-1]
    for d in made:
        d.close()
        d.publisher.close()


def test_a_file_swapped_for_a_link_after_the_check_is_refused(local_drop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    drop = local_drop()
    p = f"FT-{uuid.uuid4().hex[:8]}"
    (tmp_path / "secret.json").write_bytes(orjson.dumps(json_report(source_ref=f"{p}-secret")))
    path = drop.dir / "swap.json"
    path.write_bytes(orjson.dumps(json_report(source_ref=f"{p}-inside")))
    assert path in drop.candidates()
    path.unlink()  # the attacker swaps the file between the check and the open
    path.symlink_to(tmp_path / "secret.json")
    o = drop.process(path)
    assert o is not None and o.status == "failed" and "symbolic link" in (o.problem or "")
    assert outbox_refs(drop.dir) == set()
    assert (drop.failed / "swap.json").is_symlink()


def test_an_unexpected_error_retries_then_fails_that_file_only(local_drop, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    drop = local_drop()
    p = f"FE-{uuid.uuid4().hex[:8]}"
    real_read = filedrop_mod.read

    def read(name: str, data: bytes):  # type: ignore[no-untyped-def]
        if name == "a-poison.json":
            raise RuntimeError("parser bug")
        return real_read(name, data)

    monkeypatch.setattr(filedrop_mod, "read", read)
    (drop.dir / "a-poison.json").write_bytes(orjson.dumps(json_report(source_ref=f"{p}-poison")))
    (drop.dir / "b-ok.json").write_bytes(orjson.dumps(json_report(source_ref=f"{p}-ok")))
    first = drop.scan_once()
    assert [o.name for o in first] == ["b-ok.json"] and (drop.dir / "a-poison.json").exists()
    drop.scan_once()
    third = drop.scan_once()
    assert [(o.name, o.status) for o in third] == [("a-poison.json", "failed")]
    assert "3 attempts" in (drop.failed / "a-poison.json.errors.txt").read_text()
    assert "parser bug" in (drop.failed / "a-poison.json.errors.txt").read_text()


def test_limits(local_drop) -> None:  # type: ignore[no-untyped-def]
    """The stated limits: reports per file and bytes per file (refused unread)."""
    drop = local_drop(max_rows=3, max_bytes=4096)
    p = f"FM-{uuid.uuid4().hex[:8]}"
    (drop.dir / "many.ndjson").write_bytes(b"".join(orjson.dumps(json_report(source_ref=f"{p}-{i}")) + b"\n"
                                                    for i in range(4)))
    (drop.dir / "big.json").write_bytes(b" " * 4097 + b"{}")
    out = {o.name: o for o in drop.scan_once()}
    assert out["many.ndjson"].status == "failed" and "at most 3 reports" in (out["many.ndjson"].problem or "")
    assert out["big.json"].status == "failed" and "over the 4096-byte limit" in (out["big.json"].problem or "")
    assert outbox_refs(drop.dir) == set()
    assert filedrop_mod.MAX_BYTES == 32 * 2**20 and filedrop_mod.MAX_ROWS == 50_000
