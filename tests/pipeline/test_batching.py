"""The worker's batches (hub/pipeline/shell/batching.py, take_batches) on a real broker: a burst of
intake records is taken in order, each record in exactly one batch, batches back to back; and the
worker's ``checkpoint`` debug line carries what ``hub bench --only sse`` joins (hub.tools.bench.trace)."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import orjson
import pytest

from hub.domain.codec import REPORT, codec
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import INTAKE, ensure_topics
from hub.tools.bench import trace
from tests.conftest import AnyBroker, broker_settings
from tests.factories import report
from tests.pipeline.test_recovery import start, stop, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]

REPORTS = 40


def checkpoint_lines(log: Path) -> list[dict]:
    return [d for d in (orjson.loads(x) for x in log.read_text(errors="replace").splitlines() if x.startswith("{"))
            if d.get("event") == "checkpoint"]


def test_a_burst_is_taken_in_order_each_record_once(module_broker: AnyBroker, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    s = broker_settings(module_broker, data_dir=str(tmp_path / "hub"))
    monkeypatch.setenv("HUB_LOG_LEVEL", "DEBUG")  # the worker's checkpoint lines
    port = free_port()
    log = tmp_path / "worker.log"
    values = [codec().encode(REPORT, report(source_ref=f"BATCH-{i:03d}")) for i in range(REPORTS)]

    async def run() -> list[int]:
        await ensure_topics(s)
        p = producer(s)
        await p.start()
        try:
            # bursts of 10 unawaited sends, 50 ms apart: a burst reaches the worker together, the bursts
            # (usually) in batches of their own
            futures = []
            for i, v in enumerate(values):
                futures.append(await p.send(INTAKE, v, key=f"KZ-CUSTOMS:BATCH-{i:03d}".encode()))
                if i % 10 == 9:
                    await asyncio.sleep(0.05)
            return [int((await f).offset) for f in futures]
        finally:
            await p.stop()

    w = start(s, port, log, "memory")
    try:
        wait_ready(port)
        offsets = asyncio.run(run())
        end = time.monotonic() + 90
        while time.monotonic() < end and sum(d["records"] for d in checkpoint_lines(log)) < REPORTS:
            time.sleep(0.3)
    finally:
        stop(w)
    lines = checkpoint_lines(log)
    taken = [o for d in lines for o in range(d["first_offset"], d["last_offset"] + 1)]
    assert taken == offsets, (taken, offsets)  # in order, each record exactly once, nothing skipped
    for d in lines:
        assert d["records"] == d["last_offset"] - d["first_offset"] + 1 == len(d["record_ms"]) == len(d["fetched_ms"])
        assert 1 <= d["records"] <= 500
        # the batch's moments in the checkpoint's order: taken, decided, outputs, state, inputs acknowledged
        assert d["taken_ms"] <= d["decided_ms"] <= d["sent_ms"] <= d["outputs_ms"] <= d["state_ms"] <= d["acked_ms"]
        assert all(f is not None and r <= f + 1 for r, f in zip(d["record_ms"], d["fetched_ms"], strict=True))
    # batches back to back: each taken after the one before was acknowledged
    assert all(a["acked_ms"] <= b["taken_ms"] for a, b in itertools.pairwise(lines))
    assert trace.worker_breakdown(lines)["records"] == REPORTS
