"""Durability on Apache Kafka: a worker's RocksDB tables after SIGKILL, and rebuilt from nothing.

The worker (RocksDB tables on Kafka, ``hub worker``'s default) routes N reports and is SIGKILLed.
It restarts (a) on its own RocksDB directory, (b) with that directory deleted. Then the same N
reports are sent again: every one must be recognized as a DUPLICATE -- the dedup table holds every
key, up to the last one written to its changelog before the kill -- and no report is routed twice.
A recovery that stops short of the changelog's tail (as faust does on the embedded broker, whose
end offsets are wrong: hub/platform/kafka/embedded.py) would route the last reports again.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import load
from tests.reliability.harness import Cluster, run_hub, wait_until
from tests.reliability.test_crash import HANG, alive_or_fail

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("broker_kind", ["kafka"], indirect=True)]
REPORTS = int(os.environ.get("HUB_RELIABILITY_DURABILITY_REPORTS", "300"))


@pytest.mark.parametrize("local_store", ["kept", "deleted"])
def test_worker_tables_survive_sigkill(fresh: Cluster, ledger: Any, local_store: str) -> None:
    """SIGKILL a worker with RocksDB tables; restarted (store kept / deleted), it knows every report"""
    run = f"D{uuid.uuid4().hex[:6]}"
    store = load.Store(fresh.settings)
    fresh.sink()
    w = fresh.worker("worker")
    load.produce(fresh.settings, REPORTS, run)
    assert load.wait_for_progress(store, REPORTS, hang=HANG, check=lambda: alive_or_fail(fresh)), \
        f"first pass incomplete: {store.routed()} routed\n{w.log()[-3000:]}"
    time.sleep(2)  # let the last table writes reach their changelog
    w.kill(signal.SIGKILL)
    ledger.add("sigkills")
    faust_dir = Path(fresh.settings.data_dir) / f"faust-{w.args[w.args.index('--port') + 1]}"
    rocks = sorted(p.name for p in faust_dir.rglob("*.db")) if faust_dir.exists() else []
    ledger.record(rocksdb_tables=len(rocks))
    assert rocks, f"the worker kept no RocksDB tables in {faust_dir}"
    if local_store == "deleted":
        shutil.rmtree(faust_dir)
    log_offset = len(w.log())
    w.start()

    def routed_again() -> int:  # the worker logs one "routed" line per report it routes
        return w.log()[log_offset:].count('"event": "routed"')
    load.produce(fresh.settings, REPORTS, run)  # the same reports again

    def all_duplicates() -> bool:
        alive_or_fail(fresh)
        assert routed_again() == 0, f"reports routed again after the restart:\n{w.log()[log_offset:][-3000:]}"
        stages = store.stages()
        return all("DUPLICATE" in stages.get(rid, set()) for rid in load.ids(REPORTS, run))

    wait_until(all_duplicates, HANG, f"all {REPORTS} resent reports recognized as DUPLICATE")
    time.sleep(3)
    counts = store.stage_counts()
    v = load.check_store(store, load.ids(REPORTS, run))
    verify = run_hub(fresh.settings, "audit", "verify")
    ledger.record(**v.figures, routed_again_after_restart=routed_again(), duplicates=counts.get("DUPLICATE", 0),
                  audit_verify_exit=verify.returncode)
    assert routed_again() == 0, "a report was routed again after the restart"
    assert not v.problems, "\n".join(v.problems)
    assert verify.returncode == 0, verify.stdout + verify.stderr
