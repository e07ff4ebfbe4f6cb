"""``hub sink``: consume feed topics into the feed store and hub.audit into the audit store."""

from __future__ import annotations

import asyncio
import signal

import click
import structlog
from prometheus_client import start_http_server

from hub.analyst.store import AnalystProjection
from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.provider.store import ProviderProjection
from hub.sink import GROUP, Sink

log = structlog.get_logger(__name__)


@click.command()
@click.option("--port", type=int, help="metrics port (default HUB_SINK_PORT; 0 = no metrics server)")
@click.option("--group", default=GROUP, show_default=True, help="Kafka consumer group")
@click.pass_obj
def sink(settings: Settings, port: int | None, group: str) -> None:
    """Store feed items (hub.feed.*) and audit events (hub.audit) in the hub database.

    Idempotent and at-least-once: offsets are committed after the database write. The database is
    HUB_DATABASE_URL (SQLite in HUB_DATA_DIR by default, or PostgreSQL).
    """
    port = settings.sink_port if port is None else port
    if port:
        start_http_server(port, addr="127.0.0.1")
        log.info("sink metrics", url=f"http://127.0.0.1:{port}/metrics")
    db = Database(settings.db_url)
    s = Sink(settings, db=db, group=group, projections=[
        ProviderProjection(db),  # provider (SPEC §13): report status, receipts, the agency's change stream
        AnalystProjection(db),  # analyst (SPEC §14): incidents, search index, statistics
    ])

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, s.stop)
        await s.run()

    asyncio.run(main())


commands = [sink]
