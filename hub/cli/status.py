"""``hub status REPORT_ID``: what the hub did with one of your agency's reports (SPEC §13).

Asks the gateway with the agency key (or a desk user's token): per version every stage outcome with
its reason, the recipients with delivery kind, when each first received it, when it was
acknowledged and by whom, and the time to acknowledge. ``--source-ref`` finds a report by your own
reference (Kafka-native agencies do not learn the hub's keyed id when they send); ``--changes``
prints the agency's stream of status changes instead (resumable with ``--after``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from connectors.sdk import TransportDown, TransportRefused
from connectors.status import StatusClient, StatusNotFound
from hub.platform.settings import Settings


def _line(cells: list[tuple[Any, int]]) -> str:
    return " ".join(("" if v is None else str(v))[:w].ljust(w) for v, w in cells).rstrip()


def render(status: dict[str, Any]) -> str:
    """The status of one report as text (pure)."""
    out = [f"report {status['report_id']}  agency {status['agency']} ({status.get('state') or '?'})  "
           f"source_ref {status.get('source_ref') or '?'}  status {status['status']}"]
    for v in status["versions"]:
        out.append("")
        out.append(f"version {v['version']}  {v['status']}  {v.get('kind') or ''}  "
                   f"incident {v.get('incident_id') or '-'}")
        for s in v["stages"]:
            extra = s.get("reason") or ""
            if s.get("recipients"):
                extra = "to " + ", ".join(s["recipients"])
            if s.get("request_id"):
                extra = f"{extra} request {s['request_id']}".strip()
            out.append("  " + _line([(s["at"], 24), (s["stage"], 18), (s.get("actor") or "", 26), (extra, 80)]))
        if v["recipients"]:
            out.append("  " + _line([("RECIPIENT", 9), ("DELIVERY", 10), ("DELIVERED AT", 24), ("ACKNOWLEDGED AT", 24),
                                     ("BY", 24), ("TIME TO ACK", 11)]))
            for r in v["recipients"]:
                tta = "" if r.get("time_to_acknowledge_s") is None else f"{r['time_to_acknowledge_s']:g} s"
                out.append("  " + _line([(r["recipient"], 9), (r.get("delivery") or "?", 10),
                                         (r.get("delivered_at") or "-", 24), (r.get("acknowledged_at") or "-", 24),
                                         (r.get("acknowledged_by") or "", 24), (tta, 11)]))
    for s in status.get("unversioned") or []:
        out.append(f"  (no version) {s['at']} {s['stage']} {s.get('reason') or ''}".rstrip())
    for q in status.get("requests") or []:
        ans = q.get("answer")
        out.append(f"  request {q['request_id']} {q['kind']} from {q['requested_by']} ({q['requester_state']}): "
                   f"{q['status']}" + (f" by {ans['by']}" if ans else ""))
    return "\n".join(out)


def render_change(c: dict[str, Any]) -> str:
    what = c.get("stage") or c.get("recipient") or c.get("request_id") or ""
    more = c.get("reason") or c.get("by") or c.get("decision") or ""
    return _line([(c["cursor"], 7), (c.get("at"), 24), (c["type"], 12), (c.get("report_id"), 28),
                  (f"v{c['version']}" if c.get("version") else "", 4), (what, 20), (more, 60)])


@click.command()
@click.argument("report_id", required=False)
@click.option("--source-ref", help="find the report by your own reference instead of its id")
@click.option("--version", type=int, help="with --source-ref: only this version")
@click.option("--changes", is_flag=True, help="print the agency's status changes (receipts) instead")
@click.option("--after", type=int, default=0, show_default=True, help="with --changes: start after this cursor")
@click.option("--follow", is_flag=True, help="with --changes: keep waiting for new ones")
@click.option("--url", envvar="HUB_URL", default=None, help="gateway base URL (or HUB_URL; default "
              "http://HUB_GATEWAY_HOST:HUB_GATEWAY_PORT)")
@click.option("--key", envvar="HUB_AGENCY_KEY", help="agency key or desk token (or HUB_AGENCY_KEY)")
@click.option("--json", "as_json", is_flag=True, help="print the raw JSON")
@click.pass_obj
def status(settings: Settings, report_id: str | None, source_ref: str | None, version: int | None, changes: bool,
           after: int, follow: bool, url: str | None, key: str | None, as_json: bool) -> None:
    """Show what the hub did with REPORT_ID (or --source-ref), or the agency's --changes.

    Exit code 0: shown; 1: no such report of your agency (or the hub has not seen it yet);
    75: the gateway is unreachable.
    """
    if not key:
        raise click.UsageError("key: an agency key or desk token is required (--key or HUB_AGENCY_KEY)")
    if not changes and not (report_id or source_ref):
        raise click.UsageError("REPORT_ID or --source-ref is required (or --changes)")
    base = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    client = StatusClient(base, key)
    try:
        if changes:
            while True:
                page = client.receipts(after, 200)
                for c in page["changes"]:
                    click.echo(json.dumps(c, ensure_ascii=False) if as_json else render_change(c))
                after = page["next_after"]
                if not follow:
                    return
                if not page["changes"]:
                    time.sleep(1.0)
        st = client.status(report_id) if report_id else client.lookup(source_ref or "", version)
        click.echo(json.dumps(st, ensure_ascii=False, indent=2) if as_json else render(st))
    except StatusNotFound as exc:
        click.echo(f"not found: {exc}", err=True)
        raise SystemExit(1) from exc
    except TransportRefused as exc:
        raise click.ClickException(f"key: {exc}") from exc
    except TransportDown as exc:
        click.echo(f"url: {exc}", err=True)
        raise SystemExit(75) from exc
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()


commands = [status]
