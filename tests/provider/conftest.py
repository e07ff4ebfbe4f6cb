"""Provider fixtures: builders of the records the sink hands to the provider projection (Receipts of
release v2 and audit events, decoded exactly as the sink decodes them) and the databases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.domain.audit_events import audit_event
from hub.domain.codec import AUDIT_EVENT, RECEIPT, codec
from hub.platform.kafka.topics import AUDIT, RECEIPTS
from hub.sink import classify
from tests.audit.conftest import db_url, pg_server, pg_url  # noqa: F401
from tests.factories import report

T0 = 1_767_000_000_000  # a fixed "now" in epoch ms


@dataclass
class Rec:
    """A consumed record as the sink sees it."""

    topic: str
    value: bytes
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: tuple = ()


def uz_report(ref: str = "UZ-DESK-1", version: int = 1, **over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "agency": "UZ-CUSTOMS", "state": "UZ", "source_ref": ref, "version": version, "handling_code": "H2",
        "route": [{"country": "UZ", "place": "Tashkent"}, {"country": "KZ", "place": None},
                  {"country": "RU", "place": None}],
        "location": {"country": "UZ", "place": "Yallama", "unlocode": None, "lat": None, "lon": None}}
    return report(**(fields | over))


def receipt(rep: dict[str, Any], recipients: list[tuple[str, str]], *, at: int = T0 + 1000,
            request_id: str | None = None, incident: str = "I-uz-1") -> dict[str, Any]:
    rid, ver = rep["report_id"], rep["version"]
    return {
        "receipt_id": f"{rid}:{ver}" + (f":share:{request_id}" if request_id else ""),
        "report_id": rid, "version": ver, "agency": rep["agency"], "state": rep["reporter_state"],
        "incident_id": incident, "report": rep,
        "recipients": [{"recipient": r, "delivery": d, "reason": "on the route or at the location (AMBER)"
                        if d != "SHARED" else f"shared with consent ({request_id})",
                        "redacted": r in ("AF", "CN")} for r, d in recipients],
        "routed_at": at,
    }


def stage(name: str, rep: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
    base = {"report_id": rep["report_id"], "version": rep["version"], "agency": rep["agency"],
            "state": rep["reporter_state"], "trace_id": rep["trace_id"]}
    base.update(kw)
    return audit_event(name, occurred_at=at, **base)


def records(*values: dict[str, Any]) -> list[Rec]:
    """Encode receipts and audit events as their topics carry them."""
    out = []
    for i, v in enumerate(values):
        if "receipt_id" in v:
            out.append(Rec(RECEIPTS, codec().encode(RECEIPT, v), offset=i))
        else:
            out.append(Rec(AUDIT, codec().encode(AUDIT_EVENT, v), offset=i))
    return out


def batch(*values: dict[str, Any]) -> Any:
    """The decoded batch the sink hands to projections."""
    b = classify(records(*values))
    assert not b.dead_letters, b.dead_letters
    return b


# -- a real stack: `hub sink` subprocess (with the provider projection) and the gateway under uvicorn --
import asyncio  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

from hub.audit.store import AuditStore  # noqa: E402
from hub.directory.agencies import Directory  # noqa: E402
from hub.directory.desk_users import DeskUsers  # noqa: E402
from hub.directory.officers import Officers  # noqa: E402
from hub.domain.wire import audit_key, headers, send_avro  # noqa: E402
from hub.feeds.store import FeedStore  # noqa: E402
from hub.platform.db import Database  # noqa: E402
from hub.platform.kafka.embedded import EmbeddedBroker, free_port  # noqa: E402
from hub.platform.kafka.io import producer  # noqa: E402
from hub.platform.kafka.topics import ensure_topics, feed  # noqa: E402
from hub.platform.settings import Settings  # noqa: E402
from hub.provider.store import ReceiptStore, RequestStore  # noqa: E402
from tests.conftest import HUB, hub_env, hub_settings  # noqa: E402
from tests.feeds.cdp import browser  # noqa: E402,F401  (the fixture, for the page tests)
from tests.helpers import ThreadGateway as Gateway  # noqa: E402
from tests.helpers import stop_process, wait_until  # noqa: E402


def wait_for(check: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll until ``check()`` is truthy (a hang guard, not a performance assertion)."""
    return wait_until(check, timeout, what, every=0.1)


