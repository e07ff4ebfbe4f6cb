"""``hub publish FILE``: send a JSON, NDJSON or CSV file of reports through the store-and-forward SDK."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click

from connectors.formats import read
from connectors.sdk import KafkaTransport, Publisher, RestTransport, Transport, outbox_key
from hub.platform.settings import Settings


def default_outbox(settings: Settings, target: str) -> Path:
    """One outbox per destination and credential, so two agencies never share one (their source_refs may clash)."""
    return Path(settings.data_dir) / "outbox" / f"publish-{hashlib.sha256(target.encode()).hexdigest()[:12]}.db"


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", envvar="HUB_URL", default="http://127.0.0.1:8080", show_default=True,
              help="gateway base URL (or HUB_URL)")
@click.option("--key", envvar="HUB_AGENCY_KEY", help="agency key (or HUB_AGENCY_KEY)")
@click.option("--outbox", type=click.Path(dir_okay=False, path_type=Path),
              help="outbox file (default HUB_DATA_DIR/outbox/publish-<hash of url and key>.db)")
@click.option("--kafka", "kafka_agency", metavar="AGENCY:STATE",
              help="send Avro straight to hub.intake.agency.AGENCY as AGENCY of STATE (Kafka-native agencies)")
@click.option("--batch", type=int, default=200, show_default=True, help="reports per request")
@click.option("--timeout", type=float, default=None,
              help="give up after this many seconds (pending reports stay in the outbox); default: wait")
@click.option("--max-backoff", type=float, default=30.0, show_default=True, help="longest wait between retries (s)")
@click.pass_obj
def publish(settings: Settings, file: Path, url: str, key: str | None, outbox: Path | None,
            kafka_agency: str | None, batch: int, timeout: float | None, max_backoff: float) -> None:
    """Publish every report in FILE (.json, .ndjson or .csv; CSV columns in docs/connectors.md).

    Reports are stored in a durable outbox first, then sent with retries while the hub is down;
    re-running the command after a crash sends only what is missing (no duplicates). Exit code 0: all
    accepted; 1: some rejected (listed); 75: hub unreachable until --timeout (the rest stays queued).
    """
    try:
        rows = read(file.name, file.read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    transport: Transport
    if kafka_agency:
        agency, _, state = kafka_agency.partition(":")
        if not agency or not state:
            raise click.UsageError("--kafka: expected AGENCY:STATE, e.g. KZ-CUSTOMS:KZ")
        transport = KafkaTransport(settings, agency.upper(), state.upper())
        target = f"kafka:{settings.bootstrap}:{agency}"
    else:
        if not key:
            raise click.UsageError("an agency key is required: --key or HUB_AGENCY_KEY")
        transport = RestTransport(url, key)
        target = f"{url}|{key}"
    pub = Publisher(outbox or default_outbox(settings, target), transport, batch_size=batch, max_backoff=max_backoff)
    bad = 0
    keys: list[tuple[str, str]] = []
    bodies = []
    for row in rows:
        if row.body is None:
            click.echo(f"{row.label}: {row.problem}", err=True)
            bad += 1
            continue
        try:
            keys.append((row.label, outbox_key(row.body)))
            bodies.append(row.body)
        except ValueError as exc:
            click.echo(f"{row.label}: {exc}", err=True)
            bad += 1
    pub.publish_many(bodies)  # one durable transaction for the whole file
    click.echo(f"{len(keys)} report(s) queued in {pub.path}", err=True)
    try:
        pub.drain(timeout=timeout)
        results = pub.results(k for _, k in keys)
    finally:
        pub.close()
    sent = dup = pending = 0
    for label, k in keys:
        r = results.get(k, {})
        if r.get("status") == "sent":
            sent += 1
            dup += r["duplicate"]
        elif r.get("status") == "rejected":
            bad += 1
            details = "; ".join(f"{e['field']}: {e['problem']}" for e in r["errors"]) or r["error"]
            click.echo(f"{label} ({k}): rejected: {details}", err=True)
        else:
            pending += 1
    click.echo(f"accepted {sent} ({dup} already known), rejected {bad}, still queued {pending}")
    if pending:
        sys.exit(75)
    if bad:
        sys.exit(1)


commands = [publish]
