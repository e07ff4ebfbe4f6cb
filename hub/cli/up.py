"""``hub up``: the whole hub on one machine (embedded broker, topics, workers, gateway, sinks, simulator).

It supervises child processes (``python -m hub …``); Ctrl-C (or SIGTERM) stops them all, in
reverse order, then the broker. Each service is described once in :func:`services`; commands that
do not exist in this build are skipped (and said so in the banner).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from hub.platform.kafka import topics as topics_mod
from hub.platform.kafka.embedded import EmbeddedBroker, port_open
from hub.platform.settings import Settings, env_name


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    demo_only: bool = False
    url: str | None = None  # what to show in the banner


def planned(settings: Settings, demo: bool, demo_rate: float = 0.5) -> list[Service]:
    host = settings.gateway_host
    out: list[Service] = []
    for i in range(settings.workers):
        port = settings.worker_port + i
        out.append(Service(f"worker-{i + 1}", ("worker", "--port", str(port)), url=f"http://{host}:{port}/metrics"))
    out.append(Service("sink", ("sink",), url=f"http://{host}:{settings.sink_port}/metrics"))
    out.append(Service("gateway", ("gateway",), url=f"http://{host}:{settings.gateway_port}/"))
    if demo:
        out.append(Service("simulator", ("simulate", "--demo", "--rate", f"{demo_rate:g}"), demo_only=True))
    return out


def services(settings: Settings, demo: bool, demo_rate: float = 0.5) -> list[Service]:
    return [s for s in planned(settings, demo, demo_rate) if _available(s.argv[0])]


def _available(command: str) -> bool:
    from hub.cli import main

    return command in main.commands


def child_env(settings: Settings, config: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env[env_name("kafka_bootstrap")] = settings.kafka_bootstrap
    env[env_name("embedded_port")] = str(settings.embedded_port)
    env[env_name("data_dir")] = settings.data_dir
    env[env_name("gateway_port")] = str(settings.gateway_port)
    env[env_name("gateway_host")] = settings.gateway_host
    if config:
        env["HUB_CONFIG"] = str(Path(config).resolve())
    env["HUB_EMBEDDED_RUNNING"] = "1"
    env.setdefault("HUB_LOG_FORMAT", "json")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


RESTART_LIMIT = 5  # restarts of one service within a minute before `hub up` gives up

DEMO_OFFICERS = (("demo-kz", "KZ", False), ("demo-uz", "UZ", False), ("demo-caricc", "CARICC", False),
                 ("demo-auditor", None, True))


def demo_officers(settings: Settings) -> list[tuple[str, str | None, str]]:
    """Officers (and an auditor) for the demo, with fresh tokens; written to demo-tokens.txt.

    Each run revokes the demo officers' earlier tokens before issuing new ones (a token shown by an
    earlier ``hub up --demo`` stops working), and the file is written owner-only from its creation."""
    from hub.directory.officers import Officers
    from hub.platform.db import Database

    db = Database(settings.db_url)
    try:
        officers = Officers(db, settings)
        out = []
        for name, state, auditor in DEMO_OFFICERS:
            existing = officers.get(name)
            if existing is not None and not existing.active:
                continue  # disabled by an operator: stays disabled
            if existing is not None:
                officers.revoke(name)
                token = officers.token(name)
            else:
                token = officers.add(name, state, auditor=auditor)
            out.append((name, state, token))
    finally:
        db.close()
    write_private(Path(settings.data_dir) / "demo-tokens.txt",
                  "".join(f"{n}\t{s or 'auditor'}\t{t}\n" for n, s, t in out))
    return out


def metrics_access(settings: Settings, base: str) -> list[str]:
    """Banner lines on reaching the gateway's ``/metrics``: where its bearer token is (the
    HUB_METRICS_TOKEN setting, else the dev profile's token file) and a curl line that reads it from
    there. The token itself is never printed (the banner ends up in terminals and logs)."""
    if settings.metrics_token:
        where, value = "HUB_METRICS_TOKEN", "$HUB_METRICS_TOKEN"
    else:
        path = Path(settings.data_dir) / "metrics.token"
        where, value = f"{path} (owner-only)", f"$(cat {path})"
    return [f"metrics        {base}/metrics  (bearer token: {where})",
            f'               curl -H "Authorization: Bearer {value}" {base}/metrics']


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only from the first byte: a new file created
    0600 (O_EXCL, so never an existing file or a planted link) then renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@click.command()
@click.option("--demo", is_flag=True, help="also run simulated agencies sending a realistic scenario")
@click.option("--demo-rate", type=float, default=0.5, show_default=True, help="simulated reports per second")
@click.option("--workers", type=int, help="worker processes (default HUB_WORKERS)")
@click.pass_context
def up(ctx: click.Context, demo: bool, demo_rate: float, workers: int | None) -> None:
    """Run everything on one machine until Ctrl-C: embedded broker (unless HUB_KAFKA_BOOTSTRAP is set),
    topics, pipeline workers, audit/feed sink, HTTP gateway and, with --demo, the simulator."""
    settings: Settings = ctx.obj
    if workers:
        settings = dataclasses.replace(settings, workers=workers)
    config = ctx.parent.params.get("config") if ctx.parent else None
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    logs = Path(settings.data_dir) / "logs"
    logs.mkdir(exist_ok=True)
    if port_open(settings.gateway_port, settings.gateway_host):
        raise click.ClickException(f"port {settings.gateway_port} is in use; choose another with HUB_GATEWAY_PORT")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    broker = None
    procs: list[tuple[Service, subprocess.Popen[bytes]]] = []
    try:
        if settings.embedded:
            broker = EmbeddedBroker(settings.embedded_port, log_path=str(logs / "broker.log")).start()
        created = asyncio.run(topics_mod.ensure_topics(settings))
        lines = [f"broker     {settings.bootstrap} ({'embedded Tansu, memory only' if broker else 'external Kafka'}); "
                 f"{len(created)} topic(s) created"]
        env = child_env(settings, config)
        run = services(settings, demo, demo_rate)
        def spawn(svc: Service) -> subprocess.Popen[bytes]:
            log_file = open(logs / f"{svc.name}.log", "ab")  # noqa: SIM115
            return subprocess.Popen([sys.executable, "-m", "hub", *svc.argv], env=env, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True)

        for svc in run:
            p = spawn(svc)
            procs.append((svc, p))
            lines.append(f"{svc.name:10} pid {p.pid:<7} log {logs / (svc.name + '.log')}"
                         + (f"  {svc.url}" if svc.url else ""))
        missing = [s.name for s in planned(settings, demo, demo_rate) if s not in run]
        if missing:
            lines.append(f"not in this build: {', '.join(missing)}")
        base = f"http://{settings.gateway_host}:{settings.gateway_port}"
        gw = next((p for s, p in procs if s.name == "gateway"), None)
        if gw is not None and not _wait_http(f"{base}/healthz", gw, 60):
            lines.append("gateway did not answer /healthz within 60 s; see its log")
        if demo:
            tokens = demo_officers(settings)
            lines += ["", "demo sign-in tokens for the officer page (also in "
                      f"{Path(settings.data_dir) / 'demo-tokens.txt'}):"]
            lines += [f"  {name:14} {state or 'auditor':8} {token}" for name, state, token in tokens]
        click.echo("\n".join(["", "CARICC hub is up", *lines, "",
                              f"officer page   {base}/",
                              f"API docs       {base}/docs",
                              *metrics_access(settings, base),
                              f"database       {settings.db_url}",
                              "",
                              "agency keys:   hub agency add CODE --state XX --name ... && hub agency key CODE",
                              "Ctrl-C stops everything."]))
        restarts: dict[str, list[float]] = {}
        while not stopping:
            for i, (svc, p) in enumerate(procs):
                if p.poll() is None or svc.demo_only:
                    continue
                # a crashed service is restarted (it resumes from committed offsets); a crash loop
                # (more than RESTART_LIMIT restarts in a minute) stops the hub
                recent = [t for t in restarts.get(svc.name, []) if time.monotonic() - t < 60]
                if len(recent) >= RESTART_LIMIT:
                    click.echo(f"{svc.name} keeps exiting (code {p.returncode}); see its log. Stopping.", err=True)
                    stopping = True
                    break
                restarts[svc.name] = [*recent, time.monotonic()]
                click.echo(f"{svc.name} exited with code {p.returncode}; restarting it", err=True)
                procs[i] = (svc, spawn(svc))
            time.sleep(0.2)
    finally:
        click.echo("stopping ...")
        for _svc, p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for svc, p in reversed(procs):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                click.echo(f"{svc.name} did not stop in time; killing it", err=True)
                p.kill()
                p.wait()
        if broker:
            broker.stop()
        click.echo("hub stopped")


commands = [up]
