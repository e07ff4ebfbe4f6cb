"""Real parts for the reliability suite: hub processes, a private broker, tokens, topic readers.

Everything here starts real processes (``python -m hub …``) on free ports and stops them by PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hub.domain.codec import DecodeError, codec
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.io import consumer
from hub.platform.settings import Settings
from tests.conftest import HUB, AnyBroker, broker_settings, hub_env
from tests.helpers import wait_until


def private_settings(broker: AnyBroker, data_dir: Path, **overrides: Any) -> Settings:
    """Settings on ``broker`` (embedded or Kafka) with a private data dir (SQLite there)."""
    return broker_settings(broker, data_dir=str(data_dir), **overrides)


@dataclass
class HubProcess:
    """One ``python -m hub ARGS`` child process with its own log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> HubProcess:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is already running"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen([*HUB, *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the process group (the child and anything it spawned) and wait for the child."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, sig)
            self.proc.wait(30)

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


@dataclass
class Cluster:
    """The hub's processes for one test, all stopped at teardown."""

    settings: Settings
    log_dir: Path
    procs: list[HubProcess] = field(default_factory=list)
    env_extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return hub_env(self.settings, **self.env_extra)

    def process(self, name: str, *args: str) -> HubProcess:
        p = HubProcess(name, list(args), self.env(), self.log_dir / f"{name}.log")
        self.procs.append(p)
        return p

    def gateway(self, name: str = "gateway", port: int | None = None) -> tuple[HubProcess, str]:
        port = port or free_port()
        p = self.process(name, "gateway", "--port", str(port)).start()
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", p)
        return p, url

    def worker(self, name: str = "worker") -> HubProcess:
        return self.process(name, "worker", "--port", str(free_port())).start()

    def sink(self, name: str = "sink") -> HubProcess:
        return self.process(name, "sink", "--port", "0").start()

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            p.stop()

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.procs)


def wait_http(url: str, proc: HubProcess | None = None, timeout: float = 60.0) -> None:
    def up() -> bool:
        if proc is not None and not proc.alive():
            raise AssertionError(f"{proc.name} exited with {proc.proc.returncode if proc.proc else '?'}:\n"
                                 f"{proc.log()[-3000:]}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout, f"{url} answering 200")


def run_hub(settings: Settings, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one ``hub`` command to completion."""
    return subprocess.run([*HUB, *args], env=hub_env(settings, **env), capture_output=True, text=True,
                          timeout=timeout)


# --------------------------------------------------------------------------- credentials


@dataclass
class Tokens:
    settings: Settings
    issued: dict[str, str] = field(default_factory=dict)

    def db(self) -> Any:
        from hub.platform.db import Database

        return Database(self.settings.db_url)

    def agency(self, label: str, code: str, state: str) -> str:
        from hub.directory.agencies import Directory

        db = self.db()
        try:
            d = Directory(db)
            d.add(code, state, f"{code} test agency")
            token = d.credentials.issue("agency", code, state)
        finally:
            db.close()
        self.issued[label] = token
        return token

    def officer(self, label: str, name: str, state: str | None, auditor: bool = False) -> str:
        from hub.directory.officers import Officers

        db = self.db()
        try:
            o = Officers(db, self.settings)
            token = o.add(name, state, auditor=auditor) if o.get(name) is None else o.token(name)
        finally:
            db.close()
        self.issued[label] = token
        return token

    def revoke(self, token: str) -> None:
        from hub.directory.auth import Credentials

        db = self.db()
        try:
            assert Credentials(db).revoke(token)
        finally:
            db.close()


# --------------------------------------------------------------------------- topic readers


def read_topics(settings: Settings, topics: Iterable[str], *, until: Callable[[list[Any]], bool] | None = None,
                quiet_s: float = 3.0, timeout: float = 120.0) -> list[Any]:
    """Every record of ``topics`` from the beginning (no consumer group).

    Reads until ``until(records)`` holds, or until nothing new arrived for ``quiet_s`` seconds.
    Never uses end offsets (wrong on the embedded broker).
    """
    async def go() -> list[Any]:
        c = consumer(settings, *topics, group_id=None)
        await c.start()
        out: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            last_new = time.monotonic()
            while time.monotonic() < deadline:
                batch = await c.getmany(timeout_ms=300, max_records=5000)
                got = [r for recs in batch.values() for r in recs]
                if got:
                    out.extend(got)
                    last_new = time.monotonic()
                if until is not None:
                    if until(out):
                        break
                elif time.monotonic() - last_new > quiet_s:
                    break
        finally:
            await c.stop()
        return out

    return asyncio.run(go())


def decode_all(records: Iterable[Any], expect: str) -> tuple[list[dict[str, Any]], int]:
    """Decoded values and the number that did not decode."""
    values, bad = [], 0
    for r in records:
        try:
            values.append(codec().decode(r.value, expect=expect))
        except DecodeError:
            bad += 1
    return values, bad
