"""The pure HMAC-chain logic: linking, verifying, naming the first bad record; anchors."""

from __future__ import annotations

import json

from hub.audit.store import GENESIS, canonical, chain_hash, head_mac, link, new_anchor, read_anchors, verify
from hub.domain.audit_events import audit_event

KEY = b"chain-test-key-0123456789"


def events(n: int) -> list[dict]:
    return [audit_event("RECEIVED", report_id=f"R-{i}", version=1, agency="KZ-CUSTOMS", occurred_at=1_000 + i)
            for i in range(n)]


def chain(n: int = 5) -> list[dict]:
    return link(events(n), 0, GENESIS, KEY)


def head_of(rows: list[dict]) -> dict:
    seq, h = (rows[-1]["seq"], rows[-1]["hash"]) if rows else (0, GENESIS)
    return {"seq": seq, "hash": h, "mac": head_mac(KEY, seq, h)}


def check(rows: list[dict], head: dict | None = None, **kw):  # type: ignore[no-untyped-def]
    return verify(rows, head if head is not None else head_of(rows), key=KEY, **kw)


def test_link_follows_the_formula() -> None:
    rows = chain(3)
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == GENESIS
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert rows[2]["hash"] == chain_hash(KEY, rows[1]["hash"], rows[2]["event"], 3)
    assert rows[2]["hash"] != chain_hash(b"another-key-0123456789", rows[1]["hash"], rows[2]["event"], 3)
    assert json.loads(rows[0]["event"])["report_id"] == "R-0"


def test_canonical_is_order_independent_and_keeps_unicode() -> None:
    a = {"b": 1, "a": "Рахимов"}
    assert canonical(a) == canonical(dict(reversed(list(a.items())))) == '{"a":"Рахимов","b":1}'


def test_untouched_chain_verifies() -> None:
    rows = chain()
    v = check(rows)
    assert v.ok and v.records == 5
    assert verify([], None, key=KEY).ok


def test_altered_event_named() -> None:
    rows = chain()
    ev = json.loads(rows[2]["event"])
    ev["actor"] = "someone else"
    rows[2]["event"] = canonical(ev)
    v = check(rows)
    assert not v.ok and v.bad_seq == 3 and "altered" in v.problem


def test_altered_hash_breaks_the_next_link() -> None:
    rows = chain()
    rows[1]["hash"] = "f" * 64
    v = check(rows)
    assert not v.ok and v.bad_seq == 2


def test_deleted_record_named() -> None:
    rows = chain()
    head = head_of(rows)
    del rows[1]
    v = check(rows, head)
    assert not v.ok and v.bad_seq == 2 and "missing" in v.problem


def test_deleted_and_renumbered_detected_by_link() -> None:
    rows = chain()
    del rows[1]
    for i, r in enumerate(rows, start=1):
        r["seq"] = i
    v = check(rows)
    assert not v.ok and v.bad_seq == 2 and "prev_hash" in v.problem


def test_tail_deletion_detected_by_head() -> None:
    rows = chain()
    v = check(rows[:-1], head_of(rows))
    assert not v.ok and v.bad_seq == 5


def test_swapped_records_named() -> None:
    rows = chain()
    rows[1]["event"], rows[2]["event"] = rows[2]["event"], rows[1]["event"]
    v = check(rows)
    assert not v.ok and v.bad_seq == 2


def test_inserted_record_named() -> None:
    rows = chain()
    forged = link([audit_event("ACKNOWLEDGED", report_id="R-9", occurred_at=5)], 2, rows[1]["hash"],
                  b"not-the-hub-key-0123456789")[0]
    rows = [*rows[:2], forged, *({**r, "seq": r["seq"] + 1} for r in rows[2:])]
    v = check(rows)
    assert not v.ok and v.bad_seq == 3 and "audit key" in v.problem


def test_verify_streams_and_store_reads_in_chunks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hub.audit.store import AuditStore
    from hub.platform.db import Database
    from tests.conftest import hub_settings

    store = AuditStore(Database(f"sqlite:///{tmp_path / 'a.db'}"), hub_settings(data_dir=str(tmp_path)))
    store.store(events(25))
    assert [r["seq"] for r in store.rows(chunk=10)] == list(range(1, 26))
    c = chain(3)
    assert check(iter(c), head_of(c)).ok
    assert store.verify().records == 25
    store.db.execute("DELETE FROM audit_log WHERE seq = 11")  # on a chunk boundary
    v = verify(store.rows(chunk=10), store.db.one("SELECT seq, hash, mac FROM audit_head"), key=store.key)
    assert not v.ok and v.bad_seq == 11
    assert store.verify().bad_seq == 11


def test_head_mac_and_missing_head() -> None:
    rows = chain()
    assert not check(rows, {**head_of(rows), "mac": "0" * 64}).ok
    moved = check(rows[:3], {"seq": 3, "hash": rows[2]["hash"], "mac": head_of(rows)["mac"]})
    assert not moved.ok and moved.bad_seq == 3 and "wrong MAC" in moved.problem
    missing = verify(rows, None, key=KEY)
    assert not missing.ok and "head (audit_head) is missing" in missing.problem


def test_anchors_pin_the_chain() -> None:
    rows = chain(6)
    a1 = new_anchor(KEY, 3, rows[2]["hash"], 1_000, None)
    a2 = new_anchor(KEY, 6, rows[5]["hash"], 2_000, a1)
    anchors, problem = read_anchors([a1.as_line(), a2.as_line()], KEY)
    assert problem is None and [a.line for a in anchors] == [1, 2]
    assert check(rows, anchors=anchors).ok and check(rows, anchors=anchors).anchors == 2
    # a consistent rewrite from record 2 (someone with the key): the first anchor after it names it
    rewritten = link([{**e, "actor": "x"} if i == 1 else e for i, e in enumerate(events(6))], 0, GENESIS, KEY)
    v = check(rewritten, anchors=anchors)
    assert not v.ok and v.bad_seq == 3 and "rewritten between records 1 and 3" in v.problem
    # the log cut back to before an anchor (head and all)
    short = check(rows[:4], anchors=anchors)
    assert not short.ok and short.bad_seq == 5 and "recorded seq 6" in short.problem
    # anchor lines: edited, forged without the key, deleted in the middle, out of order
    edited = a2.as_line().replace('"seq":6', '"seq":5')
    assert "line 2: its MAC does not match" in (read_anchors([a1.as_line(), edited], KEY)[1] or "")
    assert "line 1: its MAC" in (read_anchors([a1.as_line()], b"wrong-key-0123456789")[1] or "")
    a3 = new_anchor(KEY, 6, rows[5]["hash"], 3_000, a2)
    assert "does not follow" in (read_anchors([a1.as_line(), a3.as_line()], KEY)[1] or "")
    back = new_anchor(KEY, 2, rows[1]["hash"], 3_000, a2)
    assert "before the previous anchor" in (read_anchors([a1.as_line(), a2.as_line(), back.as_line()], KEY)[1] or "")
    assert "unreadable" in (read_anchors(["{not json"], KEY)[1] or "")


def test_sink_stores_each_event_of_an_audit_batch_like_single_events() -> None:
    """Release v2: an AuditBatch record carries several events; the sink stores each on its own."""
    from types import SimpleNamespace

    from hub.domain.audit_events import audit_event
    from hub.domain.codec import AUDIT_BATCH, AUDIT_EVENT, codec
    from hub.platform.kafka.topics import AUDIT, RECEIPTS
    from hub.sink import classify

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
