"""The TAXII 2.1 server (hub/interop/taxii.py) on a real gateway: discovery, collections per token,
Accept negotiation, Bearer and Basic credentials, paging with ``next`` while the feed grows, the
``added_after`` and ``match[...]`` filters, manifest and versions, TAXII error bodies, audit."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from hub.interop import stix
from hub.interop.taxii import ROOT, TAXII, collection_id
from tests.factories import report
from tests.interop import world
from tests.interop.conftest import Gateway
from tests.interop.test_stix import collection as expected_collection
from tests.pipeline.decide_support import run_events


def taxii_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == TAXII
    body = r.json()
    assert body["http_status"] == str(status) and body["title"] and body["description"]
    return body


def every(gw: Gateway, state: str, token: str, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """All objects of a collection, page by page following ``next``; (objects, pages)."""
    out: list[dict[str, Any]] = []
    pages = 0
    nxt = None
    while True:
        r = gw.get(gw.collection(state) + "objects/", token, params={"limit": limit, **params,
                                                                       **({"next": nxt} if nxt else {})})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == TAXII
        body = r.json()
        pages += 1
        out += body.get("objects", [])
        if not body["more"]:
            assert "next" not in body
            return out, pages
        assert len(body["objects"]) == limit
        nxt = body["next"]


def test_discovery_api_root_and_collections_per_token(gateway: Gateway) -> None:
    kz = gateway.tokens["KZ"]
    d = gateway.get("/taxii2/", kz)
    assert d.status_code == 200 and d.headers["content-type"] == TAXII
    assert d.json()["api_roots"] == [ROOT] and d.json()["default"] == ROOT
    root = gateway.get(ROOT, kz).json()
    assert root["versions"] == [TAXII] and root["max_content_length"] > 0
    cols = gateway.get(ROOT + "collections/", kz).json()["collections"]
    assert [(c["id"], c["alias"], c["can_read"], c["can_write"], c["media_types"]) for c in cols] == [
        (collection_id("KZ"), "kz", True, False, ["application/stix+json;version=2.1"])]
    assert gateway.get(ROOT + "collections/", gateway.tokens["CARICC"]).json()["collections"][0]["id"] == \
        collection_id("CARICC")
    for other in ("auditor", "agency"):  # auditors and agencies: no collection
        assert gateway.get(ROOT + "collections/", gateway.tokens[other]).json() == {}
    assert gateway.get(gateway.collection("KZ"), kz).json()["title"] == "Feed of KZ"


def test_credentials_bearer_or_basic_and_taxii_errors(gateway: Gateway) -> None:
    kz = gateway.tokens["KZ"]
    url = gateway.collection("KZ") + "objects/"
    missing = gateway.get(url, None)
    taxii_error(missing, 401)
    assert "Basic" in missing.headers["www-authenticate"] and "Bearer" in missing.headers["www-authenticate"]
    taxii_error(gateway.get(url, "hko_not-a-token"), 401)
    basic = base64.b64encode(f"anyone:{kz}".encode()).decode()
    by_basic = httpx.get(url, headers={"Accept": TAXII, "Authorization": f"Basic {basic}"}, timeout=30)
    assert by_basic.status_code == 200 and by_basic.json() == gateway.get(url, kz).json()
    wrong = base64.b64encode(b"KZ:hko_wrong").decode()
    taxii_error(httpx.get(url, headers={"Accept": TAXII, "Authorization": f"Basic {wrong}"}, timeout=30), 401)
    # Accept negotiation: TAXII 2.1 (or a wildcard) only
    for ok in ("application/taxii+json;version=2.1", "application/taxii+json", "*/*",
               "text/html, application/taxii+json;version=2.1;q=0.9"):
        assert gateway.get(url, kz, Accept=ok).status_code == 200, ok
    for bad in ("application/json", "application/taxii+json;version=2.0", "text/html"):
        taxii_error(gateway.get(url, kz, Accept=bad), 406)
    # parameters are checked and named
    assert "limit" in taxii_error(gateway.get(url, kz, params={"limit": "ten"}), 400)["description"]
    assert "next" in taxii_error(gateway.get(url, kz, params={"next": "abc"}), 400)["description"]
    assert "added_after" in taxii_error(gateway.get(url, kz, params={"added_after": "yesterday"}), 400)["description"]
    assert "match[version]" in taxii_error(gateway.get(url, kz, params={"match[version]": "newest"}), 400)["description"]
    assert "match[idx]" in taxii_error(gateway.get(url, kz, params={"match[idx]": "x"}), 400)["description"]
    taxii_error(gateway.get(ROOT + "collections/00000000-0000-4000-8000-000000000000/objects/", kz), 404)
    assert "/taxii2/" in taxii_error(gateway.get("/taxii2/elsewhere/collections/", kz), 404)["description"]
    taxii_error(gateway.get(gateway.collection("KZ") + "objects/report--00000000-0000-4000-8000-000000000000/",
                            kz), 404)


def test_another_states_collection_is_403_and_audited(gateway: Gateway) -> None:
    for path in ("", "objects/", "manifest/"):
        body = taxii_error(gateway.get(gateway.collection("UZ") + path, gateway.tokens["KZ"]), 403)
        assert "UZ" in body["description"]
    taxii_error(gateway.get(gateway.collection("KZ") + "objects/", gateway.tokens["auditor"]), 403)
    taxii_error(gateway.get(gateway.collection("KZ") + "objects/", gateway.tokens["agency"]), 403)
    # read-only: no POST of objects
    post = httpx.post(gateway.collection("KZ") + "objects/", content=b"{}", timeout=30,
                      headers={"Authorization": f"Bearer {gateway.tokens['KZ']}", "Accept": TAXII,
                               "Content-Type": TAXII})
    assert taxii_error(post, 405) and post.headers["allow"] == "GET"
    denied = gateway.audit(lambda e: e["stage"] == "ACCESS_DENIED" and e["actor"] == "officer:iop-kz"
                           and e["state"] == "UZ", 1)
    assert "TAXII collection of UZ" in (denied[0]["reason"] or "")


def test_the_collection_is_the_states_feed_mapped(gateway: Gateway) -> None:
    for state in ("KZ", "AF"):
        got, _ = every(gateway, state, gateway.tokens[state], 1000, **{"match[version]": "all"})
        assert got == expected_collection(world.items_of(state))
        assert len({o["id"] for o in got if o["type"] == "report"}) == len(
            {it["report"]["report_id"] for it in world.items_of(state)})


def test_paging_follows_the_feed_cursor_without_gap_or_repeat_while_the_feed_grows(gateway: Gateway) -> None:
    token = gateway.tokens["CARICC"]
    whole, _ = every(gateway, "CARICC", token, 1000, **{"match[version]": "all"})
    paged, pages = every(gateway, "CARICC", token, 7, **{"match[version]": "all"})
    assert paged == whole and pages == -(-len(whole) // 7)
    # take two pages, then the feed grows, then page on from the token: nothing missed, nothing repeated
    url = gateway.collection("CARICC") + "objects/"
    p1 = gateway.get(url, token, params={"limit": 10, "match[version]": "all"}).json()
    p2 = gateway.get(url, token, params={"limit": 10, "match[version]": "all", "next": p1["next"]}).json()
    now = datetime.now(UTC)
    fresh = report("TJ-DCA", "TJ", source_ref="IOP-LATE-1", tlp="AMBER", addressees=["CARICC"], route=[],
                   location={"country": "TJ", "place": "Panj", "unlocode": None, "lat": None, "lon": None},
                   received_at=int(now.timestamp() * 1000), event_time=int((now - timedelta(hours=1)).timestamp() * 1000))
    (decision,) = run_events([(fresh, int(now.timestamp() * 1000))])
    late = [it for it in decision.feed_items if it["recipient"] == "CARICC"]
    assert late
    gateway.write(late)
    rest, _ = [], None
    nxt = p2["next"]
    while True:
        body = gateway.get(url, token, params={"limit": 10, "match[version]": "all", "next": nxt}).json()
        rest += body.get("objects", [])
        if not body["more"]:
            break
        nxt = body["next"]
    seen = [(o["id"], stix.version_of(o)) for o in p1["objects"] + p2["objects"] + rest]
    assert len(seen) == len(set(seen))
    assert seen[:len(whole)] == [(o["id"], stix.version_of(o)) for o in whole]
    assert any(o["type"] == "report" and o["name"].endswith("IOP-LATE-1 v1") for o in rest)
    after, _ = every(gateway, "CARICC", token, 1000, **{"match[version]": "all"})
    assert len(after) == len(seen)


def test_added_after_and_the_date_added_headers(gateway: Gateway) -> None:
    token = gateway.tokens["UZ"]
    url = gateway.collection("UZ") + "objects/"
    first = gateway.get(url, token, params={"limit": 5})
    last = first.headers["X-TAXII-Date-Added-Last"]
    assert first.headers["X-TAXII-Date-Added-First"] <= last
    everything = gateway.get(url, token, params={"limit": 1000}).json()["objects"]
    assert gateway.get(url, token, params={"limit": 1000, "added_after": last}).json() == {"more": False}
    early = "2000-01-01T00:00:00Z"
    assert gateway.get(url, token, params={"limit": 1000, "added_after": early}).json()["objects"] == everything
    m = gateway.get(gateway.collection("UZ") + "manifest/", token, params={"limit": 1000}).json()
    assert [e["id"] for e in m["objects"]] == [o["id"] for o in everything]
    assert all(e["media_type"] == "application/stix+json;version=2.1" and e["date_added"] <= last
               for e in m["objects"])


def test_match_filters_versions_and_single_objects(gateway: Gateway) -> None:
    token = gateway.tokens["UZ"]
    col = gateway.collection("UZ")
    allv = gateway.get(col + "objects/", token, params={"limit": 1000, "match[version]": "all"}).json()["objects"]
    reports = [o for o in allv if o["type"] == "report"]
    versioned = {o["id"] for o in reports if sum(x["id"] == o["id"] for x in reports) > 1}
    assert versioned, "UZ holds reports with several versions"
    rid = sorted(versioned)[0]
    mine = [o for o in reports if o["id"] == rid]
    # match[type] (comma list), match[id], match[version] = last (default) / first / all / a timestamp
    only = gateway.get(col + "objects/", token, params={"limit": 1000, "match[type]": "incident,location"}).json()
    assert only["objects"] and {o["type"] for o in only["objects"]} == {"incident", "location"}
    last = gateway.get(col + "objects/", token, params={"match[id]": rid}).json()["objects"]
    assert last == [mine[-1]]
    assert gateway.get(col + "objects/", token, params={"match[id]": rid, "match[version]": "first"}).json()[
        "objects"] == [mine[0]]
    assert gateway.get(col + "objects/", token, params={"match[id]": rid, "match[version]": "all"}).json()[
        "objects"] == mine
    at = gateway.get(col + "objects/", token, params={"match[id]": rid, "match[version]": mine[0]["modified"]}).json()
    assert at["objects"] == [mine[0]]
    assert gateway.get(col + "objects/", token, params={"match[spec_version]": "2.0"}).json() == {"more": False}
    default = gateway.get(col + "objects/", token, params={"limit": 1000}).json()["objects"]
    assert len(default) == len(allv) - (len(mine) - 1) * 1 - sum(
        sum(x["id"] == i for x in reports) - 1 for i in versioned - {rid})
    # one object, its versions, the manifest
    assert gateway.get(f"{col}objects/{rid}/", token).json()["objects"] == [mine[-1]]
    assert gateway.get(f"{col}objects/{rid}/", token, params={"match[version]": "all"}).json()["objects"] == mine
    v = gateway.get(f"{col}objects/{rid}/versions/", token).json()
    assert v == {"more": False, "versions": [o["modified"] for o in mine]}
    vp = gateway.get(f"{col}objects/{rid}/versions/", token, params={"limit": 1}).json()
    assert vp["more"] is True and vp["versions"] == [mine[0]["modified"]] and vp["next"]
    man = gateway.get(col + "manifest/", token, params={"match[id]": rid, "match[version]": "all"}).json()
    assert [(e["id"], e["version"]) for e in man["objects"]] == [(rid, o["modified"]) for o in mine]


def test_reads_are_audited_delivered_and_exported(gateway: Gateway) -> None:
    token = gateway.tokens["AF"]
    body = gateway.get(gateway.collection("AF") + "objects/", token, params={"limit": 1000}).json()
    served = {o["extensions"][stix.EXTENSION_ID]["hub_item_id"] for o in body["objects"] if o["type"] == "report"}
    assert served
    events = gateway.audit(lambda e: e["actor"] == "officer:iop-af" and e["stage"] in ("DELIVERED", "EXPORTED"),
                           2 * len(served))
    delivered = {e["detail"]["item_id"] for e in events if e["stage"] == "DELIVERED"}
    exported = [e for e in events if e["stage"] == "EXPORTED"]
    assert delivered == served
    assert {e["detail"]["item_id"] for e in exported} == served
    assert all(e["detail"]["format"] == "stix2.1" and e["state"] == "AF" for e in exported)
    assert all(e["detail"]["via"] == "taxii" for e in events)
    # a manifest lists ids and versions only: no report content, no DELIVERED
    before = len(events)
    gateway.get(gateway.collection("AF") + "manifest/", token)
    assert len(gateway.audit(lambda e: e["actor"] == "officer:iop-af" and e["stage"] in ("DELIVERED", "EXPORTED"),
                             before)) == before


def test_extension_schema_is_served(gateway: Gateway) -> None:
    r = httpx.get(gateway.base + "/taxii2/schemas/caricc-hub-extension-v1.json", timeout=30)
    assert r.status_code == 200 and r.json() == stix.extension_schema()


def test_the_curl_examples_of_the_docs_work(gateway: Gateway) -> None:
    """docs/stix.md's curl lines (Bearer, then Basic with the token as the password), on this gateway."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "stix.md").read_text()
    block = doc.split("```sh", 1)[1].split("```", 1)[0]
    commands = [c.replace("\\\n", " ") for c in re.split(r"\n(?=curl )", block.split("\n", 1)[1]) if c.startswith("curl")]
    assert len(commands) == 2
    env = {"TOKEN": gateway.tokens["KZ"], "PATH": "/usr/bin:/bin"}
    outs = []
    for c in commands:
        c = c.split("\n#")[0].replace("http://localhost:8080", gateway.base)
        done = subprocess.run(["bash", "-c", c], env=env, capture_output=True, text=True, timeout=60, check=True)
        outs.append(json.loads(done.stdout))
    assert outs[0]["collections"][0]["id"] == collection_id("KZ")
    assert outs[1]["objects"] and {o["type"] for o in outs[1]["objects"]} == {"report"}
