"""Load and ground truth for the fault-injection tests: N reports, what must come out, and checks.

Reports are lean on purpose (no shared identifiers, no parties) so they never correlate: every
report must reach exactly its own recipients as NEW. With TLP AMBER, reporter KZ and route
TJ → KZ → RU, the recipients are TJ, RU and CARICC (SPEC §5: A ∪ R ∪ {CARICC}, never S).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from hub.domain.codec import REPORT, codec
from hub.domain.report import report_id
from hub.platform.db import feed_path
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import INTAKE
from hub.platform.settings import Settings
from tests.conftest import TEST_ID_KEY

AGENCY, STATE = "KZ-CUSTOMS", "KZ"
RECIPIENTS = ("CARICC", "RU", "TJ")
STAGES = ("RECEIVED", "VALIDATED", "ENRICHED", "ROUTED")


def json_report(i: int, run: str) -> dict[str, Any]:
    """Report number ``i`` of a run, in the connectors' JSON form."""
    t = datetime.now(UTC) - timedelta(hours=1, seconds=i)
    return {
        "kind": "SEIZURE", "source_ref": f"{run}-{i:06d}", "version": 1,
        "event_time": t.isoformat().replace("+00:00", "Z"), "tlp": "AMBER",
        "location": {"country": "KZ", "place": "Khorgos"},
        "route": [{"country": "TJ"}, {"country": "KZ"}, {"country": "RU"}],
        "substances": [{"type": "HEROIN", "quantity": 1 + i % 50, "unit": "KG", "concealment": "CARGO"}],
        "narrative": f"load report {i}",
    }


def avro_report(i: int, run: str) -> dict[str, Any]:
    """The same report in its Avro form, as a Kafka-native agency would produce it."""
    body = json_report(i, run)
    now = int(time.time() * 1000)
    return {
        "report_id": report_id(TEST_ID_KEY, AGENCY, body["source_ref"]), "kind": "SEIZURE", "agency": AGENCY,
        "reporter_state": STATE, "source_ref": body["source_ref"], "version": 1,
        "event_time": now - 3_600_000 - i * 1000, "received_at": now, "tlp": "AMBER", "addressees": [],
        "location": {"country": "KZ", "place": "Khorgos", "unlocode": None, "lat": None, "lon": None},
        "route": [{"country": c, "place": None} for c in ("TJ", "KZ", "RU")],
        "conveyance": None, "goods": None, "parties": [],
        "substances": [{"type": "HEROIN", "name": None, "quantity": float(1 + i % 50), "unit": "KG",
                        "concealment": "CARGO", "concealment_detail": None}],
        "risk_indicators": [], "narrative": body["narrative"], "handling_code": "H0", "handling_note": None,
        "evaluation": None, "trace_id": f"{run}-t{i}",
    }


def ids(n: int, run: str) -> set[str]:
    return {report_id(TEST_ID_KEY, AGENCY, f"{run}-{i:06d}") for i in range(n)}


def produce(settings: Settings, n: int, run: str, start: int = 0) -> None:
    """Put reports ``start..n-1`` on hub.intake (acks=all), keyed like the gateway does."""
    async def go() -> None:
        p = producer(settings)
        await p.start()
        try:
            c = codec()
            futures = []
            for i in range(start, n):
                r = avro_report(i, run)
                futures.append(await p.send(INTAKE, c.encode(REPORT, r), key=f"{AGENCY}:{r['source_ref']}".encode(),
                                            headers=[("trace_id", r["trace_id"].encode())]))
                if len(futures) >= 2000:
                    await asyncio.gather(*futures)
                    futures.clear()
            await asyncio.gather(*futures)
        finally:
            await p.stop()

    asyncio.run(go())


