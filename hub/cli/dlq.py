"""`hub dlq` — inspect and replay the dead-letter topic (hub.dlq)."""

from __future__ import annotations

import asyncio
import json

import click

from hub.domain.report import AgencyMismatch, ReportInvalid
from hub.platform.settings import Settings


@click.group("dlq")
def dlq() -> None:
    """Dead letters: messages the pipeline could not decode or accept, kept with raw bytes and reason."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line instead of a table.")
@click.option("--limit", type=int, default=0, help="show only the last N (0 = all).")
@click.option("--idle", type=float, default=2.0, show_default=True,
              help="stop reading after this many seconds without new messages.")
@click.pass_obj
def list_(settings: Settings, as_json: bool, limit: int, idle: float) -> None:
    """List dead letters: id, where the message came from, stage and reason."""
    from hub.pipeline.shell.dlq import read_all, summary

    letters = asyncio.run(read_all(settings, idle))
    if limit:
        letters = letters[-limit:]
    for dl in letters:
        s = summary(dl)
        if as_json:
            click.echo(json.dumps(s, ensure_ascii=False))
        else:
            click.echo(f"{s['dead_letter_id']}  {s['source']:24} {s['stage']:9} {s['report_id'] or '-':27} "
                       f"{s['reason']}")
    if not as_json:
        click.echo(f"{len(letters)} dead letter(s)")


@dlq.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="replay every dead letter (raw bytes).")
@click.option("--fixed", type=click.Path(exists=True, dir_okay=False),
              help="JSON report (connector JSON form) to publish instead of the raw bytes of ONE id.")
@click.option("--agency", help="agency the fixed report is published for (required with --fixed).")
@click.option("--state", help="state of that agency (required with --fixed).")
@click.option("--idle", type=float, default=2.0, show_default=True, help="DLQ read idle timeout (seconds).")
@click.pass_obj
def replay(settings: Settings, ids: tuple[str, ...], all_: bool, fixed: str | None, agency: str | None,
           state: str | None, idle: float) -> None:
    """Re-inject dead letters into hub.intake (original key and headers, plus replayed_from). Raw
    bytes that came from a Kafka-native agency's own topic go back to that topic, where their identity
    is checked again.

    Raw replay suits messages that failed for a transient reason; for a report that was wrong, give
    the corrected JSON with --fixed: it is validated exactly like connector input first.
    """
    from hub.pipeline.shell.dlq import load_fixed, read_all, replay_record, replay_topic, send_intake

    if not ids and not all_:
        raise click.UsageError("give dead-letter ids or --all")
    if fixed and len(ids) != 1:
        raise click.UsageError("--fixed replaces exactly one dead letter: give one id")
    letters = {d["dead_letter_id"]: d for d in asyncio.run(read_all(settings, idle))}
    chosen = list(letters.values()) if all_ else []
    for i in ids:
        if i not in letters:
            raise click.ClickException(f"dead letter {i} not found in hub.dlq")
        chosen.append(letters[i])
    body = load_fixed(fixed) if fixed else None
    try:
        records = [replay_record(d, fixed=body, agency=agency, state=state, settings=settings) for d in chosen]
    except ReportInvalid as e:
        raise click.ClickException("fixed report is invalid:\n  " + "\n  ".join(str(x) for x in e.errors)) from e
    except (AgencyMismatch, ValueError) as e:
        raise click.ClickException(str(e)) from e
    topics = [replay_topic(d, fixed=body) for d in chosen]
    asyncio.run(send_intake(settings, records, topics))
    click.echo(f"{len(records)} message(s) re-injected into {', '.join(sorted(set(topics)))}")


commands = [dlq]
