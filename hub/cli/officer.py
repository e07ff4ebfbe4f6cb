"""``hub officer``: liaison officers and auditors, and their tokens."""

from __future__ import annotations

import click

from hub.cli.common import show_token, token_command, usage_errors
from hub.directory.officers import OfficerError, Officers
from hub.platform.db import Database
from hub.platform.settings import Settings


def _officers(settings: Settings) -> Officers:
    return Officers(Database(settings.db_url), settings)


@click.group()
def officer() -> None:
    """Liaison officers (bound to one state or the centre) and auditors.

    Tokens are printed once and stored hashed in the hub database (HUB_DATABASE_URL).
    """


@officer.command("add")
@click.argument("name")
@click.option("--state", help="the officer's state (ISO code) or CARICC")
@click.option("--auditor", is_flag=True, help="an auditor (reads the audit trail; no state)")
@click.pass_obj
def add(settings: Settings, name: str, state: str | None, auditor: bool) -> None:
    """Register NAME and print a first token."""
    with usage_errors(OfficerError):
        token = _officers(settings).add(name, state, auditor)
    who = "auditor" if auditor else f"officer for {state.upper() if state else ''}"
    show_token(token, f"{who} {name}")


token_command(officer, _officers, OfficerError,
              "Issue an additional token for NAME (earlier tokens stay valid until revoked).")


@officer.command("revoke")
@click.argument("name")
@click.option("--disable", is_flag=True, help="also refuse new tokens for NAME")
@click.pass_obj
def revoke(settings: Settings, name: str, disable: bool) -> None:
    """Revoke every token of NAME."""
    with usage_errors(OfficerError):
        n = _officers(settings).revoke(name, disable)
    click.echo(f"{n} token(s) of {name} revoked" + ("; disabled" if disable else ""))


@officer.command("list")
@click.pass_obj
def list_(settings: Settings) -> None:
    """List officers and auditors."""
    rows = _officers(settings).list()
    click.echo(f"{'NAME':24} {'KIND':8} {'STATE':7} STATUS")
    for r in rows:
        click.echo(f"{r['name']:24} {r['kind']:8} {r['state'] or '-':7} "
                   f"{'disabled' if r['disabled_at'] else 'active'}")


commands = [officer]
