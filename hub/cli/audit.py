"""``hub audit``: verify the hash chain of the audit store, print a report's trail."""

from __future__ import annotations

import json
import sys

import click

from hub.auditstore import AuditStore
from hub.db import Database
from hub.settings import Settings


@click.group()
def audit() -> None:
    """The tamper-evident audit store (HUB_DATABASE_URL; SQLite in HUB_DATA_DIR by default)."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="print the verdict as JSON")
@click.pass_obj
def verify(settings: Settings, as_json: bool) -> None:
    """Check the whole hash chain; exit 1 naming the first altered, deleted, inserted or
    reordered record. --json also prints the chain head (seq, hash) to anchor elsewhere."""
    store = AuditStore(Database(settings.db_url))
    verdict = store.verify()
    if as_json:
        click.echo(json.dumps({"ok": verdict.ok, "records": verdict.records, "bad_seq": verdict.bad_seq,
                               "problem": verdict.problem, "head": store.head()}))
    else:
        click.echo(verdict.describe(), err=not verdict.ok)
    sys.exit(0 if verdict.ok else 1)


@audit.command("trail")
@click.argument("report_id")
@click.option("--json", "as_json", is_flag=True, help="print the events as JSON lines")
@click.pass_obj
def trail(settings: Settings, report_id: str, as_json: bool) -> None:
    """Print the whole story of REPORT_ID: received → validated → … → delivered → acknowledged."""
    events = AuditStore(Database(settings.db_url)).trail(report_id)
    if not events:
        click.echo(f"no audit events for report {report_id}", err=True)
        sys.exit(1)
    if as_json:
        for ev in events:
            click.echo(json.dumps(ev, ensure_ascii=False))
        return
    click.echo(f"audit trail of {report_id} ({len(events)} events)")
    for ev in events:
        click.echo(f"{ev['occurred_at_iso']}  #{ev['seq']:<6} {ev['summary']}")


commands = [audit]
