"""The OpenAPI contract: the gateway answers only what its document says.

Agencies generate clients from ``/openapi.json`` (SPEC §15): every status code an operation can
answer is documented with its body, and one error body shape is used everywhere
(:class:`hub.platform.http.ErrorBody`). Schemathesis generates valid and invalid requests for every
operation of the document of a real gateway, with agency, officer, auditor and no tokens, and checks
every answer with ``not_a_server_error``, ``status_code_conformance`` and
``response_schema_conformance``. The seed and the number of examples are fixed (the run is the same
every time; ``HUB_CONTRACT_EXAMPLES`` raises the budget for a soak run).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from hub.platform.kafka.topics import ensure_topics
from tests.conftest import TEST_METRICS_TOKEN
from tests.reliability.harness import Cluster, Tokens, private_settings

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("HUB_CONTRACT_EXAMPLES", "20"))  # per operation, token and mode
SEED = 20261207
STATE, AGENCY = "KZ", "KZ-CUSTOMS"


@pytest.fixture(scope="module")
def gw(private_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("contract")
    s = private_settings(private_broker, data / "hub")
    Path(s.data_dir).mkdir(parents=True, exist_ok=True)
    asyncio.run(ensure_topics(s))
    tokens = Tokens(s)
    tokens.agency("agency", AGENCY, STATE)
    tokens.officer("officer", "kz-desk", STATE)
    tokens.officer("auditor", "oversight", None, auditor=True)
    tokens.issued["metrics"] = TEST_METRICS_TOKEN
    tokens.issued["unknown"] = "hub_" + "0" * 40  # well-formed, never issued: 401
    cluster = Cluster(s, data)
    try:
        _, url = cluster.gateway()
        yield {"url": url, "tokens": tokens.issued}
    finally:
        cluster.stop_all()


def owner(path: str) -> str:
    """The token an operation is for (its successful answers need it)."""
    if path == "/metrics":
        return "metrics"
    if path.startswith("/v1/audit"):
        return "auditor"
    if path.startswith(("/v1/reports", "/v1/agency")):
        return "agency"
    return "officer"


def streams(op: Any) -> bool:
    """Server-Sent Events: a 200 never ends, so only tokens that are refused before it starts are sent."""
    ok = op.definition.raw.get("responses", {}).get("200", {})
    return "text/event-stream" in ok.get("content", {})


def plan(op: Any) -> list[tuple[str, GenerationMode, dict[str, Any] | None, int]]:
    """(token, mode, fixed path parameters, examples) runs for one operation."""
    mine = owner(op.path)
    if streams(op):  # refused before streaming: the other kinds of token, an unknown one
        refused = ["officer"] if mine == "agency" else ["agency", "auditor"]
        return [(t, m, None, max(2, EXAMPLES // 3)) for t in [*refused, "unknown"]
                for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    runs: list[tuple[str, GenerationMode, dict[str, Any] | None, int]] = [
        (mine, GenerationMode.POSITIVE, None, EXAMPLES), (mine, GenerationMode.NEGATIVE, None, EXAMPLES)]
    if "{state}" in op.path:  # the officer's own state: the answers past the seat check
        runs.append((mine, GenerationMode.POSITIVE, {"state": STATE}, EXAMPLES))
    others = [t for t in ("agency", "officer", "auditor") if t != mine]
    runs += [(t, GenerationMode.POSITIVE, None, max(2, EXAMPLES // 3)) for t in [*others, "unknown"]]
    return runs


def _one_shape(status: int, text: str) -> str | None:
    """None when an error body is the one shape (``error`` == ``detail``, a non-empty message)."""
    try:
        body = json.loads(text)
    except ValueError:
        return f"{status} without a JSON body: {text[:120]!r}"
    if not isinstance(body, dict) or not body.get("error") or body.get("error") != body.get("detail"):
        return f"{status} is not the error shape {{error, detail}}: {text[:200]}"
    return None


def _run(op: Any, url: str, token: str, mode: GenerationMode, path_parameters: dict[str, Any] | None,
         examples: int, statuses: Counter[str], problems: list[str]) -> Any:
    @seed(SEED)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        headers = dict(case.headers or {})
        headers["Authorization"] = f"Bearer {token}"
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        try:
            resp = case.call_and_validate(base_url=url, headers=headers, checks=CHECKS, timeout=30)
        except FailureGroup as exc:
            titles = sorted({f.title for f in exc.exceptions})
            problems.append(f"{where}: {'; '.join(titles)}\n{exc}"[:1500])
            return
        statuses[f"{op.method.upper()} {op.path} {resp.status_code}"] += 1
        if resp.status_code >= 400 and op.path != "/readyz":
            bad = _one_shape(resp.status_code, resp.text)
            if bad:
                problems.append(f"{where}: {bad}")

    return run


def test_every_answer_is_documented(ledger, gw: dict[str, Any]) -> None:
    """Schemathesis: no server error, every status documented, every body matches its documented schema"""
    schema = schemathesis.openapi.from_url(gw["url"] + "/openapi.json")
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    operations = 0
    no_cases = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        for token, mode, fixed, examples in plan(op):
            run = _run(op, gw["url"], gw["tokens"][token], mode, fixed, examples, statuses, problems)
            try:
                run()
            except Unsatisfiable:
                no_cases += 1  # no negative case exists for an operation without inputs
    requests = sum(statuses.values()) + len(problems)
    covered = {k.rsplit(" ", 1)[0] for k in statuses}
    codes = Counter(k.rsplit(" ", 1)[1] for k in statuses.elements())
    print(f"\nOpenAPI contract: {requests} requests over {len(covered)} of {operations} operations; "
          f"answers {dict(sorted(codes.items()))}; {len(problems)} failures")
    ledger.record(operations=operations, operations_covered=len(covered), requests=requests,
                  answers=dict(sorted(codes.items())), failures=len(problems), runs_without_cases=no_cases)
    assert operations >= 25, "the OpenAPI document lists too few operations"
    assert len(covered) == operations, f"operations never answered: {operations - len(covered)}"
    kinds = Counter(p.split("\n", 1)[0].split(" (", 1)[0] + " " + p.split("\n", 1)[0].rsplit(": ", 1)[-1]
                    for p in problems)
    assert not problems, (f"{len(problems)} failures: {dict(kinds)}\n" + "\n".join(problems[:3]))


def test_the_document_declares_one_error_shape(gw: dict[str, Any]) -> None:
    """Every 4xx/5xx of every operation is documented with the one error schema (readiness aside)"""
    import httpx

    doc = httpx.get(gw["url"] + "/openapi.json", timeout=30).json()
    wrong = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = op["responses"]
            if path != "/readyz" and not {"401", "422"} & set(codes) and path != "/healthz":
                wrong.append(f"{method.upper()} {path}: no error answer documented")
            for code, answer in codes.items():
                if int(code) < 400 or path == "/readyz":
                    continue
                ref = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                if ref != "#/components/schemas/ErrorBody":
                    wrong.append(f"{method.upper()} {path} {code}: {ref}")
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {})
    assert set(doc["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "detail"}
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path,token,field,status", [
    ("/v1/feeds/KZ/items?after=x", "officer", "after", 422),  # the cursor of the original finding
    ("/v1/feeds/KZ/items?after=" + "9" * 30, "officer", "after", 400),
    ("/v1/feeds/KZ/items?limit=0", "officer", "limit", 422),  # FastAPI's own parameter validation
    ("/v1/agency/receipts?limit=abc", "agency", "limit", 422),
    ("/v1/agency/requests?status=maybe", "agency", "status", 422),
    ("/v1/feeds/KZ/stats?by=colour", "officer", "by", 422),
    ("/v1/nowhere", "officer", None, 404),
])
def test_parameter_errors_answer_the_one_shape(gw: dict[str, Any], path: str, token: str, field: str | None,
                                               status: int) -> None:
    """A bad parameter (the handler's check or FastAPI's validation) answers {error, detail, errors?} naming it"""
    import httpx

    r = httpx.get(gw["url"] + path, headers={"Authorization": f"Bearer {gw['tokens'][token]}"}, timeout=30)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == body["detail"] and (field is None or body["error"].startswith(f"{field}:")), body
    if "errors" in body:
        assert [e["field"] for e in body["errors"]] == [field], body
