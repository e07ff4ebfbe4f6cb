"""`hub kafka start/stop` from the command line: one broker per directory, found and stopped by PID."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hub.cli.kafka import _running_pid
from hub.platform.kafka.embedded import free_port, port_open, start_time
from tests.conftest import HUB

pytestmark = [pytest.mark.timeout(300)]


def hub(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HUB_DATA_DIR=str(tmp_path / "hub"))
    env.pop("HUB_KAFKA_BOOTSTRAP", None)
    return subprocess.run([*HUB, "kafka", *args], env=env, capture_output=True, text=True, timeout=240)


def test_kafka_start_refuses_a_second_broker_and_stop_ends_it_by_pid(tmp_path: Path) -> None:
    """A second `hub kafka start` names the running PID; `hub kafka stop` ends it; a stale pid file is ignored"""
    port = free_port()
    first = hub(tmp_path, "start", "--port", str(port))
    assert first.returncode == 0, first.stdout + first.stderr
    workdir = tmp_path / "hub" / "kafka"
    pid = _running_pid(workdir)
    assert pid is not None and f"(pid {pid})" in first.stdout
    try:
        again = hub(tmp_path, "start", "--port", str(free_port()))
        assert again.returncode == 1 and f"already running (pid {pid})" in again.stderr, again.stderr
        assert "hub kafka stop" in again.stderr
    finally:
        stopped = hub(tmp_path, "stop")
    assert stopped.returncode == 0 and f"stopped pid {pid}" in stopped.stdout, stopped.stdout + stopped.stderr
    assert start_time(pid) is None and not port_open(port)
    # a pid file naming a process that is not this directory's broker (here: the test itself) is stale
    (workdir / "kafka.pid").write_text(f"{os.getpid()}\n")
    assert _running_pid(workdir) is None
    assert "no broker" in hub(tmp_path, "stop").stdout
    restarted = hub(tmp_path, "start", "--port", str(port))
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert hub(tmp_path, "stop").returncode == 0
