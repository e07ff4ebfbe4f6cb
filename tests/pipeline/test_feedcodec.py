"""Spliced FeedItem encoding is byte-identical to hub.domain.codec (hub/pipeline/shell/feedcodec.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.codec import FEED_ITEM, RECEIPT, REPORT, codec
from hub.pipeline.shell.feedcodec import Encoder, FeedItemEncoder, ReceiptEncoder
from tests.factories import report
from tests.pipeline.decide_support import Runner


def _items(tlp: str) -> list[dict]:
    """The feed items decide() makes for a report after two correlated earlier ones (same container,
    plate and party name): a GREEN one of UZ and an AMBER one of TJ, so the recipients' views differ
    (entity links and prior reports to what each may see; partner copies redacted)."""
    run = Runner()
    run.run([report(agency="UZ-CUSTOMS", state="UZ", source_ref="UZ-1", tlp="GREEN"),
             report(agency="TJ-DRUGS", state="TJ", source_ref="TJ-1", tlp="AMBER")])
    items = run.step(report(tlp=tlp, addressees=["AF", "UZ"])).feed_items
    assert any(it["enrichment"]["entity_links"] and it["enrichment"]["prior_reports"] for it in items)
    return items


@pytest.mark.parametrize("tlp", ["CLEAR", "GREEN", "AMBER", "RED"])
def test_spliced_items_equal_codec_encoding(tlp: str) -> None:
    items = _items(tlp)
    assert items
    enc = FeedItemEncoder(codec())
    for _ in range(2):  # first call learns and checks the header, second uses it
        out = enc.encode(items)
        assert enc.spliced, "fell back to the codec: splicing produced different bytes"
        assert out == [codec().encode(FEED_ITEM, it) for it in items]
    assert [codec().decode(b, expect=FEED_ITEM)["recipient"] for b in out] == [it["recipient"] for it in items]


def test_clear_report_mixes_redacted_and_filtered_variants() -> None:
    items = _items("CLEAR")
    assert {it["routing"]["redacted"] for it in items} == {True, False}
    assert len({str(it["enrichment"]["prior_reports"]) for it in items}) > 1


def test_the_validated_bytes_are_the_unredacted_report_part() -> None:
    """The worker passes the validated record's body in: no Report encode for unredacted copies."""
    items = _items("CLEAR")
    plain = next(it["report"] for it in items if not it["routing"]["redacted"])
    enc = Encoder(codec())
    body = enc.report_body(codec().encode(REPORT, plain))
    assert body is not None
    out = enc.feed.encode(items, report=plain, body=body)
    assert out == [codec().encode(FEED_ITEM, it) for it in items]
    assert enc.feed.parts[False] is body
    # a body that does not belong to the report is not used
    other = dict(plain, narrative="something else")
    assert enc.feed.encode(items, report=other, body=body) == out and enc.feed.parts[False] is not body


def test_report_body_only_for_the_latest_report_schema() -> None:
    enc = Encoder(codec())
    assert enc.report_body(b"") is None
    assert enc.report_body(codec().encode(FEED_ITEM, _items("AMBER")[0])) is None
    assert enc.report_body(b"\x00\x00\x00\x00\x01rest") is None  # Confluent framing: re-encoded


def test_spliced_receipt_equals_codec_encoding() -> None:
    items = _items("AMBER")
    rep = next(it["report"] for it in items if not it["routing"]["redacted"])
    receipt = {"receipt_id": f"{rep['report_id']}:{rep['version']}", "report_id": rep["report_id"],
               "version": rep["version"], "agency": rep["agency"], "state": rep["reporter_state"],
               "incident_id": "I-1", "report": rep,
               "recipients": [{"recipient": it["recipient"], "delivery": it["delivery"],
                               "reason": it["routing"]["reason"], "redacted": it["routing"]["redacted"]}
                              for it in items],
               "routed_at": 1_700_000_000_000}
    enc = Encoder(codec())
    enc.feed.encode(items)
    for _ in range(2):
        got = enc.receipts.encode(receipt, report_body=enc.feed.parts[False])
        assert enc.receipts.spliced and got == codec().encode(RECEIPT, receipt)
    assert enc.receipts.encode(receipt) == codec().encode(RECEIPT, receipt)
    assert enc.counts["Receipt"] > 0 and enc.counts["FeedItem"] > 0


texts = st.text(max_size=300)
deliveries = st.sampled_from(["NEW", "UPDATE", "CORRELATED", "SHARED"])
millis = st.integers(min_value=-(2**62), max_value=2**62)


@settings(max_examples=300, deadline=None)
@given(item_id=texts, recipient=texts, delivery=deliveries, incident=texts, recipients=st.lists(texts, max_size=20),
       reason=texts, redacted=st.booleans(), routed_at=millis)
