"""The analyst endpoints over real HTTP: gateway under uvicorn, `hub sink` (with the analyst projection)
as a subprocess, embedded broker. Incidents, search, stats, exports (GeoJSON validated, i2 parsed
back, EXPORTED in the audit trail) — and the attacker's side: another state's token, an auditor, no
token, a guessed incident id."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import geojson
import httpx
import pytest

from hub.analyst.label import label
from hub.codec import RECEIPT
from hub.kafka import producer, send_avro
from hub.topics import RECEIPTS
from tests.analyst.test_store import corpus
from tests.feeds.conftest import Stack, stack, wait_for  # noqa: F401  (module-scoped stack fixture)
from tests.feeds.test_feed_http import auth

ENDPOINTS = ("incidents", "incidents/I-1", "search?q=heroin", "stats?by=substance", "export.geojson", "export.csv",
             "export.i2.csv")


def produce_receipts(s: Stack, receipts: list[dict[str, Any]]) -> None:
    async def go() -> None:
        prod = producer(s.settings)
        await prod.start()
        try:
            for r in receipts:
                await send_avro(prod, RECEIPTS, RECEIPT, r, key=r["report_id"])
        finally:
            await prod.stop()

    asyncio.run(go())


@pytest.fixture(scope="module")
def loaded(stack: Stack) -> dict[str, str]:  # noqa: F811
    items, receipts = corpus()
    stack.produce(*items)
    produce_receipts(stack, receipts)
    tokens = {"UZ": stack.officer("uz-analyst", "UZ"), "KZ": stack.officer("kz-analyst", "KZ"),
              "auditor": stack.officer("oversight-analyst", None, auditor=True)}

    def indexed() -> bool:
        r = httpx.get(f"{stack.base}/v1/feeds/UZ/search", params={"q": ""}, headers=auth(tokens["UZ"]))
        return r.status_code == 200 and len(r.json()["results"]) == 4

    wait_for(indexed, what="the analyst index holds UZ's four reports")
    return tokens


def get(s: Stack, path: str, token: str | None, **params: Any) -> httpx.Response:
    return httpx.get(f"{s.base}/v1/feeds/{path}", params=params, headers=auth(token) if token else {}, timeout=30)


def test_incidents_search_and_stats(stack: Stack, loaded: dict[str, str]) -> None:  # noqa: F811
    uz = loaded["UZ"]
    page = get(stack, "UZ/incidents", uz).json()
    assert {i["incident_id"] for i in page["incidents"]} == {"I-1", "I-2", "I-SENT"}
    one = get(stack, "UZ/incidents/I-1", uz).json()
    assert one["reports"] == 2 and one["label"] == label("I-1") and one["timeline"]
    assert get(stack, f"UZ/incidents/{label('I-1').lower()}", uz).json()["incident_id"] == "I-1"
    res = get(stack, "UZ/search", uz, q="01 А 123 ВС").json()
    assert {r["item"]["report"]["source_ref"] for r in res["results"]} == {"S-1", "S-2"}
    assert all(r["cursor"] for r in res["results"])
    assert get(stack, "UZ/search", uz, q="", kind="ALERT").json()["results"][0]["item"]["report"]["kind"] == "ALERT"
    stats = get(stack, "UZ/stats", uz, by="substance").json()
    assert {b["key"] for b in stats["buckets"]} == {"HEROIN", "HASHISH", "COCAINE"}
    for bad in ({"by": "colour"}, {"by": "month", "from": "yesterday"}):
        assert get(stack, "UZ/stats", uz, **bad).status_code == 422
    assert get(stack, "UZ/search", uz, q="x", tlp="PURPLE").status_code == 422
    assert get(stack, "UZ/search", uz, q="x", cursor="nope").status_code == 422


def test_exports_stream_marked_and_audited(stack: Stack, loaded: dict[str, str]) -> None:  # noqa: F811
    uz = loaded["UZ"]
    r = get(stack, "UZ/export.geojson", uz)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert "attachment" in r.headers["content-disposition"]
    fc = geojson.loads(r.text)
    assert fc.is_valid, fc.errors()
    assert all(f["properties"]["tlp"] and f["properties"]["handling_code"] for f in fc["features"])
    i2 = list(csv.DictReader(io.StringIO(get(stack, "UZ/export.i2.csv", uz).text.lstrip("\ufeff"))))
    assert {row["from_type"] for row in i2} == {"Report", "Person"}
    rows = list(csv.DictReader(io.StringIO(get(stack, "UZ/export.csv", uz, incident="I-1").text.lstrip("\ufeff"))))
    assert {row["incident_id"] for row in rows} == {"I-1"} and len(rows) == 2
    rid = rows[0]["report_id"]

    def exported() -> list[dict[str, Any]] | None:
        t = httpx.get(f"{stack.base}/v1/audit/trail/{rid}", headers=auth(loaded["auditor"]))
        ev = [e for e in t.json()["events"] if e["stage"] == "EXPORTED"] if t.status_code == 200 else []
        return ev if len({e["detail"]["format"] for e in ev}) == 3 else None

    events = wait_for(exported, what="EXPORTED for every format in the audit trail")
    assert all(e["actor"] == "officer:uz-analyst" and e["state"] == "UZ" for e in events)
    assert {e["detail"]["format"] for e in events} == {"geojson", "csv", "i2.csv"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_another_states_officer_an_auditor_or_no_token_get_nothing(stack: Stack, loaded: dict[str, str],  # noqa: F811
                                                                   path: str) -> None:
    for token, status in ((loaded["KZ"], 403), (loaded["auditor"], 403), (None, 401), ("hko_forged", 401)):
        r = get(stack, f"UZ/{path}", token)
        assert r.status_code == status, (path, token, r.text)
        assert "heroin" not in r.text.lower() and "I-1" not in r.text


def test_a_guessed_incident_id_looks_like_any_unknown_one(stack: Stack, loaded: dict[str, str]) -> None:  # noqa: F811
    kz = loaded["KZ"]
    assert get(stack, "KZ/incidents/I-9", kz).status_code == 200  # KZ's own incident
    theirs = get(stack, "UZ/incidents/I-9", loaded["UZ"])  # exists, but only for KZ
    made_up = get(stack, "UZ/incidents/I-0000000000000000000", loaded["UZ"])
    assert theirs.status_code == made_up.status_code == 404
    assert theirs.json()["detail"].replace("I-9", "X") == made_up.json()["detail"].replace("I-0000000000000000000", "X")
    assert get(stack, f"UZ/incidents/{label('I-9')}", loaded["UZ"]).status_code == 404
    assert get(stack, "UZ/export.csv", loaded["UZ"], incident="I-9").status_code == 404
    # KZ sees neither UZ's reports nor its incidents through any of its own endpoints
    assert get(stack, "KZ/incidents/I-1", kz).status_code == 404
    assert get(stack, "KZ/search", kz, q="Khujand").json()["results"] == []
