"""``hub kafka``: a local Apache Kafka (fetched with Maven, KRaft, single node) and the hub's ACLs."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import click

from hub.platform.settings import Settings


def _workdir(settings: Settings, directory: str | None) -> Path:
    return Path(directory) if directory else Path(settings.data_dir) / "kafka"


@click.group("kafka")
def kafka() -> None:
    """A real Apache Kafka on this machine (what the test suite runs) and the hub's Kafka ACLs.

    `hub kafka start` fetches the pinned Apache Kafka with Maven on first use (needs java ≥ 17 and
    mvn), formats KRaft storage and starts a single-node broker on 127.0.0.1 in the background;
    `hub kafka stop` stops it by PID. Point the hub at it with the printed HUB_KAFKA_* variables.
    """


@kafka.command("fetch")
def fetch_cmd() -> None:
    """Copy Kafka's jars into the cache (HUB_KAFKA_CACHE, default ~/.cache/caricc-hub) and print it."""
    from hub.platform.kafka.server import KAFKA_VERSION, fetch

    click.echo(f"Apache Kafka {KAFKA_VERSION}: {fetch(progress=_progress)}")


def _progress(line: str) -> None:
    click.echo(f"  {line}", err=True)


@kafka.command("start")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="broker files: config, log directory, TLS, passwords (default HUB_DATA_DIR/kafka).")
@click.option("--port", type=int, default=0, help="client port (default: a free one).")
@click.option("--sasl", is_flag=True, help="SASL/SCRAM over TLS with ACLs (deploy/kafka/server-sasl.properties): "
              "a CA is made for it, one SCRAM user per hub service and per --agency, ACLs applied.")
@click.option("--agency", "agencies", multiple=True, help="Kafka-native agency code (with --sasl; repeatable).")
@click.pass_obj
def start_cmd(settings: Settings, directory: str | None, port: int, sasl: bool, agencies: tuple[str, ...]) -> None:
    """Start a single-node KRaft broker in the background (its data survives stop/start)."""
    from hub.platform.kafka import acls
    from hub.platform.kafka.server import KafkaBroker, fetch

    wd = _workdir(settings, directory)
    if _running_pid(wd):
        raise click.ClickException(f"a broker of {wd} is already running (pid {_running_pid(wd)}); `hub kafka stop`"
                                   f"{' --dir ' + str(wd) if directory else ''}")
    fetch(progress=_progress)  # once: a line per downloaded file
    b = KafkaBroker(wd, sasl=sasl, users=tuple(acls.principals(agencies)) if sasl else (), port=port)
    b.start()
    (wd / "bootstrap").write_text(b.bootstrap + "\n", encoding="utf-8")
    click.echo(f"Apache Kafka {b.version} on {b.bootstrap} (pid {b.pid}); log {b.log_path}; `hub kafka stop"
               f"{' --dir ' + str(wd) if directory else ''}` stops it")
    if not sasl:
        click.echo(f"export HUB_KAFKA_BOOTSTRAP={b.bootstrap}")
        return
    created = asyncio.run(acls.apply(b.settings(), acls.all_acls(agencies)))
    envs = wd / "principals"
    envs.mkdir(exist_ok=True)
    for name in ("admin", *b.users):
        f = envs / f"{name}.env"
        f.touch(0o600)
        f.write_text("".join(f"{k}={v}\n" for k, v in b.env(name).items()), encoding="utf-8")
    click.echo(f"{created} ACLs applied; HUB_KAFKA_* settings per principal in {envs}/<principal>.env "
               f"(e.g. set -a; . {envs}/hub-worker.env)")


def _running_pid(wd: Path) -> int | None:
    """The PID in ``wd/kafka.pid`` if it is still this directory's Kafka (not a recycled PID)."""
    try:
        pid = int((wd / "kafka.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    config = str(wd.resolve() / "server.properties").encode()
    if b"kafka.Kafka" in cmdline and any(arg == config or arg.endswith(config) for arg in cmdline):
        return pid
    return None


@kafka.command("stop")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="as given to start.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="seconds before SIGKILL.")
@click.pass_obj
def stop_cmd(settings: Settings, directory: str | None, timeout: float) -> None:
    """Stop the broker started by `hub kafka start` (SIGTERM, then SIGKILL), by its PID."""
    wd = _workdir(settings, directory)
    pid = _running_pid(wd)
    if pid is None:
        click.echo(f"no broker of {wd} is running")
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running_pid(wd) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _running_pid(wd):
        os.killpg(pid, signal.SIGKILL)
    (wd / "kafka.pid").unlink(missing_ok=True)
    click.echo(f"stopped pid {pid}")


@kafka.command("tls")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="directory for ca.pem (clients' HUB_KAFKA_SSL_CAFILE) and broker.p12 (the broker's keystore).")
@click.option("--host", "hosts", multiple=True, default=("kafka", "localhost", "127.0.0.1"), show_default=True,
              help="names/addresses the broker certificate is valid for (repeatable).")
@click.option("--days", type=int, default=365, show_default=True, help="validity of both certificates.")
@click.password_option("--password", envvar="KAFKA_SSL_PASSWORD", confirmation_prompt=False,
                       help="keystore password (or KAFKA_SSL_PASSWORD).")
def tls_cmd(out: str, hosts: tuple[str, ...], days: int, password: str) -> None:
    """Make a CA and a broker certificate for docker-compose's Kafka (needs the `cryptography` package).

    The CA's key is not kept: to rotate, make new files and restart. Bring your own CA in production."""
    from hub.platform.kafka.tls import make_tls

    files = make_tls(Path(out), password, hosts, days=days)
    click.echo(f"CA {files.ca_pem}; broker keystore {files.keystore} (PKCS12) for {', '.join(hosts)}")


@kafka.group("acls")
def acls_group() -> None:
    """The hub's Kafka ACLs (hub/platform/kafka/acls.py): one principal per service and per Kafka-native agency."""


@acls_group.command("list")
@click.option("--agency", "agencies", multiple=True, help="Kafka-native agency code (repeatable).")
@click.option("--bootstrap", default="kafka:9094", show_default=True, help="for the printed commands.")
def acls_list(agencies: tuple[str, ...], bootstrap: str) -> None:
    """Print the ACLs as kafka-acls.sh commands."""
    from hub.platform.kafka import acls

    for line in acls.kafka_acls_lines(acls.all_acls(agencies), bootstrap):
        click.echo(line)


@acls_group.command("apply")
@click.option("--agency", "agencies", multiple=True, envvar="HUB_KAFKA_AGENCIES",
              help="Kafka-native agency code (repeatable; or HUB_KAFKA_AGENCIES, space-separated).")
@click.pass_obj
def acls_apply(settings: Settings, agencies: tuple[str, ...]) -> None:
    """Create the ACLs on the cluster of HUB_KAFKA_BOOTSTRAP (as a principal allowed to Alter the cluster)."""
    from hub.platform.kafka import acls

    n = asyncio.run(acls.apply(settings, acls.all_acls(agencies)))
    click.echo(f"{n} ACLs in place for {', '.join(acls.principals(agencies))}")


commands = [kafka]
