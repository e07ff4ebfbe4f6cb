"""The restart scenario of issue 21, shared by the embedded and the durable (`hub up --durable`) tests.

Two correlated reports (KZ and UZ, one container) go through `hub up` and are routed; every hub process
is SIGKILLed (`hub up` and, by PR_SET_PDEATHSIG, everything it started); `hub up` again. Then version 2 of
the KZ report must be delivered as an UPDATE in the incident it had, a resubmitted UZ report must be a
duplicate, and no feed item may be stored twice. Or the restarted hub refuses to start, saying why.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from hub.platform.db import feed_path
from hub.platform.kafka.embedded import free_port, start_time
from tests.conftest import HUB, ROOT
from tests.factories import json_report

HANG = 180  # upper bound on a wait: only to fail instead of hanging
CONTAINER = "CSQU 305438-3"


def up_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, HUB_DATA_DIR=str(data_dir), HUB_EMBEDDED_PORT=str(free_port()),
               HUB_GATEWAY_PORT=str(free_port()), HUB_WORKER_PORT=str(free_port()), HUB_SINK_PORT=str(free_port()),
               HUB_PARTITIONS="2", HUB_LOG_FORMAT="json", PYTHONPATH=str(ROOT))
    env.pop("HUB_KAFKA_BOOTSTRAP", None)
    return env


def agency_key(env: dict[str, str], code: str, state: str) -> str:
    out = subprocess.run([*HUB, "agency", "add", code, "--state", state, "--name", f"{code} test", "--key"],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip().splitlines()[-1].split()[-1]


class Up:
    """One `hub up` process, its output in a file."""

    def __init__(self, env: dict[str, str], out: Path, *args: str) -> None:
        self.out = out
        with open(out, "wb") as f:
            self.proc = subprocess.Popen([*HUB, "up", *args], env=env, stdout=f, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_banner_or_exit(self, hang: float = HANG) -> bool:
        """True once the banner is printed, False if `hub up` exited first."""
        deadline = time.monotonic() + hang
        while "Ctrl-C stops everything" not in self.text():
            if self.proc.poll() is not None:
                return False
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.2)
        return True

    def wait_banner(self, hang: float = HANG) -> str:
        """The output once the banner is printed (fails if `hub up` exits first)."""
        assert self.wait_banner_or_exit(hang), self.text()
        return self.text()

    def children(self, data_dir: Path) -> dict[str, int]:
        """Every process of this `hub up` by name (broker included), from its pid file."""
        import json

        entries = json.loads((data_dir / "hub-up.pid").read_text())
        return {e["name"]: e["pid"] for e in entries if e["name"] != "hub-up"}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def pids(data_dir: Path) -> list[int]:
    import json

    return [e["pid"] for e in json.loads((data_dir / "hub-up.pid").read_text())]


def peak_rss_mb(data_dir: Path) -> dict[str, int]:
    """Peak resident memory (VmHWM) of every process of the running `hub up`, by name, in MB."""
    import json

    out = {}
    for e in json.loads((data_dir / "hub-up.pid").read_text()):
        try:
            status = Path(f"/proc/{e['pid']}/status").read_text()
        except OSError:
            continue
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        out[e["name"]] = kb // 1024
    return out


def feed_items(data_dir: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(feed_path(str(data_dir / "hub.db")))  # the feed store's own file
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(
            "SELECT recipient, seq, item_id, report_id, version, incident_id, delivery FROM feed_items")]
    except sqlite3.OperationalError:  # the sink has not created its tables yet
        return []
    finally:
        db.close()


def post(base: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{base}/v1/reports", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 202, r.text
    return dict(r.json())


def wait_items(data_dir: Path, report_id: str, version: int, up: Up) -> list[dict[str, Any]]:
    deadline = time.monotonic() + HANG
    while True:
        items = [i for i in feed_items(data_dir) if i["report_id"] == report_id and i["version"] == version]
        if items:
            time.sleep(1)  # every recipient's item of this version is written in one sink batch, usually
            return [i for i in feed_items(data_dir) if i["report_id"] == report_id and i["version"] == version]
        assert up.proc.poll() is None, up.text()
        assert time.monotonic() < deadline, f"no feed item of {report_id} v{version}\n{up.text()[-3000:]}"
        time.sleep(0.3)


def first_run(env: dict[str, str], tmp: Path, *args: str) -> dict[str, Any]:
    """Two correlated reports routed, then every hub process SIGKILLed. What was stored, and the keys."""
    data = Path(env["HUB_DATA_DIR"])
    keys = {"KZ": agency_key(env, "KZ-CUSTOMS", "KZ"), "UZ": agency_key(env, "UZ-CUSTOMS", "UZ")}
    up = Up(env, tmp / "up1.out", *args)
    try:
        assert up.wait_banner_or_exit(), up.text()
        base = f"http://127.0.0.1:{env['HUB_GATEWAY_PORT']}"
        kz = json_report(source_ref="KZ-R21-1", conveyance={"mode": "ROAD", "container_numbers": [CONTAINER]})
        uz = json_report(source_ref="UZ-R21-1", location={"country": "UZ", "place": "Tashkent"},
                         conveyance={"mode": "ROAD", "container_numbers": [CONTAINER]},
                         parties=[{"role": "DRIVER", "name": "Other Person", "country": "UZ"}])
        kz_id = post(base, keys["KZ"], kz)["report_id"]
        wait_items(data, kz_id, 1, up)
        uz_id = post(base, keys["UZ"], uz)["report_id"]
        uz_items = wait_items(data, uz_id, 1, up)
        assert any(i["delivery"] == "CORRELATED" for i in uz_items), uz_items  # the two are one incident
        time.sleep(3)  # the pipeline's table writes reach their changelog after the outputs
        before = feed_items(data)
        children = pids(data)
        peaks = peak_rss_mb(data)
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait()
        deadline = time.monotonic() + 5
        while [p for p in children if start_time(p) is not None] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in children if start_time(p) is not None], "a hub process outlived `hub up`"
    finally:
        up.close()
    return {"keys": keys, "kz": kz, "uz": uz, "kz_id": kz_id, "uz_id": uz_id, "before": before, "peaks": peaks}


def second_run(env: dict[str, str], tmp: Path, first: dict[str, Any], *args: str) -> tuple[Up, dict[str, Any]]:
    """`hub up` again after the SIGKILL. If it runs: version 2 of the KZ report and the UZ report again.
    Returns the process and figures; asserts UPDATE in the same incident, duplicate, nothing stored twice."""
    data = Path(env["HUB_DATA_DIR"])
    up = Up(env, tmp / "up2.out", *args)
    if not up.wait_banner_or_exit():
        return up, {"refused": True}
    base = f"http://127.0.0.1:{env['HUB_GATEWAY_PORT']}"
    again = post(base, first["keys"]["UZ"], first["uz"])
    assert again["duplicate"] is True, again
    v2 = post(base, first["keys"]["KZ"], first["kz"] | {"version": 2, "narrative": "Version 2: more found."})
    assert v2["report_id"] == first["kz_id"]
    items = wait_items(data, first["kz_id"], 2, up)
    v1 = {i["recipient"]: i for i in first["before"] if i["report_id"] == first["kz_id"]}
    deliveries = {i["recipient"]: i["delivery"] for i in items}
    assert set(deliveries) == set(v1), (deliveries, v1)
    assert set(deliveries.values()) == {"UPDATE"}, f"version 2 after the restart: {deliveries}"
    for i in items:
        assert i["incident_id"] == v1[i["recipient"]]["incident_id"], "the incident changed after the restart"
    time.sleep(3)  # anything re-delivered would be stored by now
    after = feed_items(data)
    old = {i["item_id"]: i for i in first["before"]}
    assert {k: v for k, v in ((i["item_id"], i) for i in after) if k in old} == old, "a stored item changed"
    new = [i for i in after if i["item_id"] not in old]
    assert {(i["report_id"], i["version"]) for i in new} == {(first["kz_id"], 2)}, new
    return up, {"refused": False, "updates": len(items), "items_before": len(old), "items_after": len(after)}
