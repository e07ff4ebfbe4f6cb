"""``hub feed STATE``: tail an officer feed in the terminal over the HTTP API.

Pages through ``GET /v1/feeds/{state}/items?after=CURSOR`` and prints one table row per item; the
cursor of the last printed item is saved in HUB_DATA_DIR (``feed-cursor-STATE-<name>``), so the
next run resumes where this one stopped — nothing skipped, nothing printed twice.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

from hub.platform.settings import Settings

COLUMNS = (("CURSOR", 7), ("ROUTED", 20), ("DELIVERY", 10), ("KIND", 8), ("TLP", 12), ("HC", 3),
           ("FROM", 14), ("INCIDENT", 14), ("RISK", 4), ("SUBSTANCES", 24))


def cursor_file(settings: Settings, state: str, token: str) -> Path:
    who = hashlib.sha256(token.encode()).hexdigest()[:10]  # one cursor per officer credential
    return Path(settings.data_dir) / f"feed-cursor-{state}-{who}"


def _cut(text: Any, width: int) -> str:
    s = "" if text is None else str(text).replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def row(view: dict[str, Any]) -> str:
    """One table row for a feed item (pure)."""
    item = view["item"]
    rep = item["report"]
    subs = ", ".join(f"{s['type']} {s['quantity']:g}{s['unit'].lower()}" for s in rep.get("substances") or [])
    if not subs:
        subs = "; ".join(rep.get("risk_indicators") or [])
    ack = " ✓" if view.get("acknowledged") else ""
    values = (view["cursor"], str(item["routed_at"])[:19].replace("T", " "), view["delivery"], rep["kind"],
              rep["tlp"], rep.get("handling_code"), rep.get("agency"), view["incident_id"],
              (item.get("enrichment") or {}).get("risk_score"), subs + ack)
    return " ".join(_cut(v, w).ljust(w) for v, (_, w) in zip(values, COLUMNS, strict=True))


def header() -> str:
    return " ".join(name.ljust(w) for name, w in COLUMNS)


@click.command()
@click.argument("state")
@click.option("--url", envvar="HUB_GATEWAY_URL", help="gateway base URL (default http://HUB_GATEWAY_HOST:PORT)")
@click.option("--token", envvar="HUB_OFFICER_TOKEN", required=True, help="officer token (or HUB_OFFICER_TOKEN)")
@click.option("--follow/--once", default=True, help="keep waiting for new items (default) or stop at the end")
@click.option("--from-start", is_flag=True, help="ignore the saved cursor and print the whole feed")
@click.option("--interval", type=float, default=1.0, show_default=True, help="seconds between polls")
@click.pass_obj
def feed(settings: Settings, state: str, url: str | None, token: str, follow: bool, from_start: bool,
         interval: float) -> None:
    """Tail the routed feed of STATE (resumes where the previous run stopped)."""
    state = state.upper()
    base = (url or f"http://{settings.gateway_host}:{settings.gateway_port}").rstrip("/")
    cfile = cursor_file(settings, state, token)
    after = 0 if from_start or not cfile.exists() else int(cfile.read_text().strip() or 0)
    printed_header = False
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        while True:
            try:
                r = client.get(f"/v1/feeds/{state}/items", params={"after": after, "limit": 200})
            except httpx.HTTPError as exc:
                if not follow:
                    raise click.ClickException(f"url: cannot reach {base}: {exc}") from exc
                click.echo(f"# gateway unreachable ({exc}); retrying", err=True)
                time.sleep(max(interval, 1.0))
                continue
            if r.status_code in (401, 403):
                raise click.ClickException(f"token: {r.json().get('detail', r.text)}")
            if r.status_code != 200:
                raise click.ClickException(f"gateway answered {r.status_code}: {r.text[:200]}")
            page = r.json()
            for view in page["items"]:
                if not printed_header:
                    click.echo(header())
                    printed_header = True
                click.echo(row(view))
                after = view["cursor"]
            if page["items"]:
                cfile.parent.mkdir(parents=True, exist_ok=True)
                cfile.write_text(str(after))
                sys.stdout.flush()
                continue
            if not follow:
                return
            time.sleep(interval)


commands = [feed]
