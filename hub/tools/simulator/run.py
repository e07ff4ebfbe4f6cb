"""Sending simulated traffic: provision the simulated agencies and publish through the SDK (the shell)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog

from connectors.sdk import Publisher, RestTransport
from hub.directory.agencies import Directory
from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.tools.simulator.generator import SimEvent
from hub.tools.simulator.world import AGENCIES

log = structlog.get_logger(__name__)


def provision(settings: Settings) -> dict[str, str]:
    """Register the simulated agencies in the hub directory and issue fresh keys (earlier simulator keys
    of those agencies are revoked). Returns agency code -> key."""
    d = Directory(Database(settings.db_url), settings.states)
    keys = {}
    for a in AGENCIES:
        d.add(a.code, a.state, a.name)
        keys[a.code] = d.issue_key(a.code, revoke_old=True)
    return keys


class Sender:
    """One store-and-forward publisher per simulated agency, sending in background threads."""

    def __init__(self, settings: Settings, url: str, keys: dict[str, str], outbox_dir: Path | None = None) -> None:
        self.dir = outbox_dir or Path(settings.data_dir) / "simulator"
        self.publishers = {code: Publisher(self.dir / f"{code}.db", RestTransport(url, key), max_backoff=5.0)
                           for code, key in keys.items()}
        for p in self.publishers.values():
            p.start(poll=0.2)
        self.published: list[tuple[str, str, SimEvent]] = []

    def send(self, ev: SimEvent) -> None:
        key = self.publishers[ev.agency].publish(ev.body)
        self.published.append((ev.agency, key, ev))

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while any(p.pending() for p in self.publishers.values()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def summary(self) -> dict[str, int]:
        out = {"published": len(self.published), "accepted": 0, "duplicates": 0, "rejected": 0, "pending": 0,
               "expected_bad": sum(1 for _, _, e in self.published if not e.expect_valid), "unexpected": 0}
        by_agency: dict[str, list[tuple[str, SimEvent]]] = {}
        for code, k, e in self.published:
            by_agency.setdefault(code, []).append((k, e))
        for code, items in by_agency.items():
            res = self.publishers[code].results(k for k, _ in items)
            for k, e in items:
                st = res.get(k, {}).get("status", "pending")
                if st == "sent":
                    out["duplicates" if res[k]["duplicate"] else "accepted"] += 1
                elif st == "rejected":
                    out["rejected"] += 1
                else:
                    out["pending"] += 1
                if st != "pending" and (st == "sent") != e.expect_valid:
                    out["unexpected"] += 1
        return out

    def close(self) -> None:
        for p in self.publishers.values():
            p.close()


def pace(events: Iterator[SimEvent], rate: float, until: Callable[[], bool]) -> Iterator[SimEvent]:
    """Events at ``rate`` per second until ``until()`` is true or the events run out."""
    start = time.monotonic()
    for i in itertools.count():
        delay = start + i / rate - time.monotonic()
        while delay > 0 and not until():
            time.sleep(min(delay, 0.2))
            delay = start + i / rate - time.monotonic()
        if until():
            return
        ev = next(events, None)
        if ev is None:
            return
        yield ev
