"""Officer feeds over real HTTP/SSE: gateway under uvicorn, `hub sink` subprocess, embedded broker."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from typing import Any

import httpx
import pytest

from hub.domain.report import report_id
from tests.conftest import HUB, TEST_ID_KEY, hub_env
from tests.factories import feed_item, report
from tests.feeds.conftest import Stack, wait_for
from tests.helpers import denials_by_path, metrics_auth
from tests.helpers import read_sse as read_sse_at

pytestmark = pytest.mark.both_brokers


def item(state: str, ref: str, version: int = 1, incident: str = "I-1", **report_overrides: Any) -> dict[str, Any]:
    rep = report(source_ref=ref, version=version, trace_id=f"t-{ref}", **report_overrides)
    rid = report_id(TEST_ID_KEY, "KZ-CUSTOMS", ref)
    assert rep["report_id"] == rid
    return feed_item(item_id=f"{rid}:{version}:{state}", recipient=state, incident_id=incident,
                     delivery="NEW", report=rep)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def read_sse(base: str, state: str, token: str, want: int, last_event_id: str | None = None,
             keepalives: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Open the SSE feed, read ``want`` item events (and at least ``keepalives`` keep-alive
    comments), then disconnect. Returns (events with id and data, keep-alives seen)."""
    h = auth(token) | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    return read_sse_at(f"{base}/v1/feeds/{state}", h, want, keepalives)


def test_resume_after_disconnect_no_gap_no_repeat(stack: Stack) -> None:
    token = stack.officer("uz-desk", "UZ")
    first = [item("UZ", f"UZ-A-{i}") for i in range(3)]
    stack.produce(*first)
    got, _ = read_sse(stack.base, "UZ", token, want=3)
    assert [e["data"]["item_id"] for e in got] == [i["item_id"] for i in first]
    assert [int(e["id"]) for e in got] == [e["data"]["cursor"] for e in got]
    last = got[-1]["id"]
    # while disconnected: three new items and a redelivery of one already shown
    later = [item("UZ", f"UZ-B-{i}") for i in range(3)]
    stack.produce(later[0], first[1], later[1], later[2])
    resumed, _ = read_sse(stack.base, "UZ", token, want=3, last_event_id=last)
    assert [e["data"]["item_id"] for e in resumed] == [i["item_id"] for i in later]
    # nothing more after those (no repeat): the next page after the last cursor is empty
    r = httpx.get(f"{stack.base}/v1/feeds/UZ/items", params={"after": resumed[-1]["id"]}, headers=auth(token))
    assert r.status_code == 200 and r.json()["items"] == []
    # JSON pages give the same feed, in pages
    p1 = httpx.get(f"{stack.base}/v1/feeds/UZ/items", params={"limit": 4}, headers=auth(token)).json()
    p2 = httpx.get(f"{stack.base}/v1/feeds/UZ/items", params={"after": p1["next_after"], "limit": 4},
                   headers=auth(token)).json()
    assert [v["item_id"] for v in p1["items"] + p2["items"]] == [i["item_id"] for i in first + later]
    # the item carries the report, enrichment and routing
    v = p1["items"][0]["item"]
    assert v["report"]["handling_code"] == "H1" and v["enrichment"]["risk_score"] == 80
    assert v["routing"]["reason"]


def test_same_item_produced_twice_is_shown_once(stack: Stack) -> None:
    token = stack.officer("kg-desk", "KG")
    dup = item("KG", "KG-DUP-1")
    sentinel = item("KG", "KG-DUP-2")
    stack.produce(dup, dup, sentinel)
    events, _ = read_sse(stack.base, "KG", token, want=2)
    assert [e["data"]["item_id"] for e in events] == [dup["item_id"], sentinel["item_id"]]
    wait_for(lambda: len(stack.stored("KG")) == 2, what="both items stored")
    stack.produce(dup)  # a later redelivery
    stack.produce(item("KG", "KG-DUP-3"))
    wait_for(lambda: len(stack.stored("KG")) == 3, what="third item stored")
    page = httpx.get(f"{stack.base}/v1/feeds/KG/items", headers=auth(token)).json()["items"]
    assert [v["item_id"] for v in page].count(dup["item_id"]) == 1
    assert len(page) == 3
    # each delivery to an officer session is audited (DELIVERED, once per item and officer)
    rid = dup["report"]["report_id"]
    trail = wait_for(lambda: [e for e in stack.audit.trail(rid) if e["stage"] == "DELIVERED"], what="DELIVERED")
    assert len(trail) == 1
    assert trail[0]["state"] == "KG" and trail[0]["actor"] == "officer:kg-desk"


