"""SIGKILL each projection in the middle of its batches (issue 20): every read model is its own
`hub sink --projection NAME` process here, each killed once mid-run under load and restarted.

Afterwards: 0 reports lost and 0 duplicate items in the feed store and at a subscriber, the audit
chain complete and `hub audit verify` clean, the analyst index holding every stored feed item once,
the provider's read model every routed version — each projection caught up on its own offsets.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from tests.reliability import load
from tests.reliability.harness import Cluster, wait_until
from tests.reliability.test_crash import HANG, REPORTS, _kill_when, finish_and_check

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]
NAMES = ("feeds", "audit", "analyst", "provider")


def test_each_projection_sigkilled_mid_batch(fresh: Cluster, ledger: Any) -> None:
    """Four projection processes; each SIGKILLed once while load arrives, then restarted"""
    run = f"P{uuid.uuid4().hex[:6]}"
    sinks = {n: fresh.process(f"sink-{n}", "sink", "--port", "0", "--projection", n).start() for n in NAMES}
    half = REPORTS // 2
    load.produce(fresh.settings, half, run)
    t0 = time.monotonic()
    fresh.worker("worker")
    producer = threading.Thread(target=lambda: (time.sleep(2), load.produce(fresh.settings, REPORTS, run, half)))
    producer.start()
    for fraction, name in zip((0.15, 0.35, 0.55, 0.75), NAMES, strict=True):
        _kill_when(fresh, sinks[name], fraction, REPORTS, ledger)
    producer.join()
    finish_and_check(fresh, run, REPORTS, ledger, t0)
    store = load.Store(fresh.settings)

    def count(sql: str) -> int:
        rows = store._q(sql)
        return int(rows[0][0]) if rows else 0

    items = count("SELECT COUNT(*) FROM feed_items")
    wait_until(lambda: count("SELECT COUNT(*) FROM analyst_versions WHERE direction = 'received'") == items, HANG,
               "the analyst index to hold every feed item")
    assert count("SELECT COUNT(*) FROM analyst_versions a JOIN feed_items f ON f.item_id = a.source_id") == items
    wait_until(lambda: count("SELECT COUNT(*) FROM provider_versions WHERE routed_at IS NOT NULL") >= REPORTS, HANG,
               "the provider read model to hold every routed version")
    ledger.record(analyst_items=items, provider_routed=count(
        "SELECT COUNT(*) FROM provider_versions WHERE routed_at IS NOT NULL"),
        provider_changes=count("SELECT COUNT(*) FROM provider_changes"))
    # each projection's own progress row says it is caught up
    for name in NAMES:
        wait_until(lambda name=name: count(  # the feeds row is in the feed file
            "SELECT COUNT(*) FROM (SELECT name, backlog FROM main.projection_progress UNION ALL "
            f"SELECT name, backlog FROM feed.projection_progress) WHERE name = '{name}' AND backlog = 0") == 1, HANG, f"{name} to report no backlog")
