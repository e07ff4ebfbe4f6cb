"""``hub topics``: create (idempotently) and list the hub's topics."""

from __future__ import annotations

import asyncio

import click

from hub.directory.agencies import kafka_native_codes
from hub.platform.kafka import topics as topics_mod
from hub.platform.settings import Settings


@click.group()
def topics() -> None:
    """Manage the hub's Kafka topics (never left to broker auto-create)."""


@topics.command("create")
@click.pass_obj
def create(settings: Settings) -> None:
    """Create every hub topic that does not exist yet (safe to run twice)."""
    created = asyncio.run(topics_mod.ensure_topics(settings, agency_codes=kafka_native_codes(settings)))
    total = len(topics_mod.all_topics(settings))
    click.echo(f"{len(created)} topic(s) created, {total - len(created)} already present on {settings.bootstrap}")
    for name in created:
        click.echo(f"  + {name}")


@topics.command("list")
@click.pass_obj
def list_(settings: Settings) -> None:
    """Show the topics the hub expects, with partitions and config."""
    for t in topics_mod.all_topics(settings):
        cfg = ", ".join(f"{k}={v}" for k, v in t.config.items())
        click.echo(f"{t.name:28} partitions={t.partitions} replication={t.replication} {cfg}")


commands = [topics]
