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
from hub.platform.kafka.embedded import start_time
from tests.conftest import HUB
from tests.reliability.restart_scenario import Up, up_env

pytestmark = [pytest.mark.timeout(240)]
HANG = 120  # upper bound on a wait: only to fail instead of hanging


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """`hub up` on the embedded broker (the default), its own ports and data directory."""
    return up_env(tmp_path / "hub")


@pytest.fixture
def ups() -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for u in started:
        u.close()


def started(env: dict[str, str], out: Path, ups: list[Up]) -> tuple[Up, dict[str, int]]:
    """A `hub up` with its banner printed, and its children by name."""
    up = Up(env, out)
    ups.append(up)
    up.wait_banner()
    return up, up.children(Path(env["HUB_DATA_DIR"]))


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
    first, children = started(env, tmp_path / "up1.out", ups)
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
    first, children = started(env, tmp_path / "up1.out", ups)
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
