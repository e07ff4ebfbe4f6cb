"""``hub simulate``: realistic traffic from simulated CARICC agencies (see docs/connectors.md)."""

from __future__ import annotations

import itertools
import signal
import sys
import threading
import time

import click
import orjson

from hub.platform.settings import Settings
from hub.tools.simulator import generate_events, iter_events
from hub.tools.simulator.run import Sender, pace, provision


@click.command()
@click.option("--rate", type=float, help="reports per second (default 5; 0.5 with --demo)")
@click.option("--count", type=int, help="number of reports (default 100 unless --duration or --demo)")
@click.option("--duration", type=float, help="send for this many seconds")
@click.option("--seed", type=int, help="random seed: the same seed gives the same reports (default 1; "
                                        "with --demo the current time)")
@click.option("--url", envvar="HUB_URL", help="gateway base URL (default http://HUB_GATEWAY_HOST:HUB_GATEWAY_PORT)")
@click.option("--demo", is_flag=True, help="provision demo agencies and send a slow realistic stream until stopped")
@click.option("--print", "print_only", is_flag=True,
              help="only print the reports as NDJSON ({agency, note, report}) without sending")
@click.pass_obj
def simulate(settings: Settings, rate: float | None, count: int | None, duration: float | None, seed: int | None,
             url: str | None, demo: bool, print_only: bool) -> None:
    """Send simulated ALERT and SEIZURE reports from member agencies (customs, drug control, border services,
    mobile teams, border liaison offices) through the store-and-forward SDK.

    The simulated agencies are registered in the hub database (HUB_DATABASE_URL) with fresh keys, so run it
    where the gateway's database is reachable. About 3% of the reports are deliberately invalid.
    """
    if seed is None:
        seed = int(time.time()) if demo else 1
    if count is None and duration is None and not demo:
        count = 100
    if print_only:
        for ev in generate_events(seed, count or 100):
            sys.stdout.write(orjson.dumps({"agency": ev.agency, "note": ev.note, "report": ev.body}).decode() + "\n")
        return
    rate = rate or (0.5 if demo else 5.0)
    if rate <= 0:
        raise click.UsageError("--rate: should be greater than 0")
    url = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    keys = provision(settings)
    sender = Sender(settings, url, keys)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = time.monotonic()
    events = iter_events(seed)
    if count is not None:
        events = itertools.islice(events, count)
    click.echo(f"simulating {len(keys)} agencies -> {url} at {rate:g}/s (seed {seed})", err=True)

    def until() -> bool:
        return stop.is_set() or (duration is not None and time.monotonic() - started >= duration)

    try:
        for ev in pace(events, rate, until):
            sender.send(ev)
        if not stop.is_set() and not sender.wait(timeout=60):
            click.echo("the hub did not take every report within 60 s; the rest stays in the outboxes", err=True)
        s = sender.summary()
        click.echo(f"published {s['published']}: accepted {s['accepted']}, duplicates {s['duplicates']}, "
                   f"rejected {s['rejected']} (deliberately bad {s['expected_bad']}), pending {s['pending']}, "
                   f"unexpected outcomes {s['unexpected']}")
    finally:
        sender.close()


commands = [simulate]
