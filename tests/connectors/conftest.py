"""Fixtures for the connector tests: a real gateway process (uvicorn on a free port) on the session broker."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub.directory.agencies import Directory
from hub.platform.db import Database
from hub.platform.kafka.embedded import free_port
from hub.platform.settings import Settings
from tests.conftest import HUB, AnyBroker, broker_settings, hub_env
from tests.helpers import stop_process


@dataclass
class Gateway:
    settings: Settings
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Gateway:
        out = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([*HUB, "gateway", "--port", str(self.port)], env=hub_env(self.settings),
                                     stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gateway did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def module_settings(broker: AnyBroker, data_dir: Path) -> Settings:
    return broker_settings(broker, data_dir=str(data_dir))


@pytest.fixture(scope="module")
def gw_settings(broker: AnyBroker, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return module_settings(broker, tmp_path_factory.mktemp("gw") / "hub")


@pytest.fixture(scope="module")
def gateway(gw_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = Directory(Database(gw_settings.db_url), gw_settings.states)  # creates the tables first
    directory.add("KZ-CUSTOMS", "KZ", "State Revenue Committee (Customs)")
    g = Gateway(gw_settings, free_port(), tmp_path_factory.mktemp("gwlog") / "gateway.log").start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def directory(gw_settings: Settings, gateway: Gateway) -> Directory:
    return Directory(Database(gw_settings.db_url), gw_settings.states)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"PostgreSQL's {name} is not installed (./dev test installs it)")
    return path


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL server (initdb in a temp dir, free port), stopped at the end of the module."""
    base = Path(tempfile.mkdtemp(prefix="hub-pg-"))  # not under pytest's 0700 root-owned dirs
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(base, "postgres")
    port = free_port()
    data = base / "data"
    subprocess.run([*as_pg, _pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "hub"], check=True,
                   capture_output=True)
    subprocess.run([*as_pg, _pg_bin("pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "start", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"], check=True, capture_output=True)
    try:
        yield f"postgresql://hub@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