def test_cross_state_access_denied_and_audited(stack: Stack) -> None:
    uz = stack.officer("uz-intruder", "UZ")
    auditor = stack.officer("oversight", None, auditor=True)
    for method, path in (("GET", "/v1/feeds/TJ"), ("GET", "/v1/feeds/TJ/items"), ("POST", "/v1/feeds/TJ/ack")):
        r = httpx.request(method, stack.base + path, headers=auth(uz),
                          json={"report_id": "R-x"} if method == "POST" else None)
        assert r.status_code == 403, (path, r.text)
        assert "TJ" in r.json()["detail"]
    # auditors cannot read feeds; officers cannot read the audit API; no token → 401
    assert httpx.get(f"{stack.base}/v1/feeds/TJ/items", headers=auth(auditor)).status_code == 403
    assert httpx.get(f"{stack.base}/v1/audit/verify", headers=auth(uz)).status_code == 403
    assert httpx.get(f"{stack.base}/v1/feeds/TJ/items").status_code == 401
    assert httpx.get(f"{stack.base}/v1/feeds/TJ/items", headers=auth("hko_forged")).status_code == 401

    def denied() -> list[dict[str, Any]]:
        return [json.loads(r["event"]) for r in stack.db.query(
            "SELECT event FROM audit_log WHERE stage = 'ACCESS_DENIED'")]

    def intruder_on_tj() -> Counter[str]:
        return denials_by_path([e for e in denied() if e["actor"] == "officer:uz-intruder" and e["state"] == "TJ"])

    # ACCESS_DENIED is aggregated per (client, actor, state) and window (1 s in this stack): the first
    # denial at once, the other two as one record with their count when the window closes
    counts = wait_for(lambda: intruder_on_tj() if sum(intruder_on_tj().values()) == 3 else None,
                      what="3 denials in ACCESS_DENIED")
    assert counts == Counter({"/v1/feeds/TJ": 1, "/v1/feeds/TJ/items": 1, "/v1/feeds/TJ/ack": 1})
    events = [e for e in denied() if e["actor"] == "officer:uz-intruder" and e["state"] == "TJ"]
    # 2 records (one window) or 3 (the requests straddled a window boundary)
    assert 2 <= len(events) <= 3 and all("UZ" in e["reason"] for e in events)
    assert any(e["actor"] == "auditor:oversight" for e in denied())
    # the denials outside the feeds (audit API, no token, forged token) are audited too
    wait_for(lambda: denials_by_path([e for e in denied() if e["actor"] == "officer:uz-intruder"])["/v1/audit/verify"],
             what="audit API denial audited")
    wait_for(lambda: [e for e in denied() if e["actor"] == "anonymous"], what="401 without token audited")
    wait_for(lambda: [e for e in denied() if e["actor"] == "invalid-token"], what="401 forged token audited")
    assert not any("hko_forged" in json.dumps(e) for e in denied()), "a presented token is never stored"
    # the auditor sees a clean chain over HTTP
    v = httpx.get(f"{stack.base}/v1/audit/verify", headers=auth(auditor)).json()
    assert v["ok"] is True and v["records"] >= 4


