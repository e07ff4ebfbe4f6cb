"""Feed store and officer directory on SQLite and PostgreSQL (no Kafka): dedup by item_id,
gap-free cursors per recipient, acknowledgements, clear errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.directory.auth import Credentials
from hub.directory.officers import OfficerError, Officers
from hub.feeds.store import FeedStore
from hub.platform.db import Database
from tests.conftest import hub_settings
from tests.factories import feed_item, report


def it(state: str, ref: str, version: int = 1) -> dict:
    rep = report(source_ref=ref, version=version)
    return feed_item(item_id=f"{rep['report_id']}:{version}:{state}", recipient=state, report=rep)


def test_dedup_and_cursor_per_recipient(db_url: str) -> None:
    fs = FeedStore(Database(db_url))
    a, b, c = it("UZ", "A"), it("UZ", "B"), it("KZ", "C")
    added = fs.add([a, b, a, c])
    assert [(r["recipient"], r["seq"]) for r in added] == [("UZ", 1), ("UZ", 2), ("KZ", 1)]
    assert fs.add([a, b]) == []  # redelivery: nothing new
    d = fs.add([it("UZ", "A", version=2)])
    assert d[0]["seq"] == 3
    page = fs.page("UZ", 0, 10)
    assert [v["cursor"] for v in page] == [1, 2, 3]
    assert fs.page("UZ", 2, 10)[0]["item_id"].endswith(":2:UZ")
    assert page[0]["item"]["report"]["event_time"].endswith("Z")  # timestamps as RFC 3339
    assert fs.latest("UZ", a["report"]["report_id"])["version"] == 2
    assert fs.acknowledge("UZ", a["report"]["report_id"], 2, "officer:x", 1000) is True
    assert fs.acknowledge("UZ", a["report"]["report_id"], 2, "officer:y", 2000) is False
    acked = fs.page("UZ", 2, 10)[0]["acknowledged"]
    assert acked["by"] == "officer:x"


def test_a_large_batch_is_one_transaction_with_per_recipient_cursors(db_url: str) -> None:
    """More items than one id lookup holds, repeats inside the batch and from an earlier batch."""
    db = Database(db_url)
    fs = FeedStore(db)
    first = fs.add([it("UZ", "early")])
    items = [it(("UZ", "KZ", "TJ")[i % 3], f"R{i}") for i in range(1200)]
    assert first[0]["seq"] == 1
    added = fs.add([*items, items[5], it("UZ", "early")])
    assert len(added) == 1200
    for state in ("UZ", "KZ", "TJ"):
        seqs = [r["seq"] for r in added if r["recipient"] == state]
        assert seqs == list(range(2 if state == "UZ" else 1, len(seqs) + (2 if state == "UZ" else 1)))
    assert fs.add(items) == []  # the replayed batch: nothing new
    with fs.db.transaction():  # an outer transaction (the sink's) takes the store's writes in
        assert [r["seq"] for r in fs.add([it("KZ", "late")])] == [401]
        with pytest.raises(RuntimeError), fs.db.transaction():  # a nested one is a savepoint
            fs.add([it("TJ", "inner")])
            raise RuntimeError("inner failure")
    assert fs.latest("KZ", it("KZ", "late")["report"]["report_id"])["seq"] == 401
    assert fs.latest("TJ", it("TJ", "inner")["report"]["report_id"]) is None
    with pytest.raises(RuntimeError), fs.db.transaction():
        fs.add([it("KZ", "outer")])
        raise RuntimeError("outer failure")
    assert fs.latest("KZ", it("KZ", "outer")["report"]["report_id"]) is None


def test_officers_and_tokens(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = hub_settings(data_dir=str(tmp_path))
    db = Database(s.db_url)
    o = Officers(db, s)
    tok = o.add("anvar", "uz")
    p = Credentials(db).authenticate(tok)
    assert p is not None and (p.kind, p.subject, p.state) == ("officer", "anvar", "UZ")
    aud = o.add("olga", None, auditor=True)
    assert Credentials(db).authenticate(aud).kind == "auditor"
    for args, field in ((("bob", "XX"), "state"), (("bob", None), "state"), (("anvar", "UZ"), "name"),
                        (("two words", "KZ"), "name")):
        with pytest.raises(OfficerError, match=field):
            o.add(*args)
    with pytest.raises(OfficerError, match="state"):
        o.add("carl", "KZ", auditor=True)
    second = o.token("anvar")
    assert o.revoke("anvar") == 2
    assert Credentials(db).authenticate(tok) is None and Credentials(db).authenticate(second) is None


def test_officer_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"HUB_DATA_DIR": str(tmp_path)}
    run = CliRunner().invoke
    added = run(main, ["officer", "add", "dilnoza", "--state", "KZ"], env=env)
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("hko_")
    assert run(main, ["officer", "add", "aud", "--auditor"], env=env).stdout.strip().splitlines()[-1].startswith("hkx_")
    bad = run(main, ["officer", "add", "x", "--state", "ZZ"], env=env)
    assert bad.exit_code == 2 and "state" in bad.output and "ZZ" in bad.output
    listed = run(main, ["officer", "list"], env=env).stdout
    assert "dilnoza" in listed and "KZ" in listed and "auditor" in listed
    assert run(main, ["officer", "token", "dilnoza"], env=env).stdout.strip().startswith("hko_")
    revoked = run(main, ["officer", "revoke", "dilnoza", "--disable"], env=env)
    assert "2 token(s)" in revoked.stdout
    assert Credentials(Database(f"sqlite:///{tmp_path / 'hub.db'}")).authenticate(token) is None
    again = run(main, ["officer", "token", "dilnoza"], env=env)
    assert again.exit_code == 2 and "disabled" in again.output
    for cmd in (["officer", "--help"], ["feed", "--help"], ["audit", "verify", "--help"], ["sink", "--help"]):
        assert run(main, cmd).exit_code == 0


def test_item_json_is_the_json_data_of_the_item() -> None:
    """The stored JSON (one orjson pass) is ``jsonable(item)``: for the encodable form (epoch-ms ints),
    the decoded Avro form (datetimes) and an item with enrichment references carrying times."""
    import json

    import orjson

    from hub.domain.codec import FEED_ITEM, codec
    from hub.domain.feedjson import item_json, jsonable

    ref = {"report_id": "R-x", "agency": "KZ-CUSTOMS", "state": "KZ", "kind": "SEIZURE", "event_time": 1_763_000_000_123,
           "incident_id": "I-2"}
    plain = feed_item()
    linked = feed_item()
    linked["enrichment"] = {**linked["enrichment"], "prior_reports": [ref], "also_reported_by": [ref]}
    for enc in (plain, linked):
        decoded = codec().decode(codec().encode(FEED_ITEM, enc), expect=FEED_ITEM)
        for form in (enc, decoded):
            text = item_json(form)
            assert orjson.loads(text) == jsonable(form) == json.loads(json.dumps(jsonable(form)))
            assert "Рахимов" in text  # UTF-8 text as it is
    assert orjson.loads(item_json(linked))["enrichment"]["prior_reports"][0]["event_time"] == "2025-11-13T02:13:20.123Z"
