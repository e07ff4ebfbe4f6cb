"""End to end on a private broker (embedded and Apache Kafka): `python -m hub worker` as a real process.

Publishes the scenario of tests/pipeline/scenario.py in two waves (the second after the first is
routed, so "processed first" is defined), then reads every feed topic, the DLQ and the audit topic
and compares them with the scenario's own ground truth.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.domain.codec import DEAD_LETTER, FEED_ITEM, codec
from hub.platform.kafka.embedded import free_port, stop_process
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.topics import AUDIT, DLQ, INTAKE, ensure_topics, feed
from hub.platform.settings import Settings
from tests.conftest import HUB, broker_settings, hub_env, start_broker
from tests.helpers import audit_events
from tests.pipeline.scenario import build

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]
WAIT = 180.0  # generous upper bound for waits (not an assertion on speed)


@pytest.fixture(scope="module")
def e2e(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, int, Path]]:
    """A private broker (the shared one carries other areas' hub.intake traffic) and a worker
    (its default table store: memory on the embedded broker, RocksDB on Kafka)."""
    tmp = tmp_path_factory.mktemp("pipeline-e2e")
    broker = start_broker(broker_kind, tmp / "broker")
    s = broker_settings(broker, data_dir=str(tmp / "hub"))
    port = free_port()
    log = tmp / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*HUB, "worker", "--port", str(port)], env=hub_env(s),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        yield s, port, log
    finally:
        stop_process(proc, 20)
        broker.stop()


class Reader:
    """Reads feed, DLQ and audit topics from the beginning, accumulating decoded values."""

    def __init__(self, s: Settings) -> None:
        self.topics = [feed(r) for r in s.recipients] + [DLQ, AUDIT]
        self.c = consumer(s, *self.topics, group_id=None)
        self.items: dict[str, list[tuple[dict[str, Any], dict[str, bytes], bytes]]] = defaultdict(list)
        self.dlq: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []

    async def poll(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            batch = await self.c.getmany(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    if tp.topic == DLQ:
                        self.dlq.append(codec().decode(m.value, expect=DEAD_LETTER))
                    elif tp.topic == AUDIT:
                        self.audit.extend(audit_events(m.value))
                    else:
                        self.items[tp.topic].append(
                            (codec().decode(m.value, expect=FEED_ITEM), dict(m.headers), m.key))

    async def until(self, cond: Any, what: str) -> None:
        end = time.monotonic() + WAIT
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"gave up waiting for {what}")
            await self.poll(0.5)

    def stages(self, stage: str) -> list[dict[str, Any]]:
        return [a for a in self.audit if a["stage"] == stage]


async def publish(s: Settings, msgs: list[tuple[bytes, bytes]]) -> None:
    p = producer(s)
    await p.start()
    try:
        futs = [await p.send(INTAKE, value, key=key, headers=[("trace_id", b"e2e")]) for key, value in msgs]
        for f in futs:
            await f
    finally:
        await p.stop()


async def run_scenario(s: Settings) -> tuple[Any, Reader]:
    sc = build()
    await ensure_topics(s)
    reader = Reader(s)
    await reader.c.start()
    try:
        await publish(s, sc.wave1)
        await reader.until(lambda: len({(a["report_id"], a["version"]) for a in reader.stages("ROUTED")})
                           >= sc.routed_wave1, "wave 1 to be routed")
        await publish(s, sc.wave2)
        total = sum(len(v) for v in sc.items.values())
        await reader.until(lambda: sum(len({i[0]["item_id"] for i in v}) for v in reader.items.values()) >= total
                           and len(reader.stages("DUPLICATE")) >= len(sc.duplicates)
                           and len(reader.dlq) >= len(sc.undecodable) + len(sc.invalid) + len(sc.stale),
                           "every expected item, duplicate and dead letter")
        await reader.poll(3.0)  # anything extra that would arrive now is a bug the asserts catch
    finally:
        await reader.c.stop()
    return sc, reader


def test_scenario_end_to_end(e2e: tuple[Settings, int, Path]) -> None:
    s, port, log = e2e
    sc, rd = asyncio.run(run_scenario(s))

    # ---- feeds: exactly the expected items per recipient, with the right delivery kind
    for r in s.recipients:
        got = rd.items.get(feed(r), [])
        ids = [i[0]["item_id"] for i in got]
        assert len(ids) == len(set(ids)), f"{r}: an item was delivered twice"
        assert {i[0]["item_id"]: i[0]["delivery"] for i in got} == sc.items.get(r, {}), f"feed of {r}"
        for item, headers, key in got:
            assert item["recipient"] == r
            assert headers["item_id"] == item["item_id"].encode()
            assert "trace_id" in headers
            assert key == item["incident_id"].encode()
            assert item["routing"]["redacted"] == (item["item_id"] in sc.partner_items)
            if item["routing"]["redacted"]:
                assert all(p["identifier"] is None for p in item["report"]["parties"])
            else:
                assert item["report"]["parties"][0]["identifier"] == "TJ1234567"
            assert item["report"]["handling_code"] == "H1"
            assert item["enrichment"]["risk_score"] > 0
    by_id = {i[0]["item_id"]: i[0] for v in rd.items.values() for i in v}

    # ---- incidents: correlated pairs share one, near misses do not
    for group in sc.same_incident:
        assert len({by_id[i]["incident_id"] for i in group}) == 1, group
    for a, b in sc.distinct_incident:
        assert by_id[a]["incident_id"] != by_id[b]["incident_id"]
    # ---- the no-leak rule through enrichment
    for item_id, refs in sc.also_by.items():
        assert {x["report_id"] for x in by_id[item_id]["enrichment"]["also_reported_by"]} == refs, item_id
        assert {x["report_id"] for x in by_id[item_id]["enrichment"]["prior_reports"]} == refs, item_id

    # ---- DLQ: raw bytes of every undecodable message, invalid and stale reports with reasons
    undecodable = [d for d in rd.dlq if d["reason"].startswith("undecodable") or d["reason"].startswith("empty")]
    assert sorted(d["value"] for d in undecodable) == sorted(sc.undecodable)
    assert all(d["source_topic"] == INTAKE and d["key"].startswith(b"BAD:") for d in undecodable)
    invalid = [d for d in rd.dlq if d["reason"].startswith("invalid")]
    assert {d["report_id"] for d in invalid} == sc.invalid
    assert all("a SEIZURE needs at least one substance" in d["reason"] for d in invalid)
    stale = [d for d in rd.dlq if d["reason"].startswith("stale")]
    assert {(d["report_id"], 2) for d in stale} == sc.stale
    assert len(rd.dlq) == len(sc.undecodable) + len(sc.invalid) + len(sc.stale)

    # ---- audit: a complete trail per report version
    by_stage: dict[str, Counter] = defaultdict(Counter)
    routed_to: dict[tuple[str, int], set[str]] = {}
    for a in rd.audit:
        by_stage[a["stage"]][(a["report_id"], a["version"])] += 1
        if a["stage"] == "ROUTED":
            routed_to[(a["report_id"], a["version"])] = set(a["recipients"])
    for key, recips in sc.routed.items():
        for stage in ("RECEIVED", "VALIDATED", "ENRICHED", "ROUTED"):
            assert by_stage[stage][key] >= 1, f"{key} misses {stage}"
        assert routed_to[key] == recips, key
    assert set(routed_to) == set(sc.routed)
    assert {k for k in by_stage["CORRELATED"]} == sc.correlated
    assert set(by_stage["DUPLICATE"]) == sc.duplicates
    rejected = set(by_stage["REJECTED"])
    assert sc.stale <= rejected
    assert {rid for rid, _v in rejected if rid in sc.invalid} == sc.invalid
    assert by_stage["REJECTED"][(None, None)] == len(sc.undecodable)

    # ---- the worker's web port
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        text = http.get("/metrics").text
    assert 'hub_reports_routed_total{delivery="CORRELATED",kind="SEIZURE",state="KZ"} 20.0' in text
    assert "hub_end_to_end_latency_seconds_count" in text
    assert 'hub_reports_duplicate_total{agency="KZ-CUSTOMS",kind="SEIZURE"}' in text
    logs = log.read_text()
    assert '"report_id"' in logs and '"trace_id"' in logs
