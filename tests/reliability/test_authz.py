"""Authorization matrix: every token kind × every endpoint of the gateway.

Agency keys, officers of a member state, of the centre and of a partner, auditors, no token,
a revoked token and forged tokens are tried on every endpoint; only the allowed answers come
back, reporter spoofing is refused, every denial is audited, and no token is stored or logged in
clear.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.directory.auth import hash_token
from hub.domain.codec import AUDIT_BATCH, DecodeError, codec
from hub.platform.kafka.topics import AUDIT, ensure_topics
from tests import factories
from tests.helpers import denials_by_path
from tests.reliability.harness import Cluster, Tokens, private_settings, read_topics

STATE, OTHER, PARTNER = "KZ", "UZ", "AF"


@pytest.fixture(scope="module")
def hub(private_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import asyncio

    data = tmp_path_factory.mktemp("authz")
    settings = private_settings(private_broker, data / "hub")
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    asyncio.run(ensure_topics(settings))
    tokens = Tokens(settings)
    tokens.agency("agency", "KZ-CUSTOMS", STATE)
    tokens.agency("agency_other", "UZ-CUSTOMS", OTHER)
    tokens.officer("officer", "kz-desk", STATE)
    tokens.officer("officer_other", "uz-desk", OTHER)
    tokens.officer("officer_centre", "caricc-analyst", "CARICC")
    tokens.officer("officer_partner", "af-desk", PARTNER)
    tokens.officer("auditor", "oversight", None, auditor=True)
    revoked = tokens.officer("revoked", "kz-former", STATE)
    tokens.revoke(revoked)
    revoked_agency = tokens.agency("revoked_agency", "KZ-BORDER", STATE)
    tokens.revoke(revoked_agency)
    # ACCESS_DENIED is aggregated per source and window: a 1 s window lets the counted records arrive soon
    cluster = Cluster(settings, data, env_extra={"HUB_DENIAL_WINDOW_SECONDS": "1"})
    try:
        _, url = cluster.gateway()
        yield {"settings": settings, "tokens": tokens, "url": url, "cluster": cluster}
    finally:
        cluster.stop_all()


def principals(tokens: Tokens) -> dict[str, str | None]:
    t = tokens.issued
    good = t["officer"]
    return {
        **{k: v for k, v in t.items()},
        "none": None,
        "forged_random": "hko_" + secrets.token_urlsafe(32),
        "forged_mutated": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "forged_prefix_swap": "hkx_" + good[4:],  # an officer token posing as an auditor's
        "stored_hash": hash_token(good),  # what a DB thief would hold
    }


VALID = {"agency", "agency_other", "officer", "officer_other", "officer_centre", "officer_partner", "auditor"}
VALID_LABELS = {"agency:KZ-CUSTOMS", "agency:UZ-CUSTOMS", "officer:kz-desk", "officer:uz-desk",
                "officer:caricc-analyst", "officer:af-desk", "auditor:oversight"}


def endpoints(report_id: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(name, method, path, request kwargs)."""
    body = factories.json_report(source_ref=f"AUTHZ-{secrets.token_hex(4)}")
    return [
        ("publish", "POST", "/v1/reports", {"json": body}),
        ("publish_batch", "POST", "/v1/reports/batch", {"json": [body]}),
        ("feed_items_own", "GET", f"/v1/feeds/{STATE}/items", {}),
        ("feed_items_other", "GET", f"/v1/feeds/{OTHER}/items", {}),
        ("feed_items_centre", "GET", "/v1/feeds/CARICC/items", {}),
        ("feed_items_partner", "GET", f"/v1/feeds/{PARTNER}/items", {}),
        ("feed_sse_own", "GET", f"/v1/feeds/{STATE}", {}),
        ("feed_sse_other", "GET", f"/v1/feeds/{OTHER}", {}),
        ("ack_own", "POST", f"/v1/feeds/{STATE}/ack", {"json": {"report_id": report_id}}),
        ("ack_other", "POST", f"/v1/feeds/{OTHER}/ack", {"json": {"report_id": report_id}}),
        ("audit_trail", "GET", f"/v1/audit/trail/{report_id}", {}),
        ("audit_verify", "GET", "/v1/audit/verify", {}),
        ("whoami", "GET", "/v1/whoami", {}),
    ]


