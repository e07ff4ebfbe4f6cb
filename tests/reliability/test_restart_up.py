"""`hub up` as a supervisor: SIGKILL of `hub up` leaves no process behind, `hub down` stops it from another
terminal, a second `hub up` on the same data directory names the running one, a stale pid file is ignored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.cli.up import PidFile
from hub.platform.kafka.embedded import free_port, start_time
from tests.conftest import HUB, ROOT

pytestmark = [pytest.mark.timeout(240)]
HANG = 120  # upper bound on a wait: only to fail instead of hanging


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """`hub up` on the embedded broker (the default), its own ports and data directory."""
    out = dict(os.environ, HUB_DATA_DIR=str(tmp_path / "hub"), HUB_EMBEDDED_PORT=str(free_port()),
               HUB_GATEWAY_PORT=str(free_port()), HUB_WORKER_PORT=str(free_port()), HUB_SINK_PORT=str(free_port()),
               HUB_PARTITIONS="2", HUB_LOG_FORMAT="json", PYTHONPATH=str(ROOT))
    out.pop("HUB_KAFKA_BOOTSTRAP", None)
    return out


class Up:
    """One `hub up` process and its output."""

    def __init__(self, env: dict[str, str], out: Path, *args: str) -> None:
        self.out = out
        with open(out, "wb") as f:
            self.proc = subprocess.Popen([*HUB, "up", *args], env=env, stdout=f, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.out.read_text()

    def wait_banner(self) -> str:
        deadline = time.monotonic() + HANG
        while "Ctrl-C stops everything" not in self.text():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.text()
            time.sleep(0.2)
        return self.text()

    def children(self, data_dir: Path) -> dict[str, int]:
        """Every process of this `hub up` by name (broker included), from its pid file."""
        entries = json.loads((data_dir / "hub-up.pid").read_text())
        return {e["name"]: e["pid"] for e in entries if e["name"] != "hub-up"}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def ups() -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for u in started:
        u.close()


def running(pids: list[int]) -> list[int]:
    return [p for p in pids if start_time(p) is not None]


def wait_gone(pids: list[int], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running(pids)


def test_sigkill_of_hub_up_leaves_no_process_and_the_next_up_starts(env: dict[str, str], tmp_path: Path,
                                                                      ups: list[Up], ledger: Any) -> None:
    """SIGKILL of `hub up`: broker, workers, sink and gateway are gone within 5 s; the next `hub up` starts"""
    data = Path(env["HUB_DATA_DIR"])
    first = Up(env, tmp_path / "up1.out")
    ups.append(first)
    first.wait_banner()
    children = first.children(data)
    assert {"broker", "worker-1", "sink", "gateway"} <= set(children), children
    assert running(list(children.values())) == list(children.values()), "all running before the kill"
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    orphans = wait_gone(list(children.values()), 5)
    ledger.record(sigkills=1, processes_checked=len(children), orphans_after_5_s=len(orphans))
    assert orphans == [], f"orphans of a killed `hub up`: {children}"
    # the pid file of the killed instance is still there, naming dead processes: ignored
    assert (data / "hub-up.pid").exists()
    second = Up(env, tmp_path / "up2.out")
    ups.append(second)
    second.wait_banner()
    assert "in use" not in second.text()
    second.proc.send_signal(signal.SIGINT)
    assert second.proc.wait(60) == 0, second.text()
    assert not (data / "hub-up.pid").exists()


def test_hub_down_stops_the_hub_and_a_second_up_names_the_running_one(env: dict[str, str], tmp_path: Path,
                                                                      ups: list[Up], ledger: Any) -> None:
    """`hub up` twice on one data directory: the second names the first's PIDs and `hub down`; `hub down` stops it"""
    data = Path(env["HUB_DATA_DIR"])
    first = Up(env, tmp_path / "up1.out")
    ups.append(first)
    first.wait_banner()
    children = first.children(data)
    second = subprocess.run([*HUB, "up"], env=env, capture_output=True, text=True, timeout=HANG)
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"hub-up {first.proc.pid}" in second.stderr and "hub down" in second.stderr, second.stderr
    assert f"gateway {children['gateway']}" in second.stderr, second.stderr
    assert first.proc.poll() is None, "the running hub is left alone"
    down = subprocess.run([*HUB, "down"], env=env, capture_output=True, text=True, timeout=HANG)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "hub stopped" in down.stdout, down.stdout
    assert first.proc.wait(10) == 0, first.text()
    assert "hub stopped" in first.text()
    left = running([first.proc.pid, *children.values()])
    ledger.record(second_up_exit=second.returncode, processes_left_after_down=len(left))
    assert left == []
    again = subprocess.run([*HUB, "down"], env=env, capture_output=True, text=True, timeout=HANG)
    assert again.returncode == 0 and "no hub is running" in again.stdout, again.stdout + again.stderr


def test_pid_file_names_only_processes_still_running(tmp_path: Path) -> None:
    """A pid file of exited processes (or of a PID reused since) names nothing: it does not block `hub up`"""
    live = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        pf = PidFile(tmp_path)
        pf.write({"hub-up": live.pid, "worker-1": dead.pid})
        assert pf.running() == [("hub-up", live.pid)]
        # the same PID with another start time is another process (a PID reused after a reboot)
        entries = json.loads(pf.path.read_text())
        entries[0]["start"] += 1
        pf.path.write_text(json.dumps(entries))
        assert pf.running() == []
        pf.path.write_text("not json")
        assert pf.running() == []
    finally:
        live.kill()
        live.wait()
