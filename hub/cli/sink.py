"""``hub sink`` (the read models, each its own consumer) and ``hub projection`` (status, rebuild)."""

from __future__ import annotations

import asyncio
import json
import signal

import click
import structlog
from prometheus_client import start_http_server

from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.projections.registry import NAMES, UnknownProjection, build, check
from hub.sink import GROUP, Sink

log = structlog.get_logger(__name__)


def _names(values: tuple[str, ...]) -> list[str]:
    names = [n.strip() for v in values for n in v.split(",") if n.strip()] or list(NAMES)
    try:
        return check(names)
    except UnknownProjection as exc:
        raise click.BadParameter(str(exc), param_hint="--projection") from exc


@click.command()
@click.option("--port", type=int, help="metrics port (default HUB_SINK_PORT; 0 = no metrics server)")
@click.option("--group", default=GROUP, show_default=True,
              help="prefix of the Kafka consumer groups (each projection's group is PREFIX-NAME)")
@click.option("--projection", "projections", multiple=True, metavar="NAME",
              help=f"run only these projections (repeat or comma list; default all: {', '.join(NAMES)})")
@click.pass_obj
def sink(settings: Settings, port: int | None, group: str, projections: tuple[str, ...]) -> None:
    """Keep the hub's read models: feed store (hub.feed.*), audit chain (hub.audit), analyst index
    and provider status (hub.feed.*, hub.receipts, hub.audit).

    Each projection is its own consumer (group PREFIX-NAME, own offsets, own transaction, own lag:
    hub_projection_lag_seconds{projection}); a slow one delays only itself. Idempotent and
    at-least-once: offsets are committed after the database write. The database is HUB_DATABASE_URL
    (SQLite in HUB_DATA_DIR by default, or PostgreSQL). Give the feed its own process with
    `hub sink --projection feeds` beside `hub sink --projection audit,analyst,provider`.
    """
    names = _names(projections)
    port = settings.sink_port if port is None else port
    if port:
        start_http_server(port, addr="127.0.0.1")
        log.info("sink metrics", url=f"http://127.0.0.1:{port}/metrics")
    db = Database(settings.db_url)
    s = Sink(settings, db=db, group=group, projections=build(names, db, settings))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, s.stop)
        await s.run()

    asyncio.run(main())


@click.group()
def projection() -> None:
    """The read models kept by `hub sink`: where each is, and rebuilding one from its topics."""


@projection.command("status")
@click.pass_obj
def status(settings: Settings) -> None:
    """Each projection's progress and lag (JSON, as GET /v1/projections shows it)."""
    from hub.projections import progress

    click.echo(json.dumps(progress.read(Database(settings.db_url)), indent=2))


@projection.command("rebuild")
@click.argument("name", type=click.Choice(NAMES))
@click.option("--group", default=GROUP, show_default=True, help="prefix of the sink's consumer groups")
@click.option("--yes", is_flag=True, help="do not ask before dropping the projection's tables")
@click.pass_obj
def rebuild(settings: Settings, name: str, group: str, yes: bool) -> None:
    """Drop projection NAME's tables and rebuild them from its topics (from the beginning).

    Stop that projection first (`hub sink` or `hub sink --projection NAME`): its consumer group must
    have no members, or the final offset commit is refused (run the rebuild again then). The group's
    offsets end at what was replayed, so the restarted projection continues from there. The topics
    hold what their retention keeps (HUB_RETENTION_MS for the feeds): a rebuild restores that much.
    `feeds`: cursors are numbered again (officers resume from the start of their feed). `audit`: a
    new chain; the old anchor file is moved aside and the new head should be anchored
    (`hub audit anchor`).
    """
    from hub.sink import rebuild as run_rebuild

    if not yes:
        click.confirm(f"Drop the tables of projection {name!r} and rebuild them from the topics?", abort=True)
    db = Database(settings.db_url)

    def say(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds else 0.0
        click.echo(f"rebuild {name}: {done:,} of ~{total:,} records ({rate:,.0f}/s, {seconds:.1f} s)", err=True)

    try:
        result = asyncio.run(run_rebuild(settings, db, name, group=group, on_progress=say))
    except Exception as exc:
        raise click.ClickException(f"rebuild of {name} failed: {type(exc).__name__}: {exc}") from exc
    click.echo(json.dumps(result))


commands = [sink, projection]
