"""`hub sink` against a real PostgreSQL server: audit events from hub.audit are stored once each
(duplicates absorbed), chained, and `hub audit verify` / `hub audit trail` (subprocesses) agree."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

from hub.audit.store import AuditStore
from hub.domain.audit_events import audit_event
from hub.domain.wire import send_audit
from hub.platform.db import Database
from hub.platform.kafka.embedded import EmbeddedBroker
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import ensure_topics
from tests.conftest import HUB, broker_settings, hub_env


def test_sink_stores_audit_in_postgresql(broker: EmbeddedBroker, pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = broker_settings(broker, data_dir=str(tmp_path / "hub"),
                          database_url=pg_url)
    asyncio.run(ensure_topics(s))
    rid = f"R-{uuid.uuid4().hex[:8]}"
    events = [audit_event(stage, report_id=rid, version=1, agency="KG-BORDER", occurred_at=1_700_000_000_000 + i)
              for i, stage in enumerate(["RECEIVED", "VALIDATED", "ROUTED"])]

    async def send() -> None:
        prod = producer(s)
        await prod.start()
        try:
            await send_audit(prod, [*events, events[1]])  # one redelivered
        finally:
            await prod.stop()

    asyncio.run(send())
    env = hub_env(s)
    sink = subprocess.Popen([*HUB, "sink", "--port", "0", "--group", f"pg-{uuid.uuid4().hex[:6]}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        store = AuditStore(Database(pg_url), s)
        deadline = time.monotonic() + 60
        while len(store.trail(rid)) < 3:  # hang guard only
            assert time.monotonic() < deadline, "sink did not store the events"
            assert sink.poll() is None, "sink exited"
            time.sleep(0.2)
    finally:
        sink.terminate()
        sink.wait(15)
    assert [e["stage"] for e in store.trail(rid)] == ["RECEIVED", "VALIDATED", "ROUTED"]
    ok = subprocess.run([*HUB, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stderr
    trail = subprocess.run([*HUB, "audit", "trail", rid], env=env, capture_output=True, text=True, timeout=60)
    assert trail.returncode == 0 and "ROUTED" in trail.stdout
    store.db.execute("UPDATE audit_log SET occurred_at = occurred_at + 1 WHERE seq = 2")
    bad = subprocess.run([*HUB, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "seq=2" in bad.stderr
