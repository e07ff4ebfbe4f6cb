"""REST ingest over real HTTP: a gateway process (uvicorn) on the embedded broker."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from hub.directory.agencies import Directory
from hub.directory.auth import OFFICER
from hub.platform.db import Database
from hub.platform.kafka.embedded import EmbeddedBroker, free_port
from hub.platform.kafka.topics import AUDIT, INTAKE
from tests.connectors.conftest import Gateway, module_settings
from tests.connectors.intake import read_audit, read_intake
from tests.factories import json_report
from tests.helpers import metrics_auth

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def key(directory: Directory) -> str:
    return directory.issue_key("KZ-CUSTOMS")


def ref() -> str:
    return f"T-{uuid.uuid4().hex[:12]}"


def post(gateway: Gateway, key: str | None, body: object, path: str = "/v1/reports", **kw: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(gateway.url + path, content=content, headers=headers | kw.pop("headers", {}), timeout=30, **kw)


async def test_accepted_report_is_on_intake_and_resubmission_is_a_duplicate(gateway: Gateway, key: str) -> None:
    r_ref = ref()
    first = post(gateway, key, json_report(source_ref=r_ref))
    assert first.status_code == 202, first.text
    rid = first.json()["report_id"]
    assert first.json()["duplicate"] is False
    # the 202 came after the broker's ack: the message is on hub.intake, keyed and with headers
    msgs = await read_intake(gateway.settings, lambda m: m["key"] == f"KZ-CUSTOMS:{r_ref}", 1, settle=0)
    assert msgs, "accepted report not found on hub.intake"
    m = msgs[0]
    assert m["headers"]["idempotency_key"] == f"KZ-CUSTOMS|{r_ref}|1"
    assert m["headers"]["trace_id"] == first.json()["trace_id"]
    assert m["report"]["report_id"] == rid and m["report"]["agency"] == "KZ-CUSTOMS"
    assert m["report"]["reporter_state"] == "KZ"
    assert m["report"]["conveyance"]["container_numbers"] == ["CSQU3054383"]

    again = post(gateway, key, json_report(source_ref=r_ref))
    assert again.status_code == 202
    assert again.json()["report_id"] == rid and again.json()["duplicate"] is True
    update = post(gateway, key, json_report(source_ref=r_ref, version=2))
    assert update.status_code == 202 and update.json() == update.json() | {"report_id": rid, "duplicate": False}
    msgs = await read_intake(gateway.settings, lambda m: m["key"] == f"KZ-CUSTOMS:{r_ref}", 2)
    assert sorted(m["headers"]["idempotency_key"] for m in msgs) == [
        f"KZ-CUSTOMS|{r_ref}|1", f"KZ-CUSTOMS|{r_ref}|2"]
    audit = await read_audit(gateway.settings, lambda e: e["report_id"] == rid, 2)
    received = sorted((a["stage"], a["version"]) for a in audit)
    assert received == [("RECEIVED", 1), ("RECEIVED", 2)]
    assert {a["actor"] for a in audit} == {"agency:KZ-CUSTOMS"}


async def test_rejections_are_audited(gateway: Gateway, key: str) -> None:
    r_ref = ref()
    r = post(gateway, key, json_report(source_ref=r_ref, substances=[]))
    assert r.status_code == 422
    rid = r.json()["report_id"]
    audit = await read_audit(gateway.settings, lambda e: e["report_id"] == rid, 1)
    assert [a["stage"] for a in audit] == ["REJECTED"]
    assert audit[0]["reason"] == "invalid" and "substances" in audit[0]["detail"]["error"]


def test_stale_version_is_409_but_an_accepted_lower_version_is_a_duplicate(gateway: Gateway, key: str) -> None:
    r_ref = ref()
    assert post(gateway, key, json_report(source_ref=r_ref, version=1)).status_code == 202
    assert post(gateway, key, json_report(source_ref=r_ref, version=3)).status_code == 202
    stale = post(gateway, key, json_report(source_ref=r_ref, version=2))
    assert stale.status_code == 409
    assert "stale version 2" in stale.json()["error"] and "version 3" in stale.json()["error"]
    old = post(gateway, key, json_report(source_ref=r_ref, version=1))
    assert old.status_code == 202 and old.json()["duplicate"] is True


def test_auth_errors(gateway: Gateway, key: str, directory: Directory) -> None:
    body = json_report(source_ref=ref())
    none = post(gateway, None, body)
    assert none.status_code == 401 and "missing key" in none.json()["error"]
    assert none.headers["www-authenticate"] == "Bearer"
    bad = post(gateway, "hka_not-a-real-key", body)
    assert bad.status_code == 401 and "unknown or revoked key" in bad.json()["error"]
    basic = post(gateway, None, body, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401 and "Bearer" in basic.json()["error"]
    officer = directory.credentials.issue(OFFICER, "desk-kz", "KZ")
    off = post(gateway, officer, body)
    assert off.status_code == 403 and "officer key cannot publish" in off.json()["error"]
    directory.add("KG-BORDER", "KG", "Border Service of the Kyrgyz Republic")
    old = directory.issue_key("KG-BORDER")
    new = directory.issue_key("KG-BORDER", revoke_old=True)
    assert post(gateway, old, body).status_code == 401
    ok = post(gateway, new, body)
    assert ok.status_code == 202


def test_spoofed_agency_or_state_is_403(gateway: Gateway, key: str) -> None:
    spoof = post(gateway, key, json_report(source_ref=ref(), agency="UZ-CUSTOMS"))
    assert spoof.status_code == 403
    assert "claims agency 'UZ-CUSTOMS'" in spoof.json()["error"] and "KZ-CUSTOMS" in spoof.json()["error"]
    state = post(gateway, key, json_report(source_ref=ref(), reporter_state="UZ"))
    assert state.status_code == 403 and "claims state 'UZ'" in state.json()["error"]
    same = post(gateway, key, json_report(source_ref=ref(), agency="KZ-CUSTOMS"))
    assert same.status_code == 202


def test_malformed_json_is_400(gateway: Gateway, key: str) -> None:
    r = post(gateway, key, b'{"kind": "SEIZURE", ')
    assert r.status_code == 400 and r.json()["error"].startswith("malformed JSON")
    b = post(gateway, key, b'[{"kind": "SEIZURE"}, {oops', path="/v1/reports/batch")
    assert b.status_code == 400 and "malformed batch" in b.json()["error"]
    n = post(gateway, key, b'{"kind": "SEIZURE"}\n{oops\n', path="/v1/reports/batch")
    assert n.status_code == 400 and "line 2" in n.json()["error"]


def test_field_errors_are_422_with_every_path(gateway: Gateway, key: str) -> None:
    body = json_report(source_ref=ref(), substances=[], tlp="PURPLE", event_time="yesterday",
                       conveyance={"mode": "SEA", "container_numbers": ["CSQU 305438-4"]},
                       parties=[{"role": "DRIVER"}])
    r = post(gateway, key, body)
    assert r.status_code == 422
    fields = {e["field"]: e["problem"] for e in r.json()["errors"]}
    assert "tlp" in fields and "PURPLE" in fields["tlp"]
    assert "event_time" in fields
    assert fields["parties[0].name"] == "is required"
    assert fields["conveyance.container_numbers[0]"].startswith("check digit should be 3")
    assert "substances" in fields
    assert r.json()["report_id"].startswith("R-")


def test_size_limits_are_413(gateway: Gateway, key: str) -> None:
    big = post(gateway, key, json_report(source_ref=ref(), narrative="x" * 600_000))
    assert big.status_code == 413 and "limit" in big.json()["error"]
    many = [json_report(source_ref=f"{ref()}-{i}") for i in range(1001)]
    r = post(gateway, key, many, path="/v1/reports/batch")
    assert r.status_code == 413 and "at most 1000" in r.json()["error"] and "1001" in r.json()["error"]


async def test_batch_with_mixed_items_json_and_ndjson(gateway: Gateway, key: str) -> None:
    base = ref()
    items = [
        json_report(source_ref=f"{base}-ok1"),
        json_report(source_ref=f"{base}-bad", kind="NOPE"),
        json_report(source_ref=f"{base}-spoof", agency="TJ-DRUGS"),
        json_report(source_ref=f"{base}-ok2", kind="ALERT", substances=[], risk_indicators=["route via AF"]),
        json_report(source_ref=f"{base}-ok1"),  # repeated inside the batch
    ]
    r = post(gateway, key, items, path="/v1/reports/batch")
    assert r.status_code == 202, r.text
    res = r.json()["results"]
    assert [x["status"] for x in res] == [202, 422, 403, 202, 202]
    assert res[4]["duplicate"] is True and res[4]["report_id"] == res[0]["report_id"]
    assert res[1]["errors"][0]["field"] == "kind"
    assert (r.json()["accepted"], r.json()["duplicates"], r.json()["rejected"]) == (2, 1, 2)
    nd = b"\n".join(orjson.dumps(x) for x in [json_report(source_ref=f"{base}-nd"), {"kind": "SEIZURE"}]) + b"\n"
    r2 = post(gateway, key, nd, path="/v1/reports/batch", headers={"Content-Type": "application/x-ndjson"})
    assert [x["status"] for x in r2.json()["results"]] == [202, 422]
    msgs = await read_intake(gateway.settings, lambda m: (m["key"] or "").startswith(f"KZ-CUSTOMS:{base}"), 3)
    assert sorted(m["report"]["source_ref"] for m in msgs) == [f"{base}-nd", f"{base}-ok1", f"{base}-ok2"]


def test_openapi_documents_the_request_body(gateway: Gateway) -> None:
    spec = httpx.get(gateway.url + "/openapi.json").json()
    body = spec["paths"]["/v1/reports"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "source_ref" in body["properties"] and "kind" in body["required"]
    assert "application/x-ndjson" in spec["paths"]["/v1/reports/batch"]["post"]["requestBody"]["content"]
    assert httpx.get(gateway.url + "/docs").status_code == 200


def test_metrics_count_received_and_rejected(gateway: Gateway, key: str) -> None:
    post(gateway, key, json_report(source_ref=ref()))
    post(gateway, key, json_report(source_ref=ref(), kind="NOPE"))
    text = httpx.get(gateway.url + "/metrics", headers=metrics_auth(gateway.settings)).text
    assert 'hub_reports_received_total{agency="KZ-CUSTOMS",kind="SEIZURE"}' in text
    assert 'hub_reports_rejected_total{agency="KZ-CUSTOMS",kind="UNKNOWN",reason="invalid"}' in text
    assert 'hub_http_requests_total{method="POST",route="/v1/reports",status="202"}' in text


def test_broker_unreachable_is_503_with_retry_after(tmp_path: Path, broker: EmbeddedBroker) -> None:
    settings = module_settings(broker, tmp_path / "hub")

    dead = dataclasses.replace(settings, embedded_port=free_port())
    d = Directory(Database(dead.db_url), dead.states)
    d.add("KZ-CUSTOMS", "KZ", "Customs")
    k = d.issue_key("KZ-CUSTOMS")
    g = Gateway(dead, free_port(), tmp_path / "gw.log").start()
    try:
        r = post(g, k, json_report(source_ref=ref()))
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert "cannot reach its broker" in r.json()["error"]
    finally:
        g.stop()


@pytest.mark.slow
async def test_broker_restart_503_then_topics_recreated(tmp_path: Path) -> None:
    """The embedded broker forgets everything on restart: the gateway answers 503 while it is down, then
    re-creates the topics itself (with the configured partitions, not broker auto-create)."""
    own = EmbeddedBroker().start()
    try:
        settings = module_settings(own, tmp_path / "hub")
        d = Directory(Database(settings.db_url), settings.states)
        d.add("KZ-CUSTOMS", "KZ", "Customs")
        k = d.issue_key("KZ-CUSTOMS")
        g = Gateway(settings, free_port(), tmp_path / "gw.log").start()
        try:
            assert post(g, k, json_report(source_ref=ref())).status_code == 202
            own.stop()
            down = post(g, k, json_report(source_ref=ref()))
            assert down.status_code == 503 and down.headers["retry-after"] == "5"
            own = EmbeddedBroker(own.port).start()  # same port, empty (stopped in the outer finally)
            r_ref = ref()
            up = post(g, k, json_report(source_ref=r_ref))
            assert up.status_code == 202, up.text
            msgs = await read_intake(settings, lambda m: m["key"] == f"KZ-CUSTOMS:{r_ref}", 1, settle=0)
            assert len(msgs) == 1
            admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
            await admin.start()
            try:
                # recreated as specified, not as a broker default: the sequencer with one partition,
                # the audit topic with the configured number
                parts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics([INTAKE, AUDIT])}
                assert parts == {INTAKE: 1, AUDIT: settings.partitions} and settings.partitions == 2
            finally:
                await admin.close()
        finally:
            g.stop()
    finally:
        own.stop()
