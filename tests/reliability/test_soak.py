"""Soak: many reports through the whole hub on Apache Kafka, a worker SIGKILLed mid-run.

N reports (HUB_RELIABILITY_SOAK_REPORTS; CI runs 2,000, the recorded soak 100,000) are produced to
hub.intake while one worker and the sink process them; at half way the worker is SIGKILLed and
restarted. Afterwards: 0 reports lost, 0 duplicate items seen by a subscriber, every audit trail
complete, `hub audit verify` clean -- and the peak RSS of every process (the broker's JVM included),
sampled from /proc while it ran. HUB_RELIABILITY_SOAK_BROKERS=embedded,kafka runs it on both.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import load
from tests.reliability.harness import Cluster
from tests.reliability.test_crash import _kill_when, finish_and_check

SOAK = int(os.environ.get("HUB_RELIABILITY_SOAK_REPORTS", "2000"))
BROKERS = [b.strip() for b in os.environ.get("HUB_RELIABILITY_SOAK_BROKERS", "kafka").split(",") if b.strip()]
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("broker_kind", BROKERS, indirect=True),
              pytest.mark.timeout(900 + SOAK // 5)]
# Upper bound of each wait, scaled with N (a stall of 45-60 s without progress still fails at once):
# 100,000 reports at a busy machine's ~30/s take ~55 min.
HANG = 300 + SOAK / 10


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak resident set so far (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Samples every process of the cluster (and the broker) once a second; keeps each one's peak."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.cluster, self.peaks, self.stop = cluster, {}, threading.Event()

    def sample(self) -> None:
        procs = [(p.name, p.proc.pid) for p in self.cluster.procs if p.alive() and p.proc is not None]
        broker = getattr(self.cluster, "broker", None)
        bproc = getattr(broker, "proc", None)
        if bproc is not None and bproc.poll() is None:
            procs.append(("broker", bproc.pid))
        for name, pid in procs:
            self.peaks[name] = max(self.peaks.get(name, 0), peak_rss_kib(pid))

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.sample()


def test_soak_with_a_worker_sigkill(fresh: Cluster, ledger: Any) -> None:
    """N reports, worker SIGKILLed at half way: 0 lost, 0 duplicates, audit clean; peak RSS per process"""
    run = f"K{uuid.uuid4().hex[:6]}"
    sampler = RssSampler(fresh)
    sampler.start()
    try:
        fresh.sink()
        w = fresh.worker("worker")
        t0 = time.monotonic()
        producer = threading.Thread(target=load.produce, args=(fresh.settings, SOAK, run))
        producer.start()
        sampler.sample()
        _kill_when(fresh, w, 0.5, SOAK, ledger, before_kill=sampler.sample, hang=HANG)
        producer.join()
        finish_and_check(fresh, run, SOAK, ledger, t0, hang=HANG)
        sampler.sample()
    finally:
        sampler.stop.set()
        sampler.join(5)
        ledger.record(broker=fresh.kind, peak_rss_mb={k: round(v / 1024) for k, v in sorted(sampler.peaks.items())})  # type: ignore[attr-defined]
    assert sampler.peaks.get("worker", 0) > 0 and sampler.peaks.get("sink", 0) > 0, sampler.peaks
