"""``hub up``: the whole hub on one machine (embedded broker, topics, workers, gateway, sinks).

It supervises child processes (``python -m hub …``); Ctrl-C (or SIGTERM) stops them all, in
reverse order. Each service is described once in :data:`SERVICES`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from hub import topics as topics_mod
from hub.embedded import EmbeddedBroker
from hub.settings import Settings, env_name


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    demo_only: bool = False


def services(settings: Settings, demo: bool) -> list[Service]:
    out: list[Service] = []
    for i in range(settings.workers):
        out.append(Service(f"worker-{i + 1}", ("worker", "--port", str(settings.worker_port + i))))
    out.append(Service("sink", ("sink",)))
    out.append(Service("gateway", ("gateway",)))
    if demo:
        out.append(Service("simulator", ("simulate", "--demo"), demo_only=True))
    return [s for s in out if _available(s.argv[0])]


def _available(command: str) -> bool:
    from hub.cli import main

    return command in main.commands


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env[env_name("kafka_bootstrap")] = settings.kafka_bootstrap
    env[env_name("embedded_port")] = str(settings.embedded_port)
    env["HUB_EMBEDDED_RUNNING"] = "1"
    env.setdefault("HUB_LOG_FORMAT", "json")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@click.command()
@click.option("--demo", is_flag=True, help="also run simulated agencies sending a realistic scenario")
@click.option("--workers", type=int, help="worker processes (default HUB_WORKERS)")
@click.pass_obj
def up(settings: Settings, demo: bool, workers: int | None) -> None:
    """Run everything on one machine until Ctrl-C."""
    if workers:
        settings = settings.replace(workers=workers)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    logs = Path(settings.data_dir) / "logs"
    logs.mkdir(exist_ok=True)
    broker = None
    if settings.embedded:
        broker = EmbeddedBroker(settings.embedded_port, log_path=str(logs / "broker.log")).start()
    procs: list[tuple[Service, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        created = asyncio.run(topics_mod.ensure_topics(settings))
        click.echo(f"broker  {settings.bootstrap} ({'embedded Tansu, memory only' if broker else 'external'}); "
                   f"{len(created)} topics created")
        env = child_env(settings)
        for svc in services(settings, demo):
            log_file = open(logs / f"{svc.name}.log", "ab")  # noqa: SIM115
            p = subprocess.Popen([sys.executable, "-m", "hub", *svc.argv], env=env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True)
            procs.append((svc, p))
            click.echo(f"started {svc.name:10} pid {p.pid}  log {logs / (svc.name + '.log')}")
        base = f"http://{settings.gateway_host}:{settings.gateway_port}"
        click.echo(f"\nofficer page  {base}/\nAPI docs      {base}/docs\nmetrics       {base}/metrics\n"
                   "Ctrl-C stops everything.")
        while not stopping:
            for svc, p in procs:
                if p.poll() is not None and not svc.demo_only:
                    click.echo(f"{svc.name} exited with code {p.returncode}; see its log. Stopping.", err=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        for _svc, p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _svc, p in reversed(procs):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
        if broker:
            broker.stop()
        click.echo("hub stopped")


commands = [up]
