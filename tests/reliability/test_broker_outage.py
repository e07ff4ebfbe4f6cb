"""Broker outage: the broker goes down while agencies keep publishing through the SDK.

The SDK outbox holds the reports, the gateway answers 503 with Retry-After (never 500), and when
the broker is back everything arrives once (0 reports lost, 0 duplicate items).

* Apache Kafka: the broker is SIGKILLed in the middle of the flow (reports published, partly
  routed) and restarted on its own log directory: nothing acknowledged may be lost.
* Embedded broker: memory only, so it comes back empty and the hub must recreate its topics by
  itself. Messages not yet consumed when it stopped are gone with its memory (SPEC §12): the test
  therefore stops it only after the first wave is routed and stored.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import httpx
import pytest

from hub.domain.report import report_id
from hub.platform.kafka.embedded import free_port
from tests.conftest import TEST_ID_KEY, AnyBroker, restart_broker
from tests.reliability import load
from tests.reliability.harness import Cluster, Tokens, wait_until
from tests.reliability.test_crash import HANG, finish_and_check

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]
REPORTS = int(os.environ.get("HUB_RELIABILITY_OUTAGE_REPORTS", "600"))
OUTAGE_S = float(os.environ.get("HUB_RELIABILITY_OUTAGE_SECONDS", "8"))


class ProcessDied(AssertionError):
    """A hub process exited by itself after the broker came back."""


class AgentCrashed(AssertionError):
    """A worker's faust agent crashed (and stayed down) after the broker came back."""


AGENT_CRASH_BUG = ("hub worker on Kafka: right after the broker restarts (its logs still in recovery) faust's "
                   "sequence_agent (process_agent before the one consume hop) can crash with PartitionsMismatch ('changelog topic hub-pipeline-reports-"
                   "changelog has 0 partitions') and is not restarted; the worker stays up and routes nothing "
                   "(intermittent)")
SINK_COMMIT_BUG = ("open: hub/sink.py exits on aiokafka CommitFailedError after the Kafka broker restart (its group "
                   "was rebalanced while the broker was down; the commit of the batch in hand fails): the sink "
                   "should treat it as a rebalance (records are redelivered, the store is idempotent) and go on")


def test_broker_outage_with_sdk_publishing(fresh: Cluster, ledger: Any, tmp_path: Any) -> None:
    """Broker down while the SDK publishes: outbox holds, 503 + Retry-After, all arrive once after"""
    from connectors.sdk import Publisher, RestTransport


    run = f"B{uuid.uuid4().hex[:6]}"
    broker: AnyBroker = fresh.broker  # type: ignore[attr-defined]
    kafka = fresh.kind == "kafka"  # type: ignore[attr-defined]
    key = Tokens(fresh.settings).agency("agency", load.AGENCY, load.STATE)
    fresh.sink()
    fresh.worker("worker")
    _, url = fresh.gateway("gateway", port=free_port())
    store = load.Store(fresh.settings)
    t0 = time.monotonic()
    third = REPORTS // 3
    pub = Publisher(tmp_path / "outbox.db", RestTransport(url, key, timeout=15), batch_size=100, max_backoff=2.0)
    try:
        pub.start(poll=0.2)
        pub.publish_many(load.json_report(i, run) for i in range(third))
        if kafka:  # wave 1 in flight: published, partly routed -- then the broker crashes
            wait_until(lambda: store.routed() >= third // 4, HANG, "a quarter of wave 1 routed")
            ledger.record(routed_before_kill=store.routed(), outbox_pending_at_kill=pub.pending())
            broker.kill()  # type: ignore[union-attr]
            ledger.add("broker_sigkills")
        else:  # wave 1 routed and stored before the outage (memory only: see the module doc)
            wait_until(lambda: store.routed() >= third and store.items() >= third * len(load.RECIPIENTS), HANG,
                       "wave 1 routed and stored")
            broker.stop()
            ledger.add("broker_stops")
        down_at = time.monotonic()
        pub.publish_many(load.json_report(i, run) for i in range(third, 2 * third))
        answers = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            while time.monotonic() - down_at < OUTAGE_S:
                r = client.post("/v1/reports", json=load.json_report(10_000_000 + len(answers), run + "x"))
                answers.append((r.status_code, r.headers.get("retry-after"), r.text[:200]))
                time.sleep(0.5)
        held = pub.pending()
        ledger.record(outage_seconds=round(time.monotonic() - down_at, 1), outbox_held_during_outage=held,
                      direct_posts_during_outage=len(answers),
                      direct_answers={str(s): sum(1 for a in answers if a[0] == s) for s in {a[0] for a in answers}})
        # back: Kafka with its log; the embedded one empty -- nobody recreates topics but the hub itself
        fresh.broker = restart_broker(broker)  # type: ignore[attr-defined]
        pub.publish_many(load.json_report(i, run) for i in range(2 * third, REPORTS))
        wait_until(lambda: pub.pending() == 0, HANG, "the SDK outbox to drain after the outage")
        counts = pub.counts()
    finally:
        pub.close()
    ledger.record(outbox=counts)
    time.sleep(5)
    dead = {p.name: p.log()[-1500:] for p in fresh.procs if not p.alive()}
    ledger.record(processes_dead_after_outage=sorted(dead))
    for name in dead:
        known = SINK_COMMIT_BUG if name == "sink" and "CommitFailedError" in dead[name] else "see its log"
        ledger.finding(f"{name} exited after the {fresh.kind} broker came back ({known}); "  # type: ignore[attr-defined]
                       "restarted by the test as `hub up` and compose's restart policy would")
        next(p for p in fresh.procs if p.name == name).start()
    assert held > 0, "the outbox should hold reports while the broker is down"
    assert answers and all(s == 503 for s, _, _ in answers), f"answers during the outage: {answers[:5]}"
    assert all(ra and ra.isdigit() for _, ra, _ in answers), "503 without Retry-After"
    assert counts["rejected"] == 0 and counts["sent"] == REPORTS, counts
    # a direct POST answered 503 during the outage may still be delivered once the broker is back
    # (the gateway's producer keeps the record it timed out on): found on Kafka, recorded, tolerated
    direct = frozenset(report_id(TEST_ID_KEY, load.AGENCY, f"{run}x-{10_000_000 + i:06d}") for i in range(len(answers)))
    try:
        finish_and_check(fresh, run, REPORTS, ledger, t0, tolerate=direct)  # 0 lost, 0 duplicates, audit clean
    except AssertionError as exc:
        crashed = [p.name for p in fresh.procs if "Crashed reason=PartitionsMismatch" in p.log()]
        if crashed:  # the known agent crash, not a loss of the hub's own making
            ledger.finding(f"{', '.join(crashed)}: {AGENT_CRASH_BUG}")
            raise AgentCrashed(f"{AGENT_CRASH_BUG}: {exc}") from exc
        raise
    phantoms = ledger.figures.get("tolerated_reports_arrived", 0)
    if phantoms:
        ledger.finding(f"gateway: {phantoms} of {len(answers)} reports answered 503 ('nothing was accepted') during "
                       "the outage were delivered after the broker came back (hub/ingest/http.py: the timed-out "
                       "send stays in the producer's buffer); an agency that retries gets duplicate=true, one that "
                       "does not was told wrongly")
    if dead and not kafka:  # on Kafka: the sink's known exit (intermittent), recorded above
        raise ProcessDied("processes died after the broker came back:\n" + "\n".join(
            f"--- {n}:\n{log}" for n, log in dead.items()))
