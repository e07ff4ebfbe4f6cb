"""The pure hash-chain logic: linking, verifying, naming the first bad record."""

from __future__ import annotations

import json

from hub.audit_events import audit_event
from hub.auditstore import GENESIS, canonical, chain_hash, link, verify


def events(n: int) -> list[dict]:
    return [audit_event("RECEIVED", report_id=f"R-{i}", version=1, agency="KZ-CUSTOMS", occurred_at=1_000 + i)
            for i in range(n)]


def chain(n: int = 5) -> list[dict]:
    return link(events(n), 0, GENESIS)


def test_link_follows_the_formula() -> None:
    rows = chain(3)
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == GENESIS
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[2]["hash"] == chain_hash(rows[1]["hash"], rows[2]["event"], 3)
    assert json.loads(rows[0]["event"])["report_id"] == "R-0"


def test_canonical_is_order_independent_and_keeps_unicode() -> None:
    a = {"b": 1, "a": "Рахимов"}
    assert canonical(a) == canonical(dict(reversed(list(a.items())))) == '{"a":"Рахимов","b":1}'


def test_untouched_chain_verifies() -> None:
    rows = chain()
    v = verify(rows, {"seq": 5, "hash": rows[-1]["hash"]})
    assert v.ok and v.records == 5
    assert verify([]).ok


def test_altered_event_named() -> None:
    rows = chain()
    ev = json.loads(rows[2]["event"])
    ev["actor"] = "someone else"
    rows[2]["event"] = canonical(ev)
    v = verify(rows)
    assert not v.ok and v.bad_seq == 3 and "altered" in v.problem


def test_altered_hash_breaks_the_next_link() -> None:
    rows = chain()
    rows[1]["hash"] = "f" * 64
    v = verify(rows)
    assert not v.ok and v.bad_seq == 2


def test_deleted_record_named() -> None:
    rows = chain()
    del rows[1]
    v = verify(rows)
    assert not v.ok and v.bad_seq == 2 and "missing" in v.problem


def test_deleted_and_renumbered_detected_by_link() -> None:
    rows = chain()
    del rows[1]
    for i, r in enumerate(rows, start=1):
        r["seq"] = i
    v = verify(rows)
    assert not v.ok and v.bad_seq == 2 and "prev_hash" in v.problem


def test_tail_deletion_detected_by_head() -> None:
    rows = chain()
    head = {"seq": 5, "hash": rows[-1]["hash"]}
    v = verify(rows[:-1], head)
    assert not v.ok and v.bad_seq == 5


def test_swapped_records_named() -> None:
    rows = chain()
    rows[1]["event"], rows[2]["event"] = rows[2]["event"], rows[1]["event"]
    v = verify(rows)
    assert not v.ok and v.bad_seq == 2


def test_inserted_record_named() -> None:
    rows = chain()
    forged = link([audit_event("ACKNOWLEDGED", report_id="R-9", occurred_at=5)], 2, rows[1]["hash"])[0]
    rows = [*rows[:2], forged, *({**r, "seq": r["seq"] + 1} for r in rows[2:])]
    v = verify(rows)
    assert not v.ok and v.bad_seq == 4 and "prev_hash" in v.problem


def test_verify_streams_and_store_reads_in_chunks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hub.auditstore import AuditStore
    from hub.db import Database

    store = AuditStore(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    store.store(events(25))
    assert [r["seq"] for r in store.rows(chunk=10)] == list(range(1, 26))
    assert verify(iter(chain(3))).ok
    assert store.verify().records == 25
    store.db.execute("DELETE FROM audit_log WHERE seq = 11")  # on a chunk boundary
    v = verify(store.rows(chunk=10), store.head())
    assert not v.ok and v.bad_seq == 11
    assert store.verify().bad_seq == 11


def test_sink_stores_each_event_of_an_audit_batch_like_single_events() -> None:
    """Release v2: an AuditBatch record carries several events; the sink stores each on its own."""
    from types import SimpleNamespace

    from hub.audit_events import audit_event
    from hub.codec import AUDIT_BATCH, AUDIT_EVENT, codec
    from hub.sink import classify
    from hub.topics import AUDIT, RECEIPTS

    evs = [audit_event(s, report_id="R-1", version=1, actor="pipeline", occurred_at=5) for s in ("RECEIVED", "VALIDATED")]
    single = audit_event("DELIVERED", report_id="R-1", version=1, state="KZ", actor="officer:a", occurred_at=6)
    recs = [SimpleNamespace(topic=AUDIT, partition=0, offset=0, key=b"R-1", headers=[],
                            value=codec().encode(AUDIT_BATCH, {"events": evs})),
            SimpleNamespace(topic=AUDIT, partition=0, offset=1, key=b"R-1", headers=[],
                            value=codec().encode(AUDIT_EVENT, single)),
            SimpleNamespace(topic=AUDIT, partition=0, offset=2, key=b"R-1", headers=[], value=b"\xc3\x01junk"),
            SimpleNamespace(topic=RECEIPTS, partition=0, offset=0, key=b"R-1", headers=[],
                            value=codec().encode(AUDIT_EVENT, single))]  # wrong type on the receipts topic
    out = classify(recs)
    assert [e["event_id"] for e in out.audit_events] == [e["event_id"] for e in [*evs, single]]
    assert [d["source_offset"] for d in out.dead_letters] == [2, 0]
    assert "expected Receipt" in out.dead_letters[1]["reason"]
