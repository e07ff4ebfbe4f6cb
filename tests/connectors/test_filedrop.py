"""File drop: a good file, a partly bad CSV and a duplicate file, through a real gateway."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import orjson

from connectors.formats import read_csv
from hub.directory.agencies import Directory
from hub.platform.kafka.embedded import free_port
from hub.platform.settings import Settings
from tests.conftest import HUB, hub_env
from tests.connectors.conftest import Gateway
from tests.connectors.intake import read_intake_sync
from tests.factories import csv_bytes, json_report


def csv_row(ref: str, **over: str) -> dict[str, str]:
    row = {"kind": "SEIZURE", "source_ref": ref, "event_time": "2026-11-01T08:30:00Z", "tlp": "GREEN",
           "location_country": "TJ", "location_place": "Nizhniy Panj", "route": "AF;TJ:Dushanbe;KZ;RU",
           "mode": "ROAD", "container_numbers": "CSQU 305438-3", "vehicle_plate": "0123 АВ 01",
           "parties": "DRIVER|Рахимов Фаррух|TJ|TJ1234567;SHIPPER|Kunduz Trading", "substance_type": "HEROIN",
           "quantity": "4.2", "unit": "KG", "concealment": "CONVEYANCE", "concealment_detail": "fuel tank",
           "narrative": "Героин в топливном баке", "evaluation_source": "B", "evaluation_information": "2"}
    row.update(over)
    return row


def test_csv_row_maps_to_a_report() -> None:
    rows = read_csv(csv_bytes([csv_row("C-1")]))
    body = rows[0].body
    assert rows[0].label == "row 2" and body is not None
    assert body["route"] == [{"country": "AF"}, {"country": "TJ", "place": "Dushanbe"}, {"country": "KZ"},
                             {"country": "RU"}]
    assert body["parties"][0] == {"role": "DRIVER", "name": "Рахимов Фаррух", "country": "TJ", "identifier": "TJ1234567"}
    assert body["substances"] == [{"type": "HEROIN", "quantity": 4.2, "unit": "KG", "concealment": "CONVEYANCE",
                                   "concealment_detail": "fuel tank"}]
    assert body["evaluation"] == {"source": "B", "information": 2}


def run_filedrop(settings, url: str, key: str, drop: Path) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([*HUB, "connector", "filedrop", "--agency", "KZ-CUSTOMS", "--dir", str(drop), "--url", url,
                           "--once", "--settle", "0"], env=hub_env(settings, HUB_AGENCY_KEY=key),
                          capture_output=True, text=True, timeout=120)


def test_good_file_partly_bad_csv_and_duplicate(gateway: Gateway, directory: Directory, tmp_path: Path) -> None:
    key = directory.issue_key("KZ-CUSTOMS")
    p = f"FD-{uuid.uuid4().hex[:8]}"
    drop = tmp_path / "drop"
    drop.mkdir()
    good = orjson.dumps([json_report(source_ref=f"{p}-j1"), json_report(source_ref=f"{p}-j2")])
    (drop / "good.json").write_bytes(good)
    (drop / "mixed.csv").write_bytes(csv_bytes([
        csv_row(f"{p}-c1"),
        csv_row(f"{p}-c2", container_numbers="CSQU3054384", quantity="lots"),
        csv_row(f"{p}-c3", kind="ALERT", substance_type="", quantity="", unit="", concealment="",
                concealment_detail="", risk_indicators="route via Afghanistan;new shipper"),
    ]))
    (drop / "notes.txt").write_text("ignored")
    first = run_filedrop(gateway.settings, gateway.url, key, drop)
    assert first.returncode == 0, first.stderr
    assert "good.json: done" in first.stdout and "mixed.csv: failed" in first.stdout

    assert (drop / "done" / "good.json").read_bytes() == good
    report = orjson.loads((drop / "done" / "good.json.report.json").read_bytes())
    assert [r["status"] for r in report["rows"]] == ["accepted", "accepted"]
    assert (drop / "failed" / "mixed.csv").exists()
    errors = (drop / "failed" / "mixed.csv.errors.txt").read_text()
    assert f"row 3 ({p}-c2): conveyance.container_numbers[0]: check digit should be 3" in errors
    assert f"row 3 ({p}-c2): substances[0].quantity: should be a number, not 'lots'" in errors
    assert "row 2" not in errors and "row 4" not in errors
    rows = orjson.loads((drop / "failed" / "mixed.csv.report.json").read_bytes())["rows"]
    assert [r["status"] for r in rows] == ["accepted", "rejected", "accepted"]
    assert (drop / "notes.txt").exists()

    # the same content again (another name), after a restart of the connector: not sent again
    shutil.copy(drop / "done" / "good.json", drop / "good-again.json")
    second = run_filedrop(gateway.settings, gateway.url, key, drop)
    assert second.returncode == 0, second.stderr
    assert "good-again.json: duplicate" in second.stdout
    dup = orjson.loads((drop / "done" / "good-again.json.report.json").read_bytes())
    assert dup["status"] == "duplicate" and "good.json" in dup["problem"]

    msgs = read_intake_sync(gateway.settings, lambda m: (m["key"] or "").startswith(f"KZ-CUSTOMS:{p}-"), 4)
    assert sorted(m["report"]["source_ref"] for m in msgs) == [f"{p}-c1", f"{p}-c3", f"{p}-j1", f"{p}-j2"]
    c1 = next(m["report"] for m in msgs if m["report"]["source_ref"] == f"{p}-c1")
    assert c1["substances"][0]["quantity"] == 4.2 and c1["tlp"] == "GREEN"


def test_unreadable_file_goes_to_failed(gateway: Gateway, directory: Directory, tmp_path: Path) -> None:
    key = directory.issue_key("KZ-CUSTOMS")
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "broken.json").write_text('{"kind": ')
    (drop / "odd.csv").write_text("kind,colour\nSEIZURE,red\n")
    r = run_filedrop(gateway.settings, gateway.url, key, drop)
    assert r.returncode == 0, r.stderr
    assert "malformed JSON" in (drop / "failed" / "broken.json.errors.txt").read_text()
    assert "unknown column(s): colour" in (drop / "failed" / "odd.csv.errors.txt").read_text()


def test_watcher_keeps_the_file_while_the_hub_is_down_then_publishes_it(gw_settings: Settings, directory: Directory,
                                                                        tmp_path: Path) -> None:
    key = directory.issue_key("KZ-CUSTOMS")
    p = f"FW-{uuid.uuid4().hex[:8]}"
    drop = tmp_path / "drop"
    g = Gateway(gw_settings, free_port(), tmp_path / "gw.log")  # not started yet: the hub is down
    watcher = subprocess.Popen([*HUB, "connector", "filedrop", "--agency", "KZ-CUSTOMS", "--dir", str(drop),
                                "--url", g.url, "--poll", "0.2", "--settle", "0.2", "--max-backoff", "0.5"],
                               env=hub_env(gw_settings, HUB_AGENCY_KEY=key), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (drop / ".filedrop" / "outbox.db").exists():
            assert time.monotonic() < deadline and watcher.poll() is None
            time.sleep(0.05)
        (drop / "late.ndjson").write_bytes(orjson.dumps(json_report(source_ref=f"{p}-1")) + b"\n")
        time.sleep(1.5)
        assert (drop / "late.ndjson").exists() and not (drop / "done" / "late.ndjson").exists()
        g.start()
        while not (drop / "done" / "late.ndjson").exists():
            assert time.monotonic() < deadline + 30, "file not published after the hub came back"
            time.sleep(0.1)
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(20) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        g.stop()
    msgs = read_intake_sync(gw_settings, lambda m: m["key"] == f"KZ-CUSTOMS:{p}-1", 1)
    assert len(msgs) == 1
