"""The agency directory, keys and the idempotency ledger on PostgreSQL (HUB_DATABASE_URL), through a real
gateway process."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import httpx
import orjson

from hub.directory.agencies import Directory
from hub.platform.db import Database
from hub.platform.kafka.embedded import EmbeddedBroker, free_port
from tests.connectors.conftest import Gateway, module_settings
from tests.factories import json_report


def test_gateway_on_postgres(postgres_url: str, broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = dataclasses.replace(module_settings(broker, tmp_path / "hub"), database_url=postgres_url)
    d = Directory(Database(postgres_url), settings.states)
    d.add("UZ-CUSTOMS", "UZ", "Customs Committee of Uzbekistan")
    key = d.issue_key("UZ-CUSTOMS")
    assert [a.code for a in d.list()] == ["UZ-CUSTOMS"]
    g = Gateway(settings, free_port(), tmp_path / "gw.log").start()
    try:
        ref = f"PG-{uuid.uuid4().hex[:8]}"

        def post(**over: object) -> httpx.Response:
            return httpx.post(f"{g.url}/v1/reports", content=orjson.dumps(json_report(source_ref=ref, **over)),
                              headers={"Authorization": f"Bearer {key}"}, timeout=30)

        first = post(version=2)
        assert first.status_code == 202 and first.json()["duplicate"] is False
        again = post(version=2)
        assert again.status_code == 202 and again.json()["duplicate"] is True
        assert post(version=1).status_code == 409
        rows = Database(postgres_url).query("SELECT agency, source_ref, version FROM ingest_ledger")
        assert rows == [{"agency": "UZ-CUSTOMS", "source_ref": ref, "version": 2}]
    finally:
        g.stop()
