"""Bad input: the gateway under schemathesis and hand-made hostile requests.

Schemathesis generates valid and invalid requests for every operation of the gateway's OpenAPI
document; the hand-made cases add oversized bodies, deep nesting, wrong types, invalid UTF-8,
lone surrogates and HTML/script. Every answer is below 500 and every rejection carries a clear
JSON message.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from hub.platform.kafka.topics import ensure_topics
from tests import factories
from tests.reliability.harness import Cluster, Tokens, private_settings
from tests.reliability.strategies import EXAMPLES, deep

STREAMING = {("GET", "/v1/feeds/{state}")}  # SSE never ends: covered by the feed tests


@pytest.fixture(scope="module")
def gw(private_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("badinput")
    s = private_settings(private_broker, data / "hub")
    Path(s.data_dir).mkdir(parents=True, exist_ok=True)
    asyncio.run(ensure_topics(s))
    tokens = Tokens(s)
    tokens.agency("agency", "KZ-CUSTOMS", "KZ")
    tokens.officer("officer", "kz-desk", "KZ")
    tokens.officer("auditor", "oversight", None, auditor=True)
    cluster = Cluster(s, data)
    try:
        _, url = cluster.gateway()
        yield {"url": url, "tokens": tokens.issued, "cluster": cluster}
    finally:
        cluster.stop_all()


def _clear_rejection(status: int, text: str) -> str | None:
    """None when a 4xx body is a JSON object with a readable message; else what is wrong."""
    try:
        body = json.loads(text)
    except ValueError:
        return f"{status} without a JSON body: {text[:120]!r}"
    if not isinstance(body, dict):
        return f"{status} body is not an object"
    msg = body.get("error") or body.get("detail")
    if not msg:
        return f"{status} without an error message: {text[:200]}"
    return None


def _token_for(path: str, tokens: dict[str, str]) -> str:
    if path.startswith("/v1/reports"):
        return tokens["agency"]
    if path.startswith("/v1/audit"):
        return tokens["auditor"]
    return tokens["officer"]


def _fuzz_operation(op: Any, mode: GenerationMode, url: str, auth: dict[str, str], examples: int,
                    statuses: Counter[str], problems: list[str]) -> Any:
    @settings(max_examples=examples, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        headers = dict(case.headers or {})
        headers.setdefault("Authorization", auth["Authorization"])
        resp = case.call(base_url=url, headers=headers, timeout=30)
        statuses[str(resp.status_code)] += 1
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        if resp.status_code >= 500:
            body = case.body if not isinstance(case.body, (bytes, str)) else case.body[:300]
            problems.append(f"{where}: {resp.status_code} {resp.text[:200]} <- body {body!r:.600}")
        elif resp.status_code >= 400:
            bad = _clear_rejection(resp.status_code, resp.text)
            if bad:
                problems.append(f"{where}: {bad}")

    return run


def test_schemathesis_finds_no_server_errors(ledger, gw: dict[str, Any]) -> None:
    """Schemathesis (positive and negative cases) on every operation: no 5xx, every 4xx explained"""
    schema = schemathesis.openapi.from_url(gw["url"] + "/openapi.json")
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    operations = 0
    unsatisfiable = 0
    per_op = max(10, EXAMPLES // 4)
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in STREAMING:
            continue
        operations += 1
        auth = {"Authorization": f"Bearer {_token_for(op.path, gw['tokens'])}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = _fuzz_operation(op, mode, gw["url"], auth, per_op, statuses, problems)
            try:
                run()
            except Unsatisfiable:
                unsatisfiable += 1  # e.g. no negative case exists for an operation without inputs
    ledger.record(operations=operations, schemathesis_requests=sum(statuses.values()),
                  answers=dict(statuses), problems=len(problems),
                  modes_without_cases=unsatisfiable)
    assert operations >= 5, "the OpenAPI document lists too few operations"
    assert not problems, "\n".join(problems[:20])


def _post(client: httpx.Client, path: str, content: bytes, token: str, ctype: str = "application/json") -> httpx.Response:
    return client.post(path, content=content, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})


HOSTILE: list[tuple[str, str, bytes, set[int]]] = [
    ("empty body", "/v1/reports", b"", {400}),
    ("not JSON", "/v1/reports", b"kind=SEIZURE", {400}),
    ("invalid UTF-8", "/v1/reports", b'{"kind": "SEIZ\xff\xfeURE"}', {400}),
    ("truncated JSON", "/v1/reports", json.dumps(factories.json_report()).encode()[:-5], {400}),
    ("array instead of object", "/v1/reports", b"[1, 2, 3]", {422}),
    ("null body", "/v1/reports", b"null", {422}),
    ("string body", "/v1/reports", b'"SEIZURE"', {422}),
    ("deep nesting 100000", "/v1/reports", b"[" * 100_000 + b"]" * 100_000, {400, 413, 422}),
    ("deep nesting in a field", "/v1/reports",
     json.dumps(factories.json_report(narrative=deep(900))).encode(), {400, 422}),
    ("huge number", "/v1/reports", json.dumps(factories.json_report()).encode().replace(
        b'"version": 1', b'"version": 1e400'), {400, 422}),
    ("64-bit overflow", "/v1/reports", json.dumps(factories.json_report(version=2**70)).encode(), {400, 422}),
    ("lone surrogate escape", "/v1/reports",
     json.dumps(factories.json_report(narrative="x\ud800y")).encode(), {400, 422}),
    ("NaN literal", "/v1/reports", json.dumps(factories.json_report(goods={"declared_weight_kg": float("nan")})).encode(),
     {400, 422}),
    ("wrong types everywhere", "/v1/reports", json.dumps({
        "kind": 1, "source_ref": [], "version": "one", "event_time": 5, "tlp": {}, "location": "KZ",
        "route": {}, "conveyance": [], "parties": "x", "substances": 7, "narrative": False}).encode(), {422}),
    ("container_numbers not a list", "/v1/reports", json.dumps(factories.json_report(
        conveyance={"mode": "SEA", "container_numbers": True})).encode(), {422}),
    ("oversized single report", "/v1/reports", json.dumps(factories.json_report(narrative="x" * 600_000)).encode(),
     {413}),
    ("narrative over the limit", "/v1/reports", json.dumps(factories.json_report(narrative="x" * 20_001)).encode(),
     {422}),
    ("batch over 1000 items", "/v1/reports/batch", json.dumps([factories.json_report()] * 1001).encode(), {413}),
    ("batch not a list", "/v1/reports/batch", b'{"a": 1}', {202, 400, 422}),
    ("NDJSON with a bad line", "/v1/reports/batch",
     json.dumps(factories.json_report()).encode() + b"\n{bad\n", {400}),
    ("empty batch", "/v1/reports/batch", b"[]", {422}),
    ("batch of nulls", "/v1/reports/batch", b"[null, 1, \"x\"]", {202}),
]


@pytest.mark.parametrize("name,path,body,expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_bodies_are_refused_clearly(ledger, gw: dict[str, Any], name: str, path: str, body: bytes,
                                            expected: set[int]) -> None:
    """Hostile bodies get a 4xx (or per-item errors) with a clear message, never a 5xx"""
    with httpx.Client(base_url=gw["url"], timeout=60) as client:
        r = _post(client, path, body, gw["tokens"]["agency"])
    assert r.status_code < 500, f"{name}: {r.status_code} {r.text[:300]}"
    assert r.status_code in expected, f"{name}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        assert _clear_rejection(r.status_code, r.text) is None, r.text[:300]
    else:
        assert all(x["status"] == 422 and x.get("errors") for x in r.json()["results"])
    ledger.record(status=r.status_code, bytes=len(body))


def test_declared_oversize_is_refused_before_reading(ledger, gw: dict[str, Any]) -> None:
    """A Content-Length over the limit is refused with 413 (the body is not buffered)"""
    with httpx.Client(base_url=gw["url"], timeout=60) as client:
        def chunks() -> Iterator[bytes]:
            for _ in range(40):
                yield b" " * (1024 * 1024)

        r = client.post("/v1/reports/batch", content=chunks(), headers={
            "Authorization": f"Bearer {gw['tokens']['agency']}", "Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:200]
    ledger.record(streamed_mb=40)


def test_field_errors_name_every_field(ledger, gw: dict[str, Any]) -> None:
    """A 422 lists every failing field path with a plain-words problem"""
    body = factories.json_report(kind="SEIZED", tlp="PURPLE", location={"country": "XX"},
                                 conveyance={"mode": "ROAD", "container_numbers": ["CSQU3054384"]},
                                 goods={"hs_code": "12"}, evaluation={"source": "Z", "information": 9})
    with httpx.Client(base_url=gw["url"], timeout=30) as client:
        r = _post(client, "/v1/reports", json.dumps(body).encode(), gw["tokens"]["agency"])
    assert r.status_code == 422, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    want = {"kind", "tlp", "location.country", "conveyance.container_numbers[0]", "goods.hs_code",
            "evaluation.source", "evaluation.information"}
    assert want <= fields, fields
    assert all(e["problem"] for e in r.json()["errors"])
    assert "check digit" in r.text or "3" in r.text  # names the expected digit
    ledger.record(fields_named=len(fields))


def test_html_in_narrative_is_stored_as_text(ledger, gw: dict[str, Any]) -> None:
    """HTML/script in a narrative is accepted as data (202); the answer does not echo it as markup"""
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    body = factories.json_report(source_ref="XSS-1", narrative=payload)
    with httpx.Client(base_url=gw["url"], timeout=30) as client:
        r = _post(client, "/v1/reports", json.dumps(body).encode(), gw["tokens"]["agency"])
    assert r.status_code == 202, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "<script>" not in r.text
