"""``hub audit``: verify the HMAC chain of the audit store, anchor its head, migrate a v1 store,
print a report's trail."""

from __future__ import annotations

import json
import sys

import click

from hub.audit.store import AuditStore, ChainError
from hub.cli.common import exit_on
from hub.platform.db import Database
from hub.platform.settings import Settings


def _store(settings: Settings) -> AuditStore:
    return AuditStore(Database(settings.db_url), settings)


@click.group()
def audit() -> None:
    """The tamper-evident audit store (HUB_DATABASE_URL; SQLite in HUB_DATA_DIR by default), its key
    (HUB_AUDIT_KEY) and its anchor file (HUB_AUDIT_ANCHOR_FILE)."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="print the verdict as JSON")
@click.pass_obj
def verify(settings: Settings, as_json: bool) -> None:
    """Check the whole chain, its head and every anchor; exit 1 naming the first altered, forged,
    deleted, inserted or reordered record, a missing or altered head, a truncated tail, a record that
    differs from an anchor, or a damaged anchor file."""
    store = _store(settings)
    verdict = store.verify()
    if as_json:
        click.echo(json.dumps({"ok": verdict.ok, "records": verdict.records, "bad_seq": verdict.bad_seq,
                               "problem": verdict.problem, "anchors": verdict.anchors, "chain": verdict.chain,
                               "head": store.head(), "anchor_file": str(store.anchor_file)}))
    else:
        click.echo(verdict.describe(), err=not verdict.ok)
    sys.exit(0 if verdict.ok else 1)


@audit.command("anchor")
@click.option("--json", "as_json", is_flag=True, help="print the anchor line (JSON) instead of a sentence")
@click.pass_obj
def anchor(settings: Settings, as_json: bool) -> None:
    """Verify the chain, then append its head (seq, hash, time) to the anchor file. Run it regularly
    (cron, systemd timer) and keep the file where the database's holders cannot rewrite it; the
    printed line may also be shipped elsewhere (syslog, ticket, e-mail). Exit 1 when the chain does
    not verify (a tampered chain is never anchored)."""
    store = _store(settings)
    with exit_on(ChainError):
        a = store.anchor()
    if as_json:
        click.echo(a.as_line(), nl=False)
    else:
        click.echo(f"anchored seq {a.seq} hash {a.hash} at {a.at_iso} in {store.anchor_file} (line {a.line})")


@audit.command("migrate")
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Re-chain a store written before the HMAC chain (v1, unkeyed SHA-256): verify it with the v1 rule
    (refused when broken), re-hash every record with HUB_AUDIT_KEY, and anchor the result with a note
    of the v1 head. Stop the sink first. A current store is left as it is."""
    store = _store(settings)
    with exit_on(ChainError):
        out = store.migrate()
    if not out["migrated"]:
        click.echo(f"nothing to migrate: the store already has the HMAC chain ({out['records']} records)")
        return
    click.echo(f"migrated {out['records']} records to the HMAC chain; v1 head was seq {out['v1_head']['seq']} "
               f"hash {out['v1_head']['hash']}; anchored in {store.anchor_file} (line {out['anchor_line']})")


@audit.command("trail")
@click.argument("report_id")
@click.option("--json", "as_json", is_flag=True, help="print the events as JSON lines")
@click.pass_obj
def trail(settings: Settings, report_id: str, as_json: bool) -> None:
    """Print the whole story of REPORT_ID: received → validated → … → delivered → acknowledged."""
    events = _store(settings).trail(report_id)
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