def test_hand_written_item_parts_equal_fastavro(item_id: str, recipient: str, delivery: str, incident: str,
                                                recipients: list[str], reason: str, redacted: bool,
                                                routed_at: int) -> None:
    enc = FeedItemEncoder(codec())
    it = {"item_id": item_id, "recipient": recipient, "delivery": delivery, "incident_id": incident,
          "routing": {"recipients": recipients, "reason": reason, "redacted": redacted}, "routed_at": routed_at,
          "provenance": None}
    assert enc._head(it) == enc._write(enc.head, it)
    assert enc._tail(it) == enc._write(enc.tail, it)


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(texts, min_size=5, max_size=5), version=st.integers(min_value=-(2**31), max_value=2**31 - 1),
       recips=st.lists(st.tuples(texts, deliveries, texts, st.booleans()), max_size=15), routed_at=millis)
def test_hand_written_receipt_parts_equal_fastavro(ids: list[str], version: int, recips: list[tuple], routed_at: int
                                                   ) -> None:
    enc = ReceiptEncoder(codec())
    r = dict(zip(("receipt_id", "report_id", "agency", "state", "incident_id"), ids, strict=True),
             version=version, routed_at=routed_at,
             recipients=[{"recipient": a, "delivery": d, "reason": b, "redacted": x} for a, d, b, x in recips])
    assert enc._head(r) == enc._write(enc.head, r)
    assert enc._tail(r) == enc._write(enc.tail, r)


def test_the_common_enrichment_part_is_written_once_per_report() -> None:
    items = _items("CLEAR")
    enc = FeedItemEncoder(codec())
    enc.encode(items)  # learns the header
    enc.counts.clear()
    out = enc.encode(items)
    assert out == [codec().encode(FEED_ITEM, it) for it in items]
    # the report (full and partner copy); every Enrichment field, list element and head/tail by hand
    assert enc.counts["FeedItem"] == 2


@pytest.mark.parametrize("change", [{"hs_description": None}, {"hs_description": "Ёлка «ель» 🌲"},
                                    {"risk_reasons": []}, {"risk_score": 0}, {"containers": []}])
def test_hand_written_enrichment_fields_equal_fastavro(change: dict) -> None:
    items = _items("AMBER")
    enc = FeedItemEncoder(codec())
    for it in items:
        it["enrichment"] = dict(it["enrichment"], **change)
    assert enc.encode(items) == [codec().encode(FEED_ITEM, it) for it in items]


def _schema_values(name: str) -> st.SearchStrategy:
    """Values of the flat record ``name`` (fields: string, int/long, double, boolean, enum, optional)."""
    from hub.domain.codec import load_release

    raw = load_release(codec().catalogue.root / "v2")

    def of(t: object) -> st.SearchStrategy:
        if isinstance(t, dict) and t["type"] == "array":
            return st.lists(of(t["items"]), max_size=3)
        if isinstance(t, dict) and t["type"] == "map":
            return st.dictionaries(texts, of(t["values"]), max_size=3)
        if isinstance(t, dict):
            t = t["type"]
        if isinstance(t, list):
            return st.one_of(st.none(), of(t[1]))
        if t == "string":
            return texts
        if t == "int":
            return st.integers(-(2**31), 2**31 - 1)
        if t == "long":
            return millis
        if t == "double":
            return st.one_of(st.floats(), st.integers(-(2**53), 2**53))
        if t == "boolean":
            return st.booleans()
        return st.sampled_from(raw[f"org.caricc.hub.{t}"]["symbols"])

    rec = raw[f"org.caricc.hub.{name}"]
    return st.fixed_dictionaries({f["name"]: of(f["type"]) for f in rec["fields"]})


@pytest.mark.parametrize("name", ["EntityLink", "ReportRef", "ContainerCheck", "SubstanceTotal", "PartyName",
                                  "AuditEvent"])
def test_hand_written_flat_records_equal_fastavro(name: str) -> None:
    import io

    import fastavro

    from hub.domain.codec import expand, load_release
    from hub.pipeline.shell.feedcodec import Unfit, flat_record_writer

    raw = load_release(codec().catalogue.root / "v2")
    write = flat_record_writer(name, raw)
    assert write is not None
    parsed = fastavro.parse_schema(expand(raw[f"org.caricc.hub.{name}"], raw))

    @settings(max_examples=150, deadline=None)
    @given(value=_schema_values(name))
    def check(value: dict) -> None:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, value)
        assert write(value) == buf.getvalue()

    check()
    with pytest.raises(Unfit):
        write({})


