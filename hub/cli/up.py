"""``hub up``: the whole hub on one machine (embedded broker, topics, workers, gateway, sinks, simulator).

It supervises child processes (``python -m hub …``); Ctrl-C (or SIGTERM, or ``hub down``) stops them
all, in reverse order, then the broker. They die with it even when it is SIGKILLed (PR_SET_PDEATHSIG),
and HUB_DATA_DIR/hub-up.pid names them so that a second ``hub up`` says which instance runs. Each service is described once in :func:`services`; commands that
do not exist in this build are skipped (and said so in the banner).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from hub.directory.agencies import kafka_native_codes
from hub.platform.kafka import topics as topics_mod
from hub.platform.kafka.embedded import EmbeddedBroker, die_with_parent, free_port, port_open, start_time
from hub.platform.kafka.server import KafkaBroker
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
    for name in ("id_key", "audit_key", "metrics_token"):  # set by `hub up --durable` (see durable_secrets)
        if getattr(settings, name):
            env[env_name(name)] = getattr(settings, name)
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


class PidFile:
    """``HUB_DATA_DIR/hub-up.pid``: the PIDs of a running ``hub up`` (itself, the broker it started, each
    service), each with its start time so that a PID reused by another process later is never taken for
    one of them. A file whose processes are all gone (a SIGKILLed machine) is stale and ignored."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "hub-up.pid"

    def write(self, pids: dict[str, int]) -> None:
        entries = [{"name": n, "pid": p, "start": start_time(p)} for n, p in pids.items()]
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(entries) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def running(self) -> list[tuple[str, int]]:
        """The recorded processes still running (same PID, same start time)."""
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [(e["name"], e["pid"]) for e in entries
                if e.get("start") is not None and start_time(e["pid"]) == e["start"]]

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def describe(running: list[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {pid}" for name, pid in running)


class Supervisor:
    """What one ``hub up`` runs: the broker it started (if any) and a child process per service, each
    made to die with it (SIGKILL on its death, :func:`die_with_parent`, even when it is SIGKILLed
    itself), their PIDs in :class:`PidFile` for ``hub down``. Ctrl-C/SIGTERM: :meth:`stop`."""

    def __init__(self, settings: Settings, config: str | None, demo: bool, demo_rate: float,
                 durable: bool = False) -> None:
        self.settings = settings
        self.durable = durable
        self.kafka: KafkaBroker | None = None
        self.token_file = False
        self.config = config
        self.demo = demo
        self.demo_rate = demo_rate
        self.logs = Path(settings.data_dir) / "logs"
        self.pidfile = PidFile(settings.data_dir)
        self.broker: EmbeddedBroker | None = None
        self.procs: list[tuple[Service, subprocess.Popen[bytes]]] = []
        self.stopping = False
        self.env: dict[str, str] = {}

    def on_signal(self, *_: object) -> None:
        self.stopping = True

    def record(self) -> None:
        pids = {"hub-up": os.getpid()}
        if self.broker is not None and self.broker.proc is not None:
            pids["broker"] = self.broker.proc.pid
        if self.kafka is not None and self.kafka.pid is not None:
            pids["broker"] = self.kafka.pid
        pids |= {svc.name: p.pid for svc, p in self.procs}
        self.pidfile.write(pids)

    def start_kafka(self) -> None:
        """`--durable`: this data directory's own Apache Kafka (KRaft, single node, log in HUB_DATA_DIR/kafka),
        fetched with Maven on first use (progress shown), on the same ports at every start."""
        from hub.platform.kafka import server

        if not server.fetched():
            click.echo(f"first run: fetching Apache Kafka {server.KAFKA_VERSION} with Maven into "
                       f"{server.cache_dir()} (once; later runs reuse it) ...")
            started = time.monotonic()
            server.fetch(progress=lambda line: click.echo(f"  {line}"))
            click.echo(f"  done in {time.monotonic() - started:.0f} s")
        workdir = Path(self.settings.data_dir) / "kafka"
        port, controller = durable_ports(workdir, self.settings.embedded_port)
        self.kafka = server.KafkaBroker(workdir, port=port, controller_port=controller, die_with_parent=True)
        self.kafka.start()
        self.record()
        self.token_file = not self.settings.metrics_token  # the banner says where the token is
        self.settings = durable_secrets(dataclasses.replace(self.settings, kafka_bootstrap=self.kafka.bootstrap))

    def start_broker(self, forget: bool = False) -> str:
        s = self.settings
        if self.durable:
            self.start_kafka()
            s = self.settings
        elif s.embedded:
            self.broker = EmbeddedBroker(s.embedded_port, log_path=str(self.logs / "broker.log"),
                                         die_with_parent=True).start()
            self.record()
        problem = untrusted_state(s, broker_is_new=self.broker is not None)
        if problem and not forget:
            raise click.ClickException(problem)
        if problem:
            click.echo("--forget-earlier-reports: updates of earlier reports will be delivered as NEW", err=True)
        created = asyncio.run(topics_mod.ensure_topics(s, agency_codes=kafka_native_codes(s)))
        kind = ("embedded Tansu, memory only" if self.broker else
                f"Apache Kafka {self.kafka.version}, data in {self.kafka.log_dir}" if self.kafka else "external Kafka")
        return f"broker     {s.bootstrap} ({kind}); {len(created)} topic(s) created"

    def spawn(self, svc: Service) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{svc.name}.log", "ab") as log_file:
            return subprocess.Popen([sys.executable, "-m", "hub", *svc.argv], env=self.env, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent())

    def start_services(self) -> list[str]:
        self.env = child_env(self.settings, self.config)
        run = services(self.settings, self.demo, self.demo_rate)
        lines = []
        for svc in run:
            p = self.spawn(svc)
            self.procs.append((svc, p))
            self.record()
            lines.append(f"{svc.name:10} pid {p.pid:<7} log {self.logs / (svc.name + '.log')}"
                         + (f"  {svc.url}" if svc.url else ""))
        missing = [s.name for s in planned(self.settings, self.demo, self.demo_rate) if s not in run]
        if missing:
            lines.append(f"not in this build: {', '.join(missing)}")
        return lines

    def banner(self, lines: list[str]) -> str:
        s = self.settings
        base = f"http://{s.gateway_host}:{s.gateway_port}"
        gw = next((p for svc, p in self.procs if svc.name == "gateway"), None)
        if gw is not None and not _wait_http(f"{base}/healthz", gw, 60):
            lines.append("gateway did not answer /healthz within 60 s; see its log")
        if self.demo:
            tokens = demo_officers(s)
            lines += ["", "demo sign-in tokens for the officer page (also in "
                      f"{Path(s.data_dir) / 'demo-tokens.txt'}):"]
            lines += [f"  {name:14} {state or 'auditor':8} {token}" for name, state, token in tokens]
        return "\n".join(["", "CARICC hub is up", *lines, "",
                          f"officer page   {base}/",
                          f"API docs       {base}/docs",
                          *metrics_access(dataclasses.replace(s, metrics_token="") if self.token_file else s, base),
                          f"database       {s.db_url}",
                          "",
                          "agency keys:   hub agency add CODE --state XX --name ... && hub agency key CODE",
                          "Ctrl-C stops everything (or `hub down` from another terminal)."])

    def watch(self) -> None:
        """Until stopped: a crashed service is restarted (it resumes from committed offsets); a crash
        loop (more than RESTART_LIMIT restarts of one service in a minute) stops the hub."""
        restarts: dict[str, list[float]] = {}
        while not self.stopping:
            for i, (svc, p) in enumerate(self.procs):
                if p.poll() is None or svc.demo_only:
                    continue
                recent = [t for t in restarts.get(svc.name, []) if time.monotonic() - t < 60]
                if len(recent) >= RESTART_LIMIT:
                    click.echo(f"{svc.name} keeps exiting (code {p.returncode}); see its log. Stopping.", err=True)
                    self.stopping = True
                    break
                restarts[svc.name] = [*recent, time.monotonic()]
                click.echo(f"{svc.name} exited with code {p.returncode}; restarting it", err=True)
                self.procs[i] = (svc, self.spawn(svc))
                self.record()
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to every service in reverse order, SIGKILL to those still running after 15 s, then the broker."""
        click.echo("stopping ...")
        for _svc, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for svc, p in reversed(self.procs):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                click.echo(f"{svc.name} did not stop in time; killing it", err=True)
                p.kill()
                p.wait()
        if self.broker:
            self.broker.stop()
        if self.kafka:
            self.kafka.stop()
        self.pidfile.remove()
        click.echo("hub stopped")


CHANGELOG = "hub-pipeline-reports-changelog"  # the decision state's changelog (faust app hub-pipeline, table reports)


def earlier_reports(settings: Settings) -> int:
    """Audit events about reports in the hub database: the pipeline decided reports before."""
    from hub.platform.db import Database

    db = Database(settings.db_url)
    try:
        row = db.one("SELECT COUNT(*) AS n FROM audit_log WHERE report_id IS NOT NULL")
        return int(row["n"]) if row else 0
    except Exception as exc:  # no audit table yet (a new data directory); any other error is raised
        if "no such table" in str(exc) or type(exc).__name__ == "UndefinedTable":
            return 0
        raise
    finally:
        db.close()


def local_tables(settings: Settings) -> list[Path]:
    """The workers' RocksDB decision tables `hub up` will use (HUB_DATA_DIR/faust-<port>, one per worker)."""
    from hub.cli.worker import default_store

    if default_store(settings) != "rocksdb://":
        return []
    dirs = [Path(settings.data_dir) / f"faust-{settings.worker_port + i}" / "v1" / "tables" / "reports-0.db"
            for i in range(settings.workers)]
    return [d for d in dirs if d.is_dir()]


async def _topic_exists(settings: Settings, topic: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    from hub.platform.kafka.clients import client_settings

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **client_settings(settings).admin)
    await admin.start()
    try:
        return topic in await admin.list_topics()
    finally:
        await admin.close()


def untrusted_state(settings: Settings, broker_is_new: bool) -> str | None:
    """Why the decision state cannot be trusted, or None. Earlier decisions (the database's audit trail
    names reports) that neither the broker (the changelog topic) nor the workers' local tables hold:
    a new version of an earlier report would be decided as NEW, its incident forgotten."""
    n = earlier_reports(settings)
    if not n or local_tables(settings):
        return None
    if not broker_is_new and asyncio.run(_topic_exists(settings, CHANGELOG)):
        return None
    where = "the embedded broker keeps it in memory only" if settings.embedded else f"{settings.bootstrap} has no {CHANGELOG}"
    return (f"{settings.data_dir} holds earlier decisions ({n} audit events of reports) but their decision state is "
            f"gone: {where}, and the workers' local tables (faust-{settings.worker_port}/ in {settings.data_dir}) "
            f"are missing. A new version of an earlier report would be delivered as NEW. Either start on a new "
            f"HUB_DATA_DIR, restore those tables, or run `hub up --forget-earlier-reports` to accept that.")


def durable_ports(workdir: Path, port: int) -> tuple[int, int]:
    """The client and controller ports of the durable Kafka: chosen on its first start (the client port
    is HUB_EMBEDDED_PORT), kept in workdir/ports.json so every later start uses the same."""
    saved = workdir / "ports.json"
    if saved.exists():
        ports = json.loads(saved.read_text(encoding="utf-8"))
        return int(ports["port"]), int(ports["controller"])
    workdir.mkdir(parents=True, exist_ok=True)
    ports = {"port": port, "controller": free_port()}
    saved.write_text(json.dumps(ports) + "\n", encoding="utf-8")
    return ports["port"], ports["controller"]


def durable_secrets(settings: Settings) -> Settings:
    """`--durable` is one machine: the id key, audit key and metrics token come from their settings when
    given, else from the data directory's files as in the development profile (id.key, audit.key,
    metrics.token, created 0600 on first start), and are handed to every child process."""
    from hub.platform.keys import _from_file

    files = {"id_key": "id.key", "audit_key": "audit.key", "metrics_token": "metrics.token"}
    values = {name: getattr(settings, name) or _from_file(Path(settings.data_dir) / f).decode()
              for name, f in files.items()}
    return dataclasses.replace(settings, **values)


def refuse_if_running(settings: Settings) -> None:
    running = PidFile(settings.data_dir).running()
    if running:
        raise click.ClickException(
            f"a hub is already running from {settings.data_dir} (pids: {describe(running)}); "
            f"stop it with `hub down` (same HUB_DATA_DIR), or use another HUB_DATA_DIR")


@click.command()
@click.option("--demo", is_flag=True, help="also run simulated agencies sending a realistic scenario")
@click.option("--demo-rate", type=float, default=0.5, show_default=True, help="simulated reports per second")
@click.option("--workers", type=int, help="worker processes (default HUB_WORKERS)")
@click.option("--durable", is_flag=True,
              help="run a local Apache Kafka managed by the hub instead of the embedded broker: its log in "
              "HUB_DATA_DIR/kafka survives restarts (fetched with Maven on first use; needs java >= 17 and mvn)")
@click.option("--forget-earlier-reports", "forget", is_flag=True,
              help="run even when the decision state of earlier reports is gone (updates of them arrive as NEW); "
              "without it `hub up` refuses and says why")
@click.pass_context
def up(ctx: click.Context, demo: bool, demo_rate: float, workers: int | None, durable: bool, forget: bool) -> None:
    """Run everything on one machine until Ctrl-C: embedded broker (unless HUB_KAFKA_BOOTSTRAP is set;
    with --durable a local Apache Kafka whose data survives restarts), topics, pipeline workers,
    audit/feed sink, HTTP gateway and, with --demo, the simulator.

    Every process it starts dies with it, even when it is killed (SIGKILL); `hub down` stops it from
    another terminal. Its PIDs are in HUB_DATA_DIR/hub-up.pid. The decision state (which reports and
    incidents the hub knows) is kept in the workers' RocksDB tables under HUB_DATA_DIR, so it survives
    a restart on the memory-only embedded broker; when it is gone `hub up` refuses to start."""
    settings: Settings = ctx.obj
    if workers:
        settings = dataclasses.replace(settings, workers=workers)
    config = ctx.parent.params.get("config") if ctx.parent else None
    (Path(settings.data_dir) / "logs").mkdir(parents=True, exist_ok=True)
    if durable and not settings.embedded:
        raise click.UsageError("--durable runs its own Kafka: unset HUB_KAFKA_BOOTSTRAP (or drop --durable)")
    refuse_if_running(settings)
    if port_open(settings.gateway_port, settings.gateway_host):
        raise click.ClickException(f"port {settings.gateway_port} is in use; choose another with HUB_GATEWAY_PORT")
    sup = Supervisor(settings, config, demo, demo_rate, durable)
    signal.signal(signal.SIGTERM, sup.on_signal)
    signal.signal(signal.SIGINT, sup.on_signal)
    sup.record()
    try:
        lines = [sup.start_broker(forget), *sup.start_services()]
        click.echo(sup.banner(lines))
        sup.watch()
    finally:
        sup.stop()


@click.command()
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="seconds to wait for an orderly stop before SIGKILL.")
@click.pass_obj
def down(settings: Settings, timeout: float) -> None:
    """Stop the `hub up` running from this HUB_DATA_DIR (e.g. from another terminal).

    SIGTERM to `hub up` (which stops its services in order, then its broker), SIGKILL to whatever of
    its processes is still running after --timeout. Processes are found by PID in HUB_DATA_DIR/hub-up.pid."""
    pidfile = PidFile(settings.data_dir)
    running = pidfile.running()
    if not running:
        pidfile.remove()
        click.echo(f"no hub is running from {settings.data_dir}")
        return
    click.echo(f"stopping {describe(running)}")
    supervisor = dict(running).get("hub-up")
    targets = [supervisor] if supervisor else [pid for _n, pid in running]  # orphans: each one
    for pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pidfile.running() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = pidfile.running()
    for name, pid in left:
        click.echo(f"{name} (pid {pid}) did not stop within {timeout:g} s; killing it", err=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    pidfile.remove()
    click.echo("hub stopped")


commands = [up, down]
