"""Worker crash: SIGKILL a worker, the gateway or the audit sink in the middle of a run.

N reports (HUB_RELIABILITY_REPORTS; the soak is the same tests with 100000) are published; one
process is killed with SIGKILL mid-run and restarted. Afterwards: 0 reports lost, 0 duplicate
items seen by a feed subscriber, every report's audit trail complete (RECEIVED, VALIDATED,
ENRICHED, ROUTED), `hub audit verify` clean. Also with two workers sharing the partitions
(rebalance during load).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from hub.platform.kafka.embedded import free_port
from tests.reliability import load
from tests.reliability.harness import Cluster, Tokens, run_hub, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]
REPORTS = int(os.environ.get("HUB_RELIABILITY_REPORTS", "1000"))
HANG = 300 + REPORTS / 10  # upper bound on any wait: only to fail instead of hanging


def finish_and_check(cl: Cluster, run: str, n: int, ledger: Any, t0: float,
                     tolerate: frozenset[str] = frozenset(), hang: float = HANG) -> None:
    """Wait for every report to be routed and stored, then check store, subscriber and audit chain.

    ``tolerate``: report ids that may or may not arrive (each must then arrive exactly like the rest)."""
    store = load.Store(cl.settings)
    done = load.wait_for_progress(store, n, hang=hang, check=lambda: alive_or_fail(cl))
    elapsed = time.monotonic() - t0
    ledger.record(completed=done)
    time.sleep(3)  # redeliveries still in flight would land now; the checks below must absorb them
    expected = load.ids(n, run)
    arrived = tolerate & {rid for _r, rid, _d, _v in store.item_rows()}
    if arrived:
        ledger.record(tolerated_reports_arrived=len(arrived))
    expected |= arrived
    v = load.check_store(store, expected)
    _, url = cl.gateway("reader-gateway")
    token = Tokens(cl.settings).officer("caricc", f"analyst-{run}", "CARICC")
    seen = load.read_feed(url, "CARICC", token)
    sv = load.check_subscriber(seen, expected)
    verify = run_hub(cl.settings, "audit", "verify")
    ledger.record(**v.figures, **sv.figures, seconds_to_route_all=round(elapsed, 1),
                  reports_per_second=round(n / elapsed, 1), audit_verify_exit=verify.returncode,
                  restarts=sum(max(0, p.starts - 1) for p in cl.procs))
    problems = v.problems + sv.problems
    if verify.returncode != 0:
        problems.append(f"hub audit verify: exit {verify.returncode}: {verify.stdout[-500:]} {verify.stderr[-500:]}")
    assert not problems, "\n".join(problems)


def alive_or_fail(cl: Cluster) -> None:
    """Fail now, with its log, if a hub process exited on its own (nobody restarts it)."""
    for p in cl.procs:
        if p.proc is not None and not p.alive() and p.proc.returncode not in (-9, None):
            raise AssertionError(f"{p.name} exited by itself with {p.proc.returncode}:\n{p.log()[-2500:]}")


def _kill_when(cl: Cluster, victim: Any, fraction: float, n: int, ledger: Any, restart_after: float = 0.0,
               before_kill: Callable[[], None] | None = None, hang: float = HANG) -> None:
    store = load.Store(cl.settings)

    last = {"routed": -1, "since": time.monotonic()}

    def reached() -> bool:
        alive_or_fail(cl)
        routed = store.routed()
        if routed != last["routed"]:
            last.update(routed=routed, since=time.monotonic())
        elif time.monotonic() - last["since"] > 60:
            tails = "\n".join(f"--- {p.name} (pid {p.proc.pid if p.proc else '?'}):\n{p.log()[-1500:]}" for p in cl.procs)
            raise AssertionError(f"routing stalled at {routed} of {n} reports for 60 s "
                                 f"(waiting to kill {victim.name} at {fraction:.0%})\n{tails}")
        return routed >= int(n * fraction)

    wait_until(reached, hang, f"{fraction:.0%} of the reports routed")
    at = store.routed()
    if before_kill is not None:
        before_kill()
    victim.kill(signal.SIGKILL)
    ledger.add("sigkills")
    ledger.figures.setdefault("kills", []).append(f"{victim.name}@{at}")
    if restart_after:
        time.sleep(restart_after)
    victim.start()


def test_worker_sigkill_mid_run(fresh: Cluster, ledger: Any) -> None:
    """SIGKILL the worker three times mid-run, restarting it: nothing lost, nothing repeated, audit complete"""
    run = f"W{uuid.uuid4().hex[:6]}"
    fresh.sink()
    load.produce(fresh.settings, REPORTS, run)
    t0 = time.monotonic()
    w = fresh.worker("worker")
    for fraction in (0.25, 0.5, 0.75):
        _kill_when(fresh, w, fraction, REPORTS, ledger)
    finish_and_check(fresh, run, REPORTS, ledger, t0)


def test_two_workers_rebalance_under_load(fresh: Cluster, ledger: Any) -> None:
    """Two workers share the partitions; one is SIGKILLed mid-run (rebalance) and comes back"""
    run = f"R{uuid.uuid4().hex[:6]}"
    fresh.sink()
    half = REPORTS // 2
    load.produce(fresh.settings, half, run)
    t0 = time.monotonic()
    a = fresh.worker("worker-a")
    b = fresh.worker("worker-b")
    producer = threading.Thread(target=load.produce, args=(fresh.settings, REPORTS, run, half))
    producer.start()
    _kill_when(fresh, a, 0.3, REPORTS, ledger)
    _kill_when(fresh, b, 0.6, REPORTS, ledger)
    producer.join()
    finish_and_check(fresh, run, REPORTS, ledger, t0)


def test_sink_sigkill_mid_run(fresh: Cluster, ledger: Any) -> None:
    """SIGKILL the audit/feed sink twice mid-run (load still arriving) and restart it: stores complete, chain intact"""
    run = f"S{uuid.uuid4().hex[:6]}"
    sink = fresh.sink()
    half = REPORTS // 2
    load.produce(fresh.settings, half, run)
    t0 = time.monotonic()
    fresh.worker("worker")
    producer = threading.Thread(target=lambda: (time.sleep(2), load.produce(fresh.settings, REPORTS, run, half)))
    producer.start()
    _kill_when(fresh, sink, 0.3, REPORTS, ledger)
    _kill_when(fresh, sink, 0.6, REPORTS, ledger)
    producer.join()
    finish_and_check(fresh, run, REPORTS, ledger, t0)


def test_gateway_sigkill_mid_run(fresh: Cluster, ledger: Any, tmp_path: Any) -> None:
    """SIGKILL the gateway while an agency publishes through the SDK; restart it: all arrive once"""
    from connectors.sdk import Publisher, RestTransport

    run = f"G{uuid.uuid4().hex[:6]}"
    key = Tokens(fresh.settings).agency("agency", load.AGENCY, load.STATE)
    fresh.sink()
    fresh.worker("worker")
    port = free_port()
    gw, url = fresh.gateway("gateway", port=port)
    t0 = time.monotonic()
    pub = Publisher(tmp_path / "outbox.db", RestTransport(url, key, timeout=10), batch_size=250, max_backoff=2.0)
    try:
        pub.start(poll=0.2)
        half = REPORTS // 2
        pub.publish_many(load.json_report(i, run) for i in range(half))
        _kill_when(fresh, gw, 0.2, REPORTS, ledger, restart_after=2.0)
        pub.publish_many(load.json_report(i, run) for i in range(half, REPORTS))
        wait_until(lambda: pub.pending() == 0, HANG, "the SDK outbox to drain")
        counts = pub.counts()
    finally:
        pub.close()
    ledger.record(outbox=counts)
    assert counts["rejected"] == 0 and counts["sent"] == REPORTS, counts
    finish_and_check(fresh, run, REPORTS, ledger, t0)
