"""``hub agency add|list|key|revoke|user``: the agency directory, its keys (stored hashed) and desk users."""

from __future__ import annotations

import asyncio

import click

from hub.cli.common import usage_errors
from hub.directory.agencies import AgencyError, Directory, kafka_native_codes
from hub.platform.db import Database
from hub.platform.settings import Settings


def _directory(settings: Settings) -> Directory:
    return Directory(Database(settings.db_url), settings.states)


@click.group()
def agency() -> None:
    """Manage the agencies allowed to publish reports, and their keys."""


@agency.command("add")
@click.argument("code")
@click.option("--state", required=True, help="ISO 3166-1 alpha-2 state of the agency (a member or partner)")
@click.option("--name", required=True, help="human-readable name, e.g. 'State Revenue Committee (Customs)'")
@click.option("--key/--no-key", "with_key", default=False, help="also issue a first key and show it once")
@click.option("--kafka-native", is_flag=True,
              help="the agency produces Avro to its own topic hub.intake.agency.CODE (created now); "
                   "restart the workers so they read it")
@click.pass_obj
def add(settings: Settings, code: str, state: str, name: str, with_key: bool, kafka_native: bool) -> None:
    """Register agency CODE (e.g. KZ-CUSTOMS) in STATE."""
    d = _directory(settings)
    with usage_errors(AgencyError):
        a = d.add(code, state, name, kafka_native=kafka_native)
    click.echo(f"agency {a.code} ({a.state}) {a.name}" + (" [kafka-native]" if a.kafka_native else ""))
    if kafka_native:
        from hub.platform.kafka.topics import agency_intake, ensure_topics

        try:
            asyncio.run(ensure_topics(settings, agency_codes=kafka_native_codes(settings)))
            click.echo(f"intake topic {agency_intake(a.code)} ready; restart the workers so they read it")
        except Exception as exc:  # the broker may be down: the next `hub topics create` / worker start makes it
            click.echo(f"intake topic {agency_intake(a.code)} not created now ({exc!r}); `hub topics create` "
                       "or the next worker start creates it", err=True)
    if with_key:
        click.echo(f"key (shown once, store it safely): {d.issue_key(a.code)}")


@agency.command("list")
@click.pass_obj
def list_(settings: Settings) -> None:
    """List registered agencies with their number of active keys."""
    agencies = _directory(settings).list()
    if not agencies:
        click.echo("no agencies registered (hub agency add CODE --state XX --name ...)")
    for a in agencies:
        flags = (" kafka-native" if a.kafka_native else "") + (" REVOKED" if a.revoked else "")
        click.echo(f"{a.code:24} {a.state:3} keys={a.active_keys}{flags}  {a.name}")


@agency.command("key")
@click.argument("code")
@click.option("--revoke", "revoke_old", is_flag=True, help="revoke the agency's existing keys first (rotation)")
@click.pass_obj
def key(settings: Settings, code: str, revoke_old: bool) -> None:
    """Issue a new key for agency CODE. The key is shown once; only its hash is stored."""
    with usage_errors(AgencyError):
        token = _directory(settings).issue_key(code, revoke_old=revoke_old)
    if revoke_old:
        click.echo(f"earlier keys of {code.upper()} revoked", err=True)
    click.echo(token)


@agency.command("revoke")
@click.argument("code")
@click.pass_obj
def revoke(settings: Settings, code: str) -> None:
    """Revoke every key of agency CODE and the agency itself: it can no longer publish (REST or
    Kafka-native; workers apply it within HUB_DIRECTORY_REFRESH_MS) until a new key is issued."""
    with usage_errors(AgencyError):
        n = _directory(settings).revoke(code)
    click.echo(f"{n} key(s) of {code.upper()} revoked")


from hub.cli.agency_users import user  # noqa: E402  (provider: desk users, SPEC §13)

agency.add_command(user)
commands = [agency]
