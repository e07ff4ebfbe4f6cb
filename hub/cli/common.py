"""What several ``hub`` commands share: turning a store's user-facing error into the command's
answer, and showing a freshly issued secret once."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click


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


def show_token(token: str, whose: str) -> None:
    """A new token on stdout (so it can be captured alone), what it is for on stderr."""
    click.echo(f"# {whose}; keep this token secret (shown once)", err=True)
    click.echo(token)
