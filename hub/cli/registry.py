"""``hub registry``: a local Confluent-compatible Schema Registry (Apicurio Registry, fetched with Maven)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.platform.settings import Settings


def _workdir(settings: Settings, directory: str | None) -> Path:
    return Path(directory) if directory else Path(settings.data_dir) / "registry"


@click.group("registry")
def registry() -> None:
    """A Confluent-compatible Schema Registry on this machine (Apicurio Registry).

    `hub registry start` fetches the pinned Apicurio Registry app from Maven Central on first use
    (about 170 MB; needs mvn and a Java ≥ 21, found under /usr/lib/jvm or given by HUB_REGISTRY_JAVA),
    then runs it in the background on 127.0.0.1 with its schemas in an H2 file under the data
    directory (kept across stop/start). Point the hub at it with the printed HUB_SCHEMA_REGISTRY_URL:
    every Avro record is then written in the Confluent wire format (magic byte 0 + schema id).
    """


def _progress(line: str) -> None:
    click.echo(f"  {line}", err=True)


@registry.command("fetch")
def fetch_cmd() -> None:
    """Unpack the registry app into the cache (HUB_KAFKA_CACHE, default ~/.cache/caricc-hub) and print it."""
    from hub.platform.kafka.registry import APICURIO_VERSION, fetch, fetched

    if not fetched():
        click.echo(f"fetching Apicurio Registry {APICURIO_VERSION} with Maven (once) ...", err=True)
    click.echo(f"Apicurio Registry {APICURIO_VERSION}: {fetch(progress=_progress)}")


@registry.command("start")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="registry files: H2 database, log, pid (default HUB_DATA_DIR/registry).")
@click.option("--port", type=int, default=8081, show_default=True, help="HTTP port on 127.0.0.1.")
@click.pass_obj
def start_cmd(settings: Settings, directory: str | None, port: int) -> None:
    """Start the registry in the background (its schemas survive stop/start)."""
    from hub.platform.kafka.registry import APICURIO_VERSION, Registry, fetch, fetched, running_pid

    wd = _workdir(settings, directory)
    pid = running_pid(wd)
    if pid:
        raise click.ClickException(f"a registry of {wd} is already running (pid {pid}); `hub registry stop`")
    if not fetched():
        click.echo(f"fetching Apicurio Registry {APICURIO_VERSION} with Maven (once) ...", err=True)
        fetch(progress=_progress)
    r = Registry(wd, port=port).start()
    click.echo(f"Apicurio Registry {r.version} on {r.url} (pid {r.pid}); log {r.log_path}; `hub registry stop"
               f"{' --dir ' + str(wd) if directory else ''}` stops it")
    click.echo(f"export HUB_SCHEMA_REGISTRY_URL={r.url}")


@registry.command("stop")
@click.option("--dir", "directory", type=click.Path(file_okay=False), help="as given to start.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="seconds before SIGKILL.")
@click.pass_obj
def stop_cmd(settings: Settings, directory: str | None, timeout: float) -> None:
    """Stop the registry started by `hub registry start` (SIGTERM, then SIGKILL), by its PID."""
    from hub.platform.kafka.registry import running_pid, stop_group

    wd = _workdir(settings, directory)
    pid = running_pid(wd)
    if pid is None:
        (wd / "registry.pid").unlink(missing_ok=True)
        click.echo(f"no registry of {wd} is running")
        return
    killed = stop_group(pid, timeout)
    (wd / "registry.pid").unlink(missing_ok=True)
    click.echo(f"stopped pid {pid}" + (" (killed after --timeout)" if killed else ""))


commands = [registry]
