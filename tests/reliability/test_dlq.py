"""Bad input on Kafka: every undecodable or invalid message ends in hub.dlq with its raw bytes and a
reason, nothing blocks the pipeline, and `hub dlq replay --fixed` re-injects a corrected report
that is then routed like any other.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import uuid
from typing import Any

import pytest

from hub.domain.codec import AUDIT_EVENT, DEAD_LETTER, FEED_ITEM, MARKER, REPORT, codec
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import AUDIT, DLQ, INTAKE, feed
from hub.platform.settings import Settings
from tests import factories
from tests.reliability import load
from tests.reliability.harness import Cluster, decode_all, read_topics, run_hub, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.both_brokers]
RANDOM_GARBAGE = int(os.environ.get("HUB_RELIABILITY_GARBAGE", "60"))


def _send(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    async def go() -> None:
        p = producer(settings)
        await p.start()
        try:
            futs = [await p.send(topic, v, key=k) for k, v in messages]
            await asyncio.gather(*futs)
        finally:
            await p.stop()

    asyncio.run(go())


def hostile_intake(run: str) -> dict[str, bytes]:
    """Named hostile messages for hub.intake."""
    good = codec().encode(REPORT, load.avro_report(0, run))
    fp_audit = codec().catalogue.latest(AUDIT_EVENT).fingerprint_bytes
    bad_report = load.avro_report(1, run)
    bad_report["conveyance"] = {"mode": "SEA", "container_numbers": ["CSQU3054384"], "transport_document": None,
                                "vehicle_plate": None, "wagon_number": None, "flight": None}
    spoofed = load.avro_report(2, run)
    spoofed["report_id"] = "R-000000000000000000000000"
    out = {
        "empty": b"",
        "json instead of avro": json.dumps(load.json_report(3, run)).encode(),
        "wrong marker": b"\x00\x00" + good[2:],
        "forged fingerprint": MARKER + struct.pack("<Q", 0xDEADBEEF) + good[10:],
        "truncated": good[: len(good) // 2],
        "trailing bytes": good + b"\x00\x01",
        "feed item on intake": codec().encode(FEED_ITEM, factories.feed_item()),
        "report body under the audit fingerprint": MARKER + fp_audit + good[10:],
        "invalid container check digit": codec().encode(REPORT, bad_report),
        "report_id not derived from agency/source_ref": codec().encode(REPORT, spoofed),
        "html": b"<html><script>alert(1)</script></html>",
    }
    rnd = __import__("random").Random(5)
    for i in range(RANDOM_GARBAGE):
        out[f"random {i}"] = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 400)))
    return out


def test_undecodable_and_invalid_messages_reach_the_dlq(ledger: Any, fresh: Cluster, tmp_path: Any) -> None:
    """Garbage on hub.intake, a feed topic and hub.audit: each in hub.dlq with raw bytes and reason; the
    valid reports around it are routed; a fixed report replayed from the DLQ is routed too"""
    run = f"D{uuid.uuid4().hex[:6]}"
    s = fresh.settings
    fresh.sink()
    fresh.worker()
    hostile = hostile_intake(run)
    valid = [(f"{load.AGENCY}:{run}-{i:06d}".encode(), codec().encode(REPORT, load.avro_report(i, run)))
             for i in (10, 11, 12)]
    _send(s, INTAKE, [valid[0], *[(f"k{i}".encode(), v) for i, v in enumerate(hostile.values())], valid[1]])
    sink_garbage = {"feed garbage": b"\xc3\x01garbage", "audit garbage": b"not an audit event"}
    _send(s, feed("CARICC"), [(b"x", sink_garbage["feed garbage"])])
    _send(s, AUDIT, [(b"y", sink_garbage["audit garbage"])])
    _send(s, INTAKE, [valid[2]])
    expected_raw = list(hostile.values()) + list(sink_garbage.values())

    def dead() -> list[dict[str, Any]]:
        return decode_all(read_topics(s, [DLQ], quiet_s=1.5, timeout=30), DEAD_LETTER)[0]

    letters = wait_until(lambda: (d := dead()) and len(d) >= len(expected_raw) and d, 240,
                         f"{len(expected_raw)} dead letters")
    by_value: dict[bytes, list[dict[str, Any]]] = {}
    for dl in letters:
        by_value.setdefault(dl["value"], []).append(dl)
    missing = [name for name, raw in {**hostile, **sink_garbage}.items() if raw not in by_value]
    unexplained = [dl["dead_letter_id"] for dl in letters if not dl["reason"].strip()]
    store = load.Store(s)
    wait_until(lambda: store.routed() >= 3, 120, "the valid reports routed")
    ledger.record(hostile_messages=len(expected_raw), dead_letters=len(letters), missing_from_dlq=len(missing),
                  reasons=sorted({dl["reason"].split(":")[0][:40] for dl in letters}))
    assert not missing, f"not in the DLQ: {missing}"
    assert not unexplained
    # the worker survived all of it
    assert all(p.alive() for p in fresh.procs), "a process died on bad input"

    # replay: the invalid report, corrected, goes back through validation and gets routed
    dl = by_value[hostile["invalid container check digit"]][0]
    fixed = load.json_report(1, run)
    fixed["conveyance"] = {"mode": "SEA", "container_numbers": ["CSQU3054383"]}
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps(fixed))
    r = run_hub(s, "dlq", "replay", dl["dead_letter_id"], "--fixed", str(path), "--agency", load.AGENCY,
                "--state", load.STATE)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_until(lambda: store.routed() >= 4, 120, "the replayed report routed")
    rows = {rid for _rec, rid, _d, _v in store.item_rows()}
    assert load.avro_report(1, run)["report_id"] in rows
    # a replayed report that is still wrong is refused by the CLI, naming the field
    fixed["conveyance"]["container_numbers"] = ["CSQU3054384"]
    path.write_text(json.dumps(fixed))
    r = run_hub(s, "dlq", "replay", dl["dead_letter_id"], "--fixed", str(path), "--agency", load.AGENCY,
                "--state", load.STATE)
    assert r.returncode != 0 and "container_numbers" in (r.stdout + r.stderr)
    ledger.record(replayed_and_routed=1)
