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
from hub.domain.codec import RECEIPT
from hub.domain.wire import send_avro
from hub.platform.kafka.io import producer
from hub.platform.kafka.topics import RECEIPTS
from tests.analyst.test_store import corpus
from tests.feeds.conftest import Stack, stack, wait_for  # noqa: F401  (module-scoped stack fixture)
from tests.feeds.test_feed_http import auth

# The stacks of the test modules share the session's broker: these tests use states no other module
# publishes feed items for (PK and IR; the corpus is written for UZ and KZ and moved here).
MOVE = {"UZ": "PK", "KZ": "IR"}
ENDPOINTS = ("incidents", "incidents/I-1", "search?q=heroin", "stats?by=substance", "export.geojson", "export.csv",
             "export.i2.csv")


def moved(item: dict[str, Any]) -> dict[str, Any]:
    """A corpus feed item for the recipient it is moved to."""
    rcp = MOVE.get(item["recipient"], item["recipient"])
    rep = item["report"]
    return {**item, "recipient": rcp, "item_id": f"{rep['report_id']}:{rep['version']}:{rcp}"}


def moved_receipt(receipt: dict[str, Any]) -> dict[str, Any]:
    state = MOVE.get(receipt["state"], receipt["state"])
    return {**receipt, "state": state, "report": {**receipt["report"], "reporter_state": state}}


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
    stack.produce(*(moved(i) for i in items))
    produce_receipts(stack, [moved_receipt(r) for r in receipts])
    tokens = {"PK": stack.officer("pk-analyst", "PK"), "IR": stack.officer("ir-analyst", "IR"),
              "auditor": stack.officer("oversight-analyst", None, auditor=True)}

    def indexed() -> bool:
        r = httpx.get(f"{stack.base}/v1/feeds/PK/search", params={"q": ""}, headers=auth(tokens["PK"]))
        return r.status_code == 200 and len(r.json()["results"]) == 4

    wait_for(indexed, what="the analyst index holds UZ's four reports")
    return tokens


def get(s: Stack, path: str, token: str | None, **params: Any) -> httpx.Response:
    return httpx.get(f"{s.base}/v1/feeds/{path}", params=params, headers=auth(token) if token else {}, timeout=30)


def test_incidents_search_and_stats(stack: Stack, loaded: dict[str, str]) -> None:  # noqa: F811
    uz = loaded["PK"]
    page = get(stack, "PK/incidents", uz).json()
    assert {i["incident_id"] for i in page["incidents"]} == {"I-1", "I-2", "I-SENT"}
    one = get(stack, "PK/incidents/I-1", uz).json()
    assert one["reports"] == 2 and one["label"] == label("I-1") and one["timeline"]
    assert get(stack, f"PK/incidents/{label('I-1').lower()}", uz).json()["incident_id"] == "I-1"
    res = get(stack, "PK/search", uz, q="01 А 123 ВС").json()
    assert {r["item"]["report"]["source_ref"] for r in res["results"]} == {"S-1", "S-2"}
    assert all(r["cursor"] for r in res["results"])
    assert get(stack, "PK/search", uz, q="", kind="ALERT").json()["results"][0]["item"]["report"]["kind"] == "ALERT"
    stats = get(stack, "PK/stats", uz, by="substance").json()
    assert {b["key"] for b in stats["buckets"]} == {"HEROIN", "HASHISH", "COCAINE"}
    for bad in ({"by": "colour"}, {"by": "month", "from": "yesterday"}):
        assert get(stack, "PK/stats", uz, **bad).status_code == 422
    assert get(stack, "PK/search", uz, q="x", tlp="PURPLE").status_code == 422
    assert get(stack, "PK/search", uz, q="x", cursor="nope").status_code == 422


