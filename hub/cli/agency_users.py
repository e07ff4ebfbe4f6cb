"""``hub agency user add|token|revoke|list``: desk users, each with a credential bound to one agency."""

from __future__ import annotations

import click

from hub.cli.common import show_token, token_command, usage_errors
from hub.directory.desk_users import DeskUsers, UserError
from hub.platform.db import Database
from hub.platform.settings import Settings


def _users(settings: Settings) -> DeskUsers:
    return DeskUsers(Database(settings.db_url), settings.states)


@click.group("user")
def user() -> None:
    """Desk users of an agency (the /desk page): one person, one credential bound to one agency.

    A desk user's token files reports, reads the agency's status and receipts and answers its
    requests — exactly what the agency's key may do — and the audit trail names the person.
    Tokens are printed once and stored hashed.
    """


@user.command("add")
@click.argument("name")
@click.option("--agency", required=True, help="the agency code, e.g. UZ-CUSTOMS")
@click.pass_obj
def add(settings: Settings, name: str, agency: str) -> None:
    """Register desk user NAME of AGENCY and print a first token."""
    with usage_errors(UserError):
        token = _users(settings).add(name, agency)
    show_token(token, f"desk user {name.lower()} of {agency.upper()}")


token_command(user, _users, UserError, "Issue another token for desk user NAME (e.g. a second browser).")


@user.command("revoke")
@click.argument("name")
@click.pass_obj
def revoke(settings: Settings, name: str) -> None:
    """Revoke every token of desk user NAME (they can no longer sign in)."""
    with usage_errors(UserError):
        n = _users(settings).revoke(name)
    click.echo(f"{n} token(s) of desk user {name.lower()} revoked")


@user.command("list")
@click.option("--agency", help="only this agency's desk users")
@click.pass_obj
def list_(settings: Settings, agency: str | None) -> None:
    """List desk users with their agency and number of active tokens."""
    users = _users(settings).list(agency)
    if not users:
        click.echo("no desk users (hub agency user add NAME --agency CODE)")
    for u in users:
        click.echo(f"{u.name:24} {u.agency:24} {'active' if u.active else 'revoked':8} tokens={u.active_tokens}")