FEED_OWNER = {"feed_items_own": "officer", "feed_items_other": "officer_other", "feed_items_centre": "officer_centre",
              "feed_items_partner": "officer_partner", "feed_sse_own": "officer", "feed_sse_other": "officer_other",
              "ack_own": "officer", "ack_other": "officer_other"}


def allowed(who: str, endpoint: str) -> set[int]:
    """The answers the matrix allows (SPEC §7, §8, §9)."""
    if who not in VALID:
        return {401}
    if endpoint.startswith("publish"):
        return {202} if who.startswith("agency") else {403}
    if endpoint in FEED_OWNER:
        if who != FEED_OWNER[endpoint]:
            return {403}
        return {404} if endpoint.startswith("ack") else {200}  # nothing to acknowledge yet
    if endpoint.startswith("audit"):
        return {200, 404} if who == "auditor" else {403}
    if endpoint == "whoami":
        return {200}
    raise AssertionError(endpoint)


def call(client: httpx.Client, method: str, path: str, token: str | None, kwargs: dict[str, Any]) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if method == "GET" and path.startswith("/v1/feeds/") and not path.endswith("/items"):
        with client.stream("GET", path, headers=headers, timeout=10) as r:
            if r.status_code == 200:
                next(r.iter_raw())  # the stream really opened
            return r.status_code
    return client.request(method, path, headers=headers, timeout=30, **kwargs).status_code


@pytest.fixture(scope="module")
def matrix(hub: dict[str, Any]) -> dict[tuple[str, str], int]:
    report_id = "R-000000000000000000000000"
    results: dict[tuple[str, str], int] = {}
    with httpx.Client(base_url=hub["url"]) as client:
        for who, token in principals(hub["tokens"]).items():
            for name, method, path, kwargs in endpoints(report_id):
                results[(who, name)] = call(client, method, path, token, kwargs)
    return results


def test_only_allowed_answers(ledger, matrix: dict[tuple[str, str], int]) -> None:
    """Every token kind on every endpoint gets only the allowed answer"""
    wrong = {k: (v, sorted(allowed(*k))) for k, v in matrix.items() if v not in allowed(*k)}
    ledger.record(requests=len(matrix), principals=len({w for w, _ in matrix}),
                  endpoints=len({e for _, e in matrix}), wrong_answers=len(wrong),
                  answers=dict(Counter(str(v) for v in matrix.values())))
    assert not wrong, f"unexpected answers (got, allowed): {wrong}"
    assert not [v for v in matrix.values() if v >= 500]


def test_malformed_authorization_headers(ledger, hub: dict[str, Any]) -> None:
    """Basic auth, a bare token, an empty Bearer and a token with spaces: 401, never 5xx"""
    token = hub["tokens"].issued["officer"]
    bad = [f"Basic {token}", token, "Bearer", "Bearer ", f"Bearer  {token} x", f"bearer{token}",
           "Bearer " + "x" * 10_000, "Bearer \u00e9\u00e9"]
    with httpx.Client(base_url=hub["url"]) as client:
        for header in bad:
            for path in (f"/v1/feeds/{STATE}/items", "/v1/audit/verify"):
                try:
                    r = client.get(path, headers={"Authorization": header}, timeout=10)
                except (httpx.LocalProtocolError, UnicodeEncodeError):
                    continue  # the client itself refuses to send it
                assert r.status_code == 401, (header[:40], path, r.status_code, r.text[:200])
                ledger.add("malformed_headers_refused")