def test_exports_stream_marked_and_audited(stack: Stack, loaded: dict[str, str]) -> None:  # noqa: F811
    uz = loaded["PK"]
    r = get(stack, "PK/export.geojson", uz)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert "attachment" in r.headers["content-disposition"]
    fc = geojson.loads(r.text)
    assert fc.is_valid, fc.errors()
    assert all(f["properties"]["tlp"] and f["properties"]["handling_code"] for f in fc["features"])
    i2 = list(csv.DictReader(io.StringIO(get(stack, "PK/export.i2.csv", uz).text.lstrip("\ufeff"))))
    assert {row["from_type"] for row in i2} == {"Report", "Person"}
    rows = list(csv.DictReader(io.StringIO(get(stack, "PK/export.csv", uz, incident="I-1").text.lstrip("\ufeff"))))
    assert {row["incident_id"] for row in rows} == {"I-1"} and len(rows) == 2
    rid = rows[0]["report_id"]

    def exported() -> list[dict[str, Any]] | None:
        t = httpx.get(f"{stack.base}/v1/audit/trail/{rid}", headers=auth(loaded["auditor"]))
        ev = [e for e in t.json()["events"] if e["stage"] == "EXPORTED"] if t.status_code == 200 else []
        return ev if len({e["detail"]["format"] for e in ev}) == 3 else None

    events = wait_for(exported, what="EXPORTED for every format in the audit trail")
    assert all(e["actor"] == "officer:pk-analyst" and e["state"] == "PK" for e in events)
    assert {e["detail"]["format"] for e in events} == {"geojson", "csv", "i2.csv"}


@pytest.mark.parametrize("path", ENDPOINTS)
def test_another_states_officer_an_auditor_or_no_token_get_nothing(stack: Stack, loaded: dict[str, str],  # noqa: F811
                                                                   path: str) -> None:
    for token, status in ((loaded["IR"], 403), (loaded["auditor"], 403), (None, 401), ("hko_forged", 401)):
        r = get(stack, f"PK/{path}", token)
        assert r.status_code == status, (path, token, r.text)
        assert "heroin" not in r.text.lower() and "I-1" not in r.text


def test_a_guessed_incident_id_looks_like_any_unknown_one(stack: Stack, loaded: dict[str, str]) -> None:  # noqa: F811
    kz = loaded["IR"]
    assert get(stack, "IR/incidents/I-9", kz).status_code == 200  # KZ's own incident
    theirs = get(stack, "PK/incidents/I-9", loaded["PK"])  # exists, but only for KZ
    made_up = get(stack, "PK/incidents/I-0000000000000000000", loaded["PK"])
    assert theirs.status_code == made_up.status_code == 404
    assert theirs.json()["detail"].replace("I-9", "X") == made_up.json()["detail"].replace("I-0000000000000000000", "X")
    assert get(stack, f"PK/incidents/{label('I-9')}", loaded["PK"]).status_code == 404
    assert get(stack, "PK/export.csv", loaded["PK"], incident="I-9").status_code == 404
    # KZ sees neither UZ's reports nor its incidents through any of its own endpoints
    assert get(stack, "IR/incidents/I-1", kz).status_code == 404
    assert get(stack, "IR/search", kz, q="Khujand").json()["results"] == []


def test_a_report_opens_when_held_and_says_not_in_your_feed_otherwise(stack: Stack,  # noqa: F811
                                                                       loaded: dict[str, str]) -> None:
    items, receipts = corpus()
    rid = {i["report"]["source_ref"]: i["report"]["report_id"] for i in items}
    pk = loaded["PK"]
    one = get(stack, f"PK/reports/{rid['S-1']}", pk)
    assert one.status_code == 200 and one.json()["item"]["report"]["source_ref"] == "S-1" and one.json()["cursor"]
    sent = get(stack, f"PK/reports/{receipts[0]['report_id']}", pk).json()
    assert sent["direction"] == "sent" and sent["receipt_id"]
    theirs = get(stack, f"PK/reports/{rid['S-9']}", pk)  # IR's report: exists, but not for PK
    made_up = get(stack, "PK/reports/0000000000000000000000", pk)
    assert theirs.status_code == made_up.status_code == 404
    assert theirs.json()["detail"].replace(rid["S-9"], "X") == made_up.json()["detail"].replace("0" * 22, "X")
    assert get(stack, f"IR/reports/{rid['S-9']}", loaded["IR"]).status_code == 200
    for token, status in ((loaded["IR"], 403), (loaded["auditor"], 403), (None, 401)):
        assert get(stack, f"PK/reports/{rid['S-1']}", token).status_code == status
