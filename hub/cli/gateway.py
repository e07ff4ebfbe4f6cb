"""``hub gateway``: the HTTP gateway (REST ingest, feeds, audit API, officer page, /metrics)."""

from __future__ import annotations

import dataclasses

import click
import uvicorn

from hub.platform.settings import Settings


@click.command()
@click.option("--host", help="bind address (default HUB_GATEWAY_HOST)")
@click.option("--port", type=int, help="HTTP port (default HUB_GATEWAY_PORT)")
@click.pass_obj
def gateway(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the HTTP gateway until Ctrl-C (API docs at /docs)."""
    from hub.gateway.app import create_app

    if host:
        settings = dataclasses.replace(settings, gateway_host=host)
    if port:
        settings = dataclasses.replace(settings, gateway_port=port)
    app = create_app(settings)
    uvicorn.run(app, host=settings.gateway_host, port=settings.gateway_port, log_level="warning",
                access_log=False)


commands = [gateway]