class Store:
    """Read-only view of the hub database the sink writes (SQLite)."""

    def __init__(self, settings: Settings) -> None:
        self.path = Path(settings.db_url.removeprefix("sqlite:///"))

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:  # the feed store's own file, read-only: feed_items are found by their plain name
            con.execute("ATTACH DATABASE ? AS feed", (f"file:{feed_path(str(self.path))}?mode=ro",))
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []  # tables not created yet
        finally:
            con.close()

    def routed(self) -> int:
        rows = self._q("SELECT COUNT(DISTINCT report_id) FROM audit_log WHERE stage = 'ROUTED'")
        return int(rows[0][0]) if rows else 0

    def items(self) -> int:
        rows = self._q("SELECT COUNT(*) FROM feed_items")
        return int(rows[0][0]) if rows else 0

    def item_rows(self) -> list[tuple[str, str, str, int]]:
        return [(r, rid, d, v) for r, rid, d, v in
                self._q("SELECT recipient, report_id, delivery, version FROM feed_items")]

    def stages(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for rid, stage in self._q("SELECT report_id, stage FROM audit_log WHERE report_id IS NOT NULL"):
            out.setdefault(rid, set()).add(stage)
        return out

    def stage_counts(self) -> dict[str, int]:
        return {s: int(n) for s, n in self._q("SELECT stage, COUNT(*) FROM audit_log GROUP BY stage")}


def wait_for_progress(store: Store, n: int, *, hang: float, stall: float = 45.0,
                      check: Callable[[], None] | None = None) -> bool:
    """Wait until ``n`` reports are routed and their items stored. Returns False (and lets the
    checks name what is missing) when nothing moved for ``stall`` seconds; ``hang`` bounds it all."""
    target = n * len(RECIPIENTS)
    deadline = time.monotonic() + hang
    last, last_change = (-1, -1), time.monotonic()
    while time.monotonic() < deadline:
        if check is not None:
            check()
        now = (store.routed(), store.items())
        if now[0] >= n and now[1] >= target:
            return True
        if now != last:
            last, last_change = now, time.monotonic()
        elif time.monotonic() - last_change > stall:
            return False
        time.sleep(0.5)
    return False


@dataclass
class Verdict:
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check_store(store: Store, expected: set[str]) -> Verdict:
    """0 lost, 0 duplicated, NEW once per recipient, complete audit trails."""
    v = Verdict()
    rows = store.item_rows()
    per = Counter((rec, rid) for rec, rid, _d, _v in rows)
    got = {rid for _r, rid, _d, _v in rows}
    lost = expected - got
    extra = got - expected
    dups = {k: n for k, n in per.items() if n > 1}
    missing_recipient = [(rec, rid) for rid in expected for rec in RECIPIENTS if (rec, rid) not in per]
    wrong_recipient = [(rec, rid) for (rec, rid) in per if rec not in RECIPIENTS]
    not_new = [(rec, rid, d) for rec, rid, d, _v in rows if d != "NEW"]
    stages = store.stages()
    incomplete = {rid: sorted(set(STAGES) - stages.get(rid, set())) for rid in expected
                  if not set(STAGES) <= stages.get(rid, set())}
    v.figures = {"reports": len(expected), "feed_items": len(rows), "lost_reports": len(lost),
                 "missing_items": len(missing_recipient), "duplicate_items": sum(n - 1 for n in dups.values()),
                 "incomplete_audit_trails": len(incomplete), "audit_events": store.stage_counts()}
    if lost:
        v.problems.append(f"{len(lost)} reports lost, e.g. {sorted(lost)[:3]}")
    if extra:
        v.problems.append(f"{len(extra)} unexpected reports in the feeds")
    if missing_recipient:
        v.problems.append(f"{len(missing_recipient)} (recipient, report) items missing, e.g. {missing_recipient[:3]}")
    if wrong_recipient:
        v.problems.append(f"items for unexpected recipients: {wrong_recipient[:3]}")
    if dups:
        v.problems.append(f"{len(dups)} duplicated items in the feed store")
    if not_new:
        v.problems.append(f"{len(not_new)} items not delivered as NEW, e.g. {not_new[:3]}")
    if incomplete:
        first = sorted(incomplete.items())[:3]
        v.problems.append(f"{len(incomplete)} incomplete audit trails, e.g. {first}")
    return v


def read_feed(url: str, state: str, token: str, page: int = 1000) -> list[dict[str, Any]]:
    """What a subscriber sees: every JSON page of the feed, following the cursor."""
    out: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while True:
            r = client.get(f"/v1/feeds/{state}/items", params={"after": after, "limit": page})
            r.raise_for_status()
            body = r.json()
            out.extend(body["items"])
            if not body["items"]:
                return out
            after = body["next_after"]


def check_subscriber(items: list[dict[str, Any]], expected: set[str]) -> Verdict:
    v = Verdict()
    ids_seen = Counter(i["item_id"] for i in items)
    reports = Counter(i["report_id"] for i in items)
    cursors = [i["cursor"] for i in items]
    v.figures = {"subscriber_items": len(items), "subscriber_repeats": sum(n - 1 for n in ids_seen.values()),
                 "subscriber_missing": len(expected - set(reports))}
    if any(n > 1 for n in ids_seen.values()):
        v.problems.append("the subscriber saw an item twice")
    if set(reports) != expected:
        v.problems.append(f"the subscriber saw {len(set(reports))} reports, expected {len(expected)}")
    if cursors != sorted(cursors) or len(set(cursors)) != len(cursors):
        v.problems.append("cursors are not strictly increasing")
    return v