def test_audit_verify_over_http_checks_the_anchors(stack: Stack) -> None:
    """/v1/audit/verify gives the verdict of `hub audit verify`: it reads the anchor file, and an anchor
    the chain no longer matches (here: an anchor line altered after it was written) fails it."""
    from hub.audit.store import AuditStore, anchor_path

    auditor = stack.officer("anchor-check", None, auditor=True)
    path = anchor_path(stack.settings)
    before = path.read_text() if path.exists() else None
    try:
        AuditStore(stack.db, stack.settings).anchor()
        v = httpx.get(f"{stack.base}/v1/audit/verify", headers=auth(auditor)).json()
        assert v["ok"] is True and v["anchors"] >= 1, v
        lines = path.read_text().splitlines()
        last = json.loads(lines[-1])
        last["hash"] = "0" * len(last["hash"])
        path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
        v = httpx.get(f"{stack.base}/v1/audit/verify", headers=auth(auditor)).json()
        assert v["ok"] is False and "anchor" in v["message"], v
    finally:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(before)


def test_ack_is_audited_and_measured(stack: Stack) -> None:
    from hub.platform.metrics import ACKNOWLEDGED, TIME_TO_ACK

    acks_before = next((m.value for metric in TIME_TO_ACK.collect() for m in metric.samples
                        if m.name.endswith("_count") and m.labels.get("state") == "TJ"), 0.0)
    acked_before = next((m.value for metric in ACKNOWLEDGED.collect() for m in metric.samples
                         if m.name.endswith("_total") and m.labels.get("state") == "TJ"), 0.0)
    token = stack.officer("tj-desk", "TJ")
    auditor = stack.officer("oversight-2", None, auditor=True)
    it = item("TJ", "TJ-ACK-1")
    stack.produce(it)
    wait_for(lambda: stack.stored("TJ"), what="item stored")
    rid = it["report"]["report_id"]
    bad = httpx.post(f"{stack.base}/v1/feeds/TJ/ack", json={"report_id": "nope"}, headers=auth(token))
    assert bad.status_code == 404 and "report_id" in bad.json()["detail"]
    missing = httpx.post(f"{stack.base}/v1/feeds/TJ/ack", json={}, headers=auth(token))
    assert missing.status_code == 422 and "report_id" in missing.text
    r = httpx.post(f"{stack.base}/v1/feeds/TJ/ack", json={"report_id": rid}, headers=auth(token))
    assert r.status_code == 200 and r.json()["first"] is True and r.json()["version"] == 1
    again = httpx.post(f"{stack.base}/v1/feeds/TJ/ack", json={"report_id": rid}, headers=auth(token))
    assert again.json()["first"] is False
    page = httpx.get(f"{stack.base}/v1/feeds/TJ/items", headers=auth(token)).json()["items"]
    assert page[0]["acknowledged"]["by"] == "officer:tj-desk"

    def acked() -> list[dict[str, Any]] | None:
        r = httpx.get(f"{stack.base}/v1/audit/trail/{rid}", headers=auth(auditor))
        if r.status_code != 200:
            return None
        return [e for e in r.json()["events"] if e["stage"] == "ACKNOWLEDGED"] or None

    events = wait_for(acked, what="ACKNOWLEDGED in the trail")
    assert len(events) == 1 and events[0]["actor"] == "officer:tj-desk" and events[0]["state"] == "TJ"
    metrics = httpx.get(f"{stack.base}/metrics", headers=metrics_auth(stack.settings)).text
    # one more than before (the registry is the test process's: both brokers' runs count in it)
    assert f'hub_time_to_acknowledge_seconds_count{{state="TJ"}} {acks_before + 1.0}' in metrics
    assert f'hub_acknowledgements_total{{state="TJ"}} {acked_before + 1.0}' in metrics


def test_keepalive_and_subscriber_gauge(stack: Stack) -> None:
    token = stack.officer("tm-desk", "TM")
    events, keepalives = read_sse(stack.base, "TM", token, want=0, keepalives=2)
    assert events == [] and keepalives >= 2
    assert 'hub_feed_subscribers{state="TM"} 0.0' in httpx.get(f"{stack.base}/metrics", headers=metrics_auth(stack.settings)).text


