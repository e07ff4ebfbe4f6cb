"""Store-and-forward SDK: no loss and no duplicates while the hub is down and across a SIGKILL."""

from __future__ import annotations

import asyncio
import collections
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import orjson
import pytest

from connectors.sdk import Publisher, RestTransport, outbox_key
from hub.directory.agencies import Directory, kafka_native_codes
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.topics import agency_intake, ensure_topics
from hub.platform.settings import Settings
from tests.conftest import HUB, hub_env
from tests.connectors.conftest import Gateway
from tests.connectors.intake import read_intake_sync
from tests.factories import json_report

pytestmark = pytest.mark.timeout(240)


def outbox_counts(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    except sqlite3.OperationalError:  # table not created yet
        return {}


def wait_for(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_thousand_reports_survive_hub_outage_and_sigkill(gw_settings: Settings, directory: Directory,
                                                         tmp_path: Path) -> None:
    key = directory.issue_key("KZ-CUSTOMS")
    prefix = f"SDK-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "reports.ndjson"
    file.write_bytes(b"\n".join(orjson.dumps(json_report(source_ref=f"{prefix}-{i:04d}")) for i in range(1000)))
    outbox = tmp_path / "outbox.db"
    g = Gateway(gw_settings, free_port(), tmp_path / "gw.log")  # not started: the hub is down
    argv = [*HUB, "publish", str(file), "--url", g.url, "--outbox", str(outbox), "--batch", "10",
            "--max-backoff", "0.5"]
    env = hub_env(gw_settings, HUB_AGENCY_KEY=key)
    log1 = open(tmp_path / "publish1.log", "wb")  # noqa: SIM115
    pub = subprocess.Popen(argv, env=env, stdout=log1, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: outbox_counts(outbox).get("pending") == 1000, 30, "1000 reports in the outbox")
        time.sleep(1.0)  # it keeps retrying against the stopped hub
        assert outbox_counts(outbox) == {"pending": 1000}
        assert pub.poll() is None
        g.start()
        wait_for(lambda: outbox_counts(outbox).get("sent", 0) >= 150, 60, "first reports sent")
        pub.send_signal(signal.SIGKILL)
        pub.wait()
        at_kill = outbox_counts(outbox)
        assert at_kill.get("pending", 0) > 0, f"publisher finished before it could be killed: {at_kill}"
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()
    # the agency restarts its publisher on the same outbox; the rest is sent, nothing twice
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    g.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted 1000" in done.stdout
    assert outbox_counts(outbox) == {"sent": 1000}
    msgs = read_intake_sync(gw_settings, lambda m: (m["key"] or "").startswith(f"KZ-CUSTOMS:{prefix}-"), 1000,
                            timeout=60, settle=2.0)
    per_key = collections.Counter(m["headers"]["idempotency_key"] for m in msgs)
    assert len(per_key) == 1000
    assert max(per_key.values()) == 1, [k for k, n in per_key.items() if n > 1][:5]


def test_publish_is_idempotent_and_a_corrected_rejected_report_is_resent(gateway: Gateway, directory: Directory,
                                                                         tmp_path: Path) -> None:
    key = directory.issue_key("KZ-CUSTOMS")
    ref = f"SDK1-{uuid.uuid4().hex[:8]}"
    with Publisher(tmp_path / "o.db", RestTransport(gateway.url, key), min_backoff=0.05) as pub:
        k1 = pub.publish(json_report(source_ref=ref))
        assert pub.publish(json_report(source_ref=ref)) == k1 == f"{ref}|1"
        bad = pub.publish(json_report(source_ref=f"{ref}-b", substances=[]))
        assert pub.counts()["pending"] == 2
        pub.drain(timeout=30)
        res = pub.results([k1, bad])
        assert res[k1]["status"] == "sent" and res[k1]["report_id"].startswith("R-")
        assert res[bad]["status"] == "rejected" and res[bad]["errors"][0]["field"] == "substances"
        pub.publish(json_report(source_ref=f"{ref}-b"))  # corrected
        pub.drain(timeout=30)
        assert pub.results([bad])[bad]["status"] == "sent"
        assert pub.counts() == {"pending": 0, "sent": 2, "rejected": 0}


def test_outbox_key_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="source_ref: is required"):
        outbox_key({"kind": "SEIZURE"})
    with pytest.raises(ValueError, match="version: should be a whole number"):
        outbox_key({"source_ref": "x", "version": "2"})
    assert outbox_key({"source_ref": " a ", "version": 3}) == "a|3"


def test_publish_kafka_native_validates_locally_and_produces_avro(gw_settings: Settings, directory: Directory,
                                                                  tmp_path: Path) -> None:
    """To the agency's own intake topic (SPEC §7), never to the gateway's hub.intake."""
    directory.add("KZ-CUSTOMS", "KZ", "State Revenue Committee (Customs)", kafka_native=True)
    asyncio.run(ensure_topics(gw_settings, agency_codes=kafka_native_codes(gw_settings)))
    prefix = f"KN-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "r.ndjson"
    file.write_bytes(b"\n".join(orjson.dumps(b) for b in [
        json_report(source_ref=f"{prefix}-1"), json_report(source_ref=f"{prefix}-2", tlp="PURPLE")]))
    r = subprocess.run([*HUB, "publish", str(file), "--kafka", "KZ-CUSTOMS:KZ", "--outbox", str(tmp_path / "o.db")],
                       env=hub_env(gw_settings), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr  # one rejected
    assert "accepted 1" in r.stdout and "rejected 1" in r.stdout
    assert f"line 2 ({prefix}-2|1): rejected: tlp: should be one of" in r.stderr
    msgs = read_intake_sync(gw_settings, lambda m: (m["key"] or "").startswith(f"KZ-CUSTOMS:{prefix}-"), 1,
                            topic=agency_intake("KZ-CUSTOMS"))
    assert [m["headers"]["idempotency_key"] for m in msgs] == [f"KZ-CUSTOMS|{prefix}-1|1"]
    assert not read_intake_sync(gw_settings, lambda m: (m["key"] or "").startswith(f"KZ-CUSTOMS:{prefix}-"), 1,
                                timeout=3)
    assert msgs[0]["report"]["reporter_state"] == "KZ"
