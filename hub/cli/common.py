"""What several ``hub`` commands share: turning a store's user-facing error into the command's
answer, and showing a freshly issued secret once."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from hub.platform.settings import Settings


@contextmanager
def usage_errors(*errors: type[Exception]) -> Iterator[None]:
    """One of ``errors`` (a store's problem that names the field, e.g. ``AgencyError``) becomes a
    usage error: the message on stderr, exit status 2."""
    try:
        yield
    except errors as exc:
        raise click.UsageError(str(exc)) from exc


@contextmanager
def exit_on(*errors: type[Exception]) -> Iterator[None]:
    """One of ``errors`` (e.g. a chain that does not verify) prints its message on stderr and exits 1."""
    try:
        yield
    except errors as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def token_command(group: click.Group, store: Callable[[Settings], Any], error: type[Exception], doc: str) -> None:
    """Add ``token NAME`` to ``group``: print another token for NAME from ``store(settings).token(name)``."""

    @group.command("token", help=doc)
    @click.argument("name")
    @click.pass_obj
    def token(settings: Settings, name: str) -> None:
        with usage_errors(error):
            click.echo(store(settings).token(name))


def show_token(token: str, whose: str) -> None:
    """A new token on stdout (so it can be captured alone), what it is for on stderr."""
    click.echo(f"# {whose}; keep this token secret (shown once)", err=True)
    click.echo(token)