@pytest.mark.parametrize("bad", ["-1", "abc"])
def test_bad_cursor_is_named(stack: Stack, bad: str) -> None:
    token = stack.officer(f"az-desk{bad}", "AZ")
    r = httpx.get(f"{stack.base}/v1/feeds/AZ/items", params={"after": bad}, headers=auth(token))
    assert r.status_code == 422 and "after" in r.json()["detail"]


def test_hub_feed_cli_tails_and_resumes(stack: Stack) -> None:
    token = stack.officer("ru-desk", "RU")
    a, b = item("RU", "RU-CLI-1"), item("RU", "RU-CLI-2", kind="ALERT", substances=[], risk_indicators=["route"])
    stack.produce(a, b)
    wait_for(lambda: len(stack.stored("RU")) == 2, what="items stored")
    env = hub_env(stack.settings, HUB_OFFICER_TOKEN=token)
    cmd = [*HUB, "feed", "RU", "--once", "--url", stack.base]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["CURSOR", "ROUTED", "DELIVERY", "KIND"]
    assert len(lines) == 3 and "HEROIN 12.5kg" in lines[1] and "ALERT" in lines[2] and "route" in lines[2]
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout.strip() == ""  # resumed after the saved cursor
    stack.produce(item("RU", "RU-CLI-3"))
    wait_for(lambda: len(stack.stored("RU")) == 3, what="third item stored")
    third = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    rows = third.stdout.strip().splitlines()
    assert len(rows) == 2 and rows[1].split()[0] == "3"  # header + only the new item (cursor 3)
    wrong = subprocess.run([*HUB, "feed", "UZ", "--once", "--url", stack.base], env=env, capture_output=True,
                           text=True, timeout=60)
    assert wrong.returncode != 0 and "token" in wrong.stderr


def test_undecodable_feed_message_goes_to_dlq(stack: Stack) -> None:
    import asyncio

    from hub.domain.codec import DEAD_LETTER, codec
    from hub.platform.kafka.io import consumer, producer
    from hub.platform.kafka.topics import DLQ, feed

    token = stack.officer("am-desk", "AM")

    async def send_garbage() -> None:
        prod = producer(stack.settings)
        await prod.start()
        try:
            await prod.send_and_wait(feed("AM"), b"not avro at all", key=b"I-X")
        finally:
            await prod.stop()

    asyncio.run(send_garbage())
    good = item("AM", "AM-1")
    stack.produce(good)
    wait_for(lambda: stack.stored("AM"), what="good item after garbage")
    page = httpx.get(f"{stack.base}/v1/feeds/AM/items", headers=auth(token)).json()["items"]
    assert [v["item_id"] for v in page] == [good["item_id"]]

    async def read_dlq() -> list[dict[str, Any]]:
        cons = consumer(stack.settings, DLQ, group_id=None)
        await cons.start()
        try:
            out = []
            batches = await cons.getmany(timeout_ms=3000)
            for recs in batches.values():
                out += [codec().decode(r.value, expect=DEAD_LETTER) for r in recs]
            return out
        finally:
            await cons.stop()

    letters = wait_for(lambda: [d for d in asyncio.run(read_dlq()) if d["source_topic"] == feed("AM")],
                       what="dead letter")
    assert letters[0]["value"] == b"not avro at all" and letters[0]["stage"] == "sink"
    assert "marker" in letters[0]["reason"] or "undecodable" in letters[0]["reason"]


def test_revoked_token_is_refused(stack: Stack) -> None:
    from hub.directory.officers import Officers

    token = stack.officer("ge-desk", "GE")
    assert httpx.get(f"{stack.base}/v1/whoami", headers=auth(token)).json()["state"] == "GE"
    Officers(stack.db, stack.settings).revoke("ge-desk")
    # the gateway caches a valid token for TOKEN_TTL_S (2 s): refused within that bound, then always
    wait_for(lambda: httpx.get(f"{stack.base}/v1/feeds/GE/items", headers=auth(token)).status_code == 401,
             what="revoked token refused")
    assert httpx.get(f"{stack.base}/v1/whoami", headers=auth(token)).status_code == 401