def test_compiled_flat_record_writers_refuse_values_of_other_types() -> None:
    from hub.domain.codec import load_release
    from hub.pipeline.shell.feedcodec import Unfit, flat_record_writer

    raw = load_release(codec().catalogue.root / "v2")
    write = flat_record_writer("AuditEvent", raw)
    assert write is not None
    ok = {"event_id": "e", "stage": raw["org.caricc.hub.AuditStage"]["symbols"][0], "occurred_at": 1,
          "report_id": None, "version": 2, "agency": "A", "state": None, "actor": "pipeline", "recipients": ["KZ"],
          "reason": None, "detail": {"k": "v"}, "trace_id": None}
    assert write(ok)
    for field, bad in [("event_id", 5), ("stage", "NOT_A_STAGE"), ("stage", 0), ("occurred_at", 1.0),
                       ("occurred_at", True), ("version", True), ("version", 2**31), ("agency", b"A"),
                       ("recipients", ("KZ",)), ("recipients", [1]), ("detail", {"k": 1}), ("trace_id", 1)]:
        with pytest.raises(Unfit):
            write(dict(ok, **{field: bad}))
    link = flat_record_writer("EntityLink", raw)
    assert link is not None
    for bad in ("1.0", None, [1.0]):
        with pytest.raises(Unfit):
            link({"name": "A", "matched_name": "B", "score": bad, "report_id": None, "watchlist": None})


def test_flat_records_keep_equal_values_of_other_types_and_signed_zeros_apart() -> None:
    import io

    import fastavro

    from hub.domain.codec import expand, load_release
    from hub.pipeline.shell.feedcodec import flat_record_writer

    raw = load_release(codec().catalogue.root / "v2")
    rec = raw["org.caricc.hub.SubstanceTotal"]
    base = {"type": raw["org.caricc.hub.SubstanceType"]["symbols"][0], "quantity_kg": None, "quantity": 1.0,
            "unit": raw["org.caricc.hub.QuantityUnit"]["symbols"][0]}
    write = flat_record_writer("SubstanceTotal", raw)
    assert write is not None
    parsed = fastavro.parse_schema(expand(rec, raw))
    for field in ("quantity", "quantity_kg"):
        for x in (0.0, -0.0, 0, 1, 1.0, 0.0, -0.0, 1.0, 1):
            v = dict(base, **{field: x})
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed, v)
            assert write(v) == buf.getvalue(), (field, x)


def test_short_strings_are_written_like_long_ones() -> None:
    from hub.pipeline.shell.feedcodec import avro_string

    for s in ("", "a", "é" * 31, "é" * 32, "x" * 63, "x" * 64, "Ёлка 🌲" * 20, "a"):
        b = s.encode()
        n = len(b) << 1
        varint = bytearray()
        while n > 0x7F:
            varint.append((n & 0x7F) | 0x80)
            n >>= 7
        varint.append(n)
        assert avro_string(s) == bytes(varint) + b
        assert avro_string(s) == bytes(varint) + b  # again, from the cache for short ones


def test_hand_written_audit_batches_equal_the_codec() -> None:
    from hub.domain.audit_events import audit_event
    from hub.domain.codec import AUDIT_BATCH
    from hub.pipeline.shell.feedcodec import AuditBatchEncoder

    events = [audit_event("RECEIVED", report_id="R-1", version=1, agency="KZ-CUSTOMS", state="KZ", actor="p",
                          trace_id="t", occurred_at=1_700_000_000_000, detail={"topic": "hub.intake", "é": "ü"}),
              audit_event("ROUTED", report_id="R-1", version=1, recipients=["UZ", "CARICC"], reason="TLP AMBER: …",
                          occurred_at=-5, detail={}),
              audit_event("REJECTED", reason=None, occurred_at=0)]
    enc = AuditBatchEncoder(codec())
    for batch in (events, events[:1], events[1:]):
        assert enc.encode(batch) == codec().encode(AUDIT_BATCH, {"events": batch})
    assert enc.spliced and enc.counts["AuditBatch"] == 1  # only the first batch went through the codec
    odd = [dict(events[0], occurred_at=1.5)]  # not an int: not written by hand, the codec decides
    assert enc.encode(odd) == codec().encode(AUDIT_BATCH, {"events": odd}) and enc.counts["AuditBatch"] == 2


@settings(max_examples=100, deadline=None)
@given(detail=st.dictionaries(texts, texts, max_size=8), recipients=st.lists(texts, max_size=6),
       reason=st.one_of(st.none(), texts), at=millis, version=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)))
def test_hand_written_audit_events_property(detail: dict, recipients: list, reason: str | None, at: int,
                                            version: int | None) -> None:
    from hub.domain.codec import AUDIT_BATCH
    from hub.pipeline.shell.feedcodec import AuditBatchEncoder

    ev = {"event_id": "A-1", "stage": "ROUTED", "occurred_at": at, "report_id": None, "version": version,
          "agency": "KZ", "state": None, "actor": "a", "recipients": recipients, "reason": reason, "detail": detail,
          "trace_id": None}
    enc = AuditBatchEncoder(codec())
    assert enc.encode([ev]) == enc.encode([ev]) == codec().encode(AUDIT_BATCH, {"events": [ev]})