@dataclass
class PStack:
    settings: Settings
    base: str
    db: Database
    gateway: Gateway
    logs: Path

    def agency(self, code: str, state: str) -> str:
        d = Directory(self.db, self.settings.states)
        d.add(code, state, f"{code} (test)")
        return d.issue_key(code)

    def desk(self, name: str, agency: str) -> str:
        return DeskUsers(self.db, self.settings.states).add(name, agency)

    def officer(self, name: str, state: str | None, auditor: bool = False) -> str:
        return Officers(self.db, self.settings).add(name, state, auditor)

    def send(self, *values: dict[str, Any]) -> None:
        """Produce feed items, receipts and audit events as the pipeline would."""
        from hub.domain.codec import AUDIT_EVENT, FEED_ITEM, RECEIPT
        from hub.platform.kafka.topics import AUDIT, RECEIPTS

        async def go() -> None:
            prod = producer(self.settings)
            await prod.start()
            try:
                for v in values:
                    if "receipt_id" in v:
                        await send_avro(prod, RECEIPTS, RECEIPT, v, key=v["report_id"])
                    elif "item_id" in v:
                        await send_avro(prod, feed(v["recipient"]), FEED_ITEM, v, key=v["incident_id"],
                                        headers=headers(trace_id=v["report"].get("trace_id"), item_id=v["item_id"]))
                    else:
                        await send_avro(prod, AUDIT, AUDIT_EVENT, v, key=audit_key(v))
            finally:
                await prod.stop()

        asyncio.run(go())

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        h = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.base + path, headers=h, params=params, timeout=30)

    def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        h = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.base + path, json=body, headers=h, timeout=30)

    def trail(self, report_id: str) -> list[dict[str, Any]]:
        return AuditStore(self.db).trail(report_id)

    def audit_events(self, stage: str) -> list[dict[str, Any]]:
        import json as _json

        rows = self.db.query("SELECT event FROM audit_log WHERE stage = ? ORDER BY seq", (stage,))
        return [_json.loads(r["event"]) for r in rows]


def start_stack(broker_port: int, data: Path, **overrides: Any) -> tuple[PStack, subprocess.Popen[bytes]]:
    s = hub_settings(embedded_port=broker_port, data_dir=str(data / "hub"), partitions=2, gateway_port=free_port(),
                     denial_window_seconds=1, **overrides)
    asyncio.run(ensure_topics(s))
    db = Database(s.db_url)
    FeedStore(db), AuditStore(db), ReceiptStore(db), RequestStore(db), DeskUsers(db)  # tables before the race
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / "sink.log", "wb") as out:
        sink = subprocess.Popen([*HUB, "sink", "--port", "0", "--group", f"sink-{data.name}"],
                                env=hub_env(s), stdout=out, stderr=subprocess.STDOUT)
    gw = Gateway(s)
    gw.start()
    wait_for(lambda: b"sink started" in (logs / "sink.log").read_bytes() or sink.poll() is not None, 60, "sink")
    assert sink.poll() is None, (logs / "sink.log").read_text()
    return PStack(s, f"http://127.0.0.1:{s.gateway_port}", db, gw, logs), sink


@pytest.fixture(scope="module")
def pstack(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PStack]:
    st, sink = start_stack(broker.port, tmp_path_factory.mktemp("provider-stack"))
    try:
        yield st
    finally:
        st.gateway.stop()
        stop_process(sink, 10)
        st.db.close()
