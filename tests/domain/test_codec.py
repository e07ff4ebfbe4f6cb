"""Codec: CRC-64-AVRO vectors, single-object framing, evolution by fingerprint, clear errors, interop."""

from __future__ import annotations

import io
import json
import struct

import avro.io
import avro.schema
import pytest

from hub.domain.codec import (
    AUDIT_EVENT,
    DEAD_LETTER,
    FEED_ITEM,
    MARKER,
    REPORT,
    Catalogue,
    Codec,
    DecodeError,
    EncodeError,
    codec,
    crc64_avro,
)
from tests.factories import feed_item, report


@pytest.mark.parametrize(
    ("canonical", "expected"),
    [  # published in the Avro specification's test data (share/test/data/schema-tests.txt)
        ('"null"', 7195948357588979594),
        ('"boolean"', -6970731678124411036),
        ('"int"', 8247732601305521295),
        ('"long"', -3434872931120570953),
        ('"float"', 5583340709985441680),
        ('"double"', -8181574048448539266),
        ('"bytes"', 5746618253357095269),
        ('"string"', -8142146995180207161),
        ('{"name":"foo","type":"fixed","size":15}', 1756455273707447556),
    ],
)
def test_crc64_avro_matches_the_spec(canonical: str, expected: int) -> None:
    got = struct.unpack("<q", struct.pack("<Q", crc64_avro(canonical.encode())))[0]
    assert got == expected


def test_single_object_framing_and_round_trip() -> None:
    c = codec()
    r = report()
    data = c.encode(REPORT, r)
    assert data[:2] == MARKER
    fp = struct.unpack_from("<Q", data, 2)[0]
    assert fp == c.catalogue.latest(REPORT).fingerprint
    back = c.decode(data, expect=REPORT)
    assert back["report_id"] == r["report_id"]
    assert back["substances"][0]["quantity"] == r["substances"][0]["quantity"]
    assert back["parties"][0]["name"] == r["parties"][0]["name"]


def test_every_top_level_type_round_trips() -> None:
    c = codec()
    item = feed_item()
    back = c.decode(c.encode(FEED_ITEM, item), expect=FEED_ITEM)
    assert back["item_id"] == item["item_id"] and back["delivery"] == "CORRELATED"
    audit = {"event_id": "e1", "stage": "ROUTED", "occurred_at": 1_700_000_000_000, "report_id": "R-1",
             "recipients": ["KZ", "CARICC"], "detail": {"why": "AMBER route"}}
    assert c.decode(c.encode(AUDIT_EVENT, audit))["recipients"] == ["KZ", "CARICC"]
    dl = {"dead_letter_id": "hub.intake/0/5", "source_topic": "hub.intake", "source_partition": 0,
          "source_offset": 5, "key": None, "value": b"\x00\xff", "headers": [{"key": "k", "value": b"v"}],
          "stage": "validate", "reason": "undecodable", "failed_at": 1_700_000_000_000}
    assert c.decode(c.encode(DEAD_LETTER, dl))["value"] == b"\x00\xff"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda b: b"", DecodeError.PROBLEM_EMPTY),
        (lambda b: b"\x00\x01" + b[2:], DecodeError.PROBLEM_MARKER),
        (lambda b: b"{\"kind\": \"ALERT\"}", DecodeError.PROBLEM_MARKER),
        (lambda b: b[:6], DecodeError.PROBLEM_TRUNCATED),
        (lambda b: b[:2] + b"\x01" * 8 + b[10:], DecodeError.PROBLEM_FINGERPRINT),
        (lambda b: b[: len(b) // 2], DecodeError.PROBLEM_TRUNCATED),
        (lambda b: b + b"\x00\x00", DecodeError.PROBLEM_BODY),
    ],
)
def test_malformed_bytes_raise_one_clear_error(mutate, problem: str) -> None:
    data = codec().encode(REPORT, report())
    with pytest.raises(DecodeError) as info:
        codec().decode(mutate(data))
    assert info.value.problem == problem
    assert problem in str(info.value)


def test_decode_checks_the_expected_type() -> None:
    data = codec().encode(REPORT, report())
    with pytest.raises(DecodeError, match="expected FeedItem, got Report"):
        codec().decode(data, expect=FEED_ITEM)


def test_encode_error_names_the_type() -> None:
    bad = dict(report(), kind="PARCEL")
    with pytest.raises(EncodeError, match="Report does not match its schema"):
        codec().encode(REPORT, bad)


def test_apache_avro_decodes_what_we_encode() -> None:
    c = codec()
    sv = c.catalogue.latest(REPORT)
    r = report()
    data = c.encode(REPORT, r)
    schema = avro.schema.parse(json.dumps(sv.expanded))
    decoded = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
    assert decoded["report_id"] == r["report_id"]
    assert decoded["conveyance"]["container_numbers"] == r["conveyance"]["container_numbers"]
    # (fingerprints are not compared: Apache's Python library keeps {"type":"long"} for logical types
    # in its canonical form, which the spec's [PRIMITIVES] rule reduces to "long" -- fastavro does.)
    assert '"type":"long"' in sv.canonical and '{"type":"long"}' not in sv.canonical


def test_evolution_old_writer_new_reader(tmp_path) -> None:
    """A v1 writer read with a v2 reader that added a defaulted field: resolved by fingerprint."""
    import shutil

    from hub.domain.codec import SCHEMAS_DIR

    shutil.copytree(SCHEMAS_DIR / "v1", tmp_path / "v1")
    shutil.copytree(SCHEMAS_DIR / "v1", tmp_path / "v2")
    loc = json.loads((tmp_path / "v2" / "Location.avsc").read_text())
    loc["fields"].append({"name": "crossing_point", "type": ["null", "string"], "default": None})
    (tmp_path / "v2" / "Location.avsc").write_text(json.dumps(loc))
    shutil.copytree(tmp_path / "v1", tmp_path / "old" / "v1")
    old = Codec(Catalogue(tmp_path / "old"))
    new = Codec(Catalogue(tmp_path))
    data = old.encode(REPORT, report())
    decoded = new.decode(data)
    assert decoded["location"]["crossing_point"] is None
    assert new.writer_of(data).release == 1
    # and a new writer's bytes are unknown to the old reader: the clear error, not garbage
    with pytest.raises(DecodeError, match="unknown fingerprint"):
        old.decode(new.encode(REPORT, report()))