def test_reporter_spoofing_is_refused(ledger, hub: dict[str, Any]) -> None:
    """An agency key cannot publish as another agency or state; the accepted report carries the key's identity"""
    key = hub["tokens"].issued["agency"]
    h = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=hub["url"], headers=h, timeout=30) as client:
        for claim in ({"agency": "UZ-CUSTOMS"}, {"reporter_state": OTHER}, {"agency": "KZ-CUSTOMS", "reporter_state": OTHER}):
            body = factories.json_report(source_ref=f"SPOOF-{secrets.token_hex(4)}", **claim)
            r = client.post("/v1/reports", json=body)
            assert r.status_code == 403, (claim, r.status_code, r.text)
            assert "agency" in r.text or "state" in r.text
            ledger.add("spoofing_attempts_refused")
            rb = client.post("/v1/reports/batch", json=[body])
            assert rb.status_code in (202, 403)
            if rb.status_code == 202:
                assert rb.json()["results"][0]["status"] == 403
            ledger.add("spoofing_attempts_refused")
        # an officer token cannot publish either
        officer = hub["tokens"].issued["officer"]
        r = client.post("/v1/reports", json=factories.json_report(), headers={"Authorization": f"Bearer {officer}"})
        assert r.status_code == 403


@pytest.fixture(scope="module")
def audit_events(hub: dict[str, Any], matrix: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    time.sleep(2.5)  # the last 1 s denial window closes and its counted record is produced
    records = read_topics(hub["settings"], [AUDIT], quiet_s=3.0)
    events, bad = decode_audit(records)
    assert bad == 0
    return events


def decode_audit(records: list[Any]) -> tuple[list[dict[str, Any]], int]:
    """Audit events of AuditEvent and AuditBatch records; and how many records did not decode."""
    events, bad = [], 0
    for r in records:
        try:
            name, value = codec().decode_named(r.value)
        except DecodeError:
            bad += 1
            continue
        events += value["events"] if name == AUDIT_BATCH else [value]
    return events, bad


@pytest.mark.parametrize("status", [403, 401])
def test_every_denial_is_audited(ledger, status: int, matrix: dict[tuple[str, str], int],
                                 audit_events: list[dict[str, Any]]) -> None:
    """Every denial (403 forbidden / 401 no valid token) left an audit event (ACCESS_DENIED, or REJECTED for a refused publish)"""
    paths = {name: path for name, _m, path, _k in endpoints("R-000000000000000000000000")}
    denials = Counter(name for (_who, name), got in matrix.items() if got == status)
    denied = [e for e in audit_events if e["stage"] == "ACCESS_DENIED"
              and (e.get("actor") in VALID_LABELS) == (status == 403)]
    by_path = denials_by_path(denied)
    # a refused publish by a non-agency token may be audited as REJECTED (the matrix's agencies never are)
    refused_publish = sum(1 for e in audit_events if e["stage"] == "REJECTED"
                          and not str(e.get("actor") or "").startswith("agency:"))
    missing = {}
    for name, n in sorted(denials.items()):
        seen = by_path.get(paths[name], 0) + (refused_publish if name.startswith("publish") and status == 403 else 0)
        if seen < n:
            missing[name] = f"{n} x {status}, {seen} audit events"
    ledger.record(denials=sum(denials.values()), access_denied_events=len(denied),
                  endpoints_with_unaudited_denials=len(missing))
    for name, text in missing.items():
        ledger.finding(f"gateway: {status} denials on {name} are not all audited ({text})")
    assert not missing, f"denials without an audit event: {missing}"


def test_no_secret_in_clear(ledger, hub: dict[str, Any], matrix: dict[tuple[str, str], int]) -> None:
    """No issued token appears in clear in the database or in the gateway's log"""
    tokens = [t for t in principals(hub["tokens"]).values() if t and len(t) > 20 and t.startswith("hk")]
    db_path = Path(hub["settings"].db_url.removeprefix("sqlite:///"))
    blob = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    con = sqlite3.connect(db_path)
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    logs = hub["cluster"].logs()
    leaks = [t[:8] + "…" for t in tokens if t.encode() in blob or t in dump or t in logs
             or t[4:] in logs or t[4:] in dump]
    ledger.record(tokens_checked=len(tokens), db_bytes=len(blob), log_bytes=len(logs), leaks=len(leaks))
    assert logs, "the gateway wrote no log at all"
    assert not leaks, f"tokens found in clear: {leaks}"
    # the stored form is the hash, and a stored hash is not itself a credential (checked in the matrix)
    assert hash_token(hub["tokens"].issued["officer"]) in dump
