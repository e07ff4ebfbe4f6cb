"""``hub connector filedrop``: publish report files dropped into a directory."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from connectors.filedrop import FileDrop, UnsafeDirectory
from connectors.sdk import KafkaTransport, Publisher, RestTransport, Transport
from hub.platform.settings import Settings


@click.group()
def connector() -> None:
    """Agency-side connectors."""


@connector.command("filedrop")
@click.option("--agency", required=True, help="agency code (for logs; with --kafka, the reporting agency)")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="directory to watch (done/ and failed/ are created inside it)")
@click.option("--url", envvar="HUB_URL", default="http://127.0.0.1:8080", show_default=True,
              help="gateway base URL (or HUB_URL)")
@click.option("--key", envvar="HUB_AGENCY_KEY", help="agency key (or HUB_AGENCY_KEY)")
@click.option("--kafka", "kafka_state", metavar="STATE",
              help="send Avro straight to hub.intake.agency.AGENCY as --agency of STATE (Kafka-native agencies)")
@click.option("--outbox", type=click.Path(dir_okay=False, path_type=Path),
              help="outbox file (default DIR/.filedrop/outbox.db)")
@click.option("--once", is_flag=True, help="process the files present now, then exit")
@click.option("--poll", type=float, default=1.0, show_default=True, help="seconds between directory scans")
@click.option("--settle", type=float, default=1.0, show_default=True,
              help="a file must be unchanged this long before it is read (still being written otherwise)")
@click.option("--max-backoff", type=float, default=30.0, show_default=True, help="longest wait between retries (s)")
@click.option("--max-bytes", type=int, help="largest file read (default HUB_FILEDROP_MAX_BYTES)")
@click.pass_obj
def filedrop(settings: Settings, agency: str, directory: Path, url: str, key: str | None, kafka_state: str | None,
             outbox: Path | None, once: bool, poll: float, settle: float, max_backoff: float,
             max_bytes: int | None) -> None:
    """Watch DIR for .json, .ndjson and .csv report files; publish each file once (by content hash) and
    move it to done/ or failed/ with NAME.report.json (and NAME.errors.txt naming each bad row and field)."""
    transport: Transport
    if kafka_state:
        transport = KafkaTransport(settings, agency.upper(), kafka_state.upper())
    else:
        if not key:
            raise click.UsageError("an agency key is required: --key or HUB_AGENCY_KEY")
        transport = RestTransport(url, key)
    try:
        FileDrop.prepare(directory)  # before the outbox is opened inside it
    except UnsafeDirectory as exc:
        raise click.ClickException(str(exc)) from exc
    pub = Publisher(outbox or FileDrop.default_outbox(directory), transport, max_backoff=max_backoff)
    drop = FileDrop(directory, pub, settle=settle, max_bytes=max_bytes or settings.filedrop_max_bytes)
    signal.signal(signal.SIGTERM, lambda *_: drop.stop())
    signal.signal(signal.SIGINT, lambda *_: drop.stop())
    try:
        if once:
            for o in drop.scan_once():
                click.echo(f"{o.name}: {o.status}" + (f" ({o.problem})" if o.problem else "")
                           + (f" -> {o.moved_to}" if o.moved_to else ""))
        else:
            click.echo(f"watching {directory} for {agency.upper()}; Ctrl-C stops", err=True)
            drop.run(poll)
    finally:
        drop.close()
        pub.close()


commands = [connector]
