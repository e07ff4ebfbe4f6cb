"""Bad input: property-based fuzzing of the Avro codec (hub/domain/codec.py).

Whatever bytes arrive on a topic, decoding either yields a value of a shipped schema or raises
DecodeError with a problem the DLQ can record -- never another exception. Every value of a schema
survives encode → decode unchanged; values that do not fit raise EncodeError naming the type.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.codec import (
    AUDIT_EVENT,
    DEAD_LETTER,
    FEED_ITEM,
    HEADER_LEN,
    MARKER,
    REPORT,
    TOP_LEVEL,
    DecodeError,
    EncodeError,
    codec,
)
from tests import factories
from tests.reliability.strategies import FUZZ, avro_values, json_values

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PROBLEMS = {DecodeError.PROBLEM_EMPTY, DecodeError.PROBLEM_MARKER, DecodeError.PROBLEM_FINGERPRINT,
            DecodeError.PROBLEM_TRUNCATED, DecodeError.PROBLEM_BODY, DecodeError.PROBLEM_TYPE}


def _ms(value: Any) -> Any:
    """Decoded form → the encoder's form (timestamps back to int milliseconds)."""
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, dict):
        return {k: _ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ms(v) for v in value]
    return value


def _decode_or_error(data: bytes, expect: str | None = None) -> dict[str, Any] | DecodeError:
    try:
        value = codec().decode(data, expect=expect)
    except DecodeError as exc:
        assert exc.problem in PROBLEMS
        assert exc.detail, "a decode error must say what is wrong"
        return exc
    assert isinstance(value, dict)
    return value


SCHEMAS = {name: codec().catalogue.latest(name).expanded for name in TOP_LEVEL}
any_value = st.sampled_from(TOP_LEVEL).flatmap(lambda n: st.tuples(st.just(n), avro_values(SCHEMAS[n])))


@FUZZ
@given(any_value)
def test_every_schema_value_round_trips(ledger, nv: tuple[str, dict[str, Any]]) -> None:
    """Any value of the four top-level schemas survives encode → decode unchanged"""
    name, value = nv
    data = codec().encode(name, value)
    assert data[:2] == MARKER
    assert _ms(codec().decode(data, expect=name)) == value
    ledger.add("values_round_tripped")


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(ledger, data: bytes) -> None:
    """Random bytes: a value or a DecodeError, never another exception"""
    _decode_or_error(data)
    _decode_or_error(data, expect=REPORT)
    ledger.add("random_byte_strings")


@FUZZ
@given(any_value, st.data())
def test_mutated_messages_never_crash_the_decoder(ledger, nv: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
    """Valid messages with flipped, cut or appended bytes: a value or a DecodeError"""
    name, value = nv
    raw = bytearray(codec().encode(name, value))
    how = data.draw(st.sampled_from(["flip", "truncate", "append", "splice"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "append":
        raw += data.draw(st.binary(min_size=1, max_size=20))
    else:
        i = data.draw(st.integers(HEADER_LEN, len(raw)))
        raw[i:i] = data.draw(st.binary(min_size=1, max_size=20))
    result = _decode_or_error(bytes(raw), expect=name)
    if how in ("truncate", "append"):
        # a cut or lengthened message is never accepted: the body must be consumed exactly
        assert isinstance(result, DecodeError)
    ledger.add("mutated_messages")


@FUZZ
@given(any_value, st.binary(min_size=8, max_size=8))
def test_forged_fingerprints_are_rejected(ledger, nv: tuple[str, dict[str, Any]], fp: bytes) -> None:
    """A fingerprint no shipped schema has is refused as 'unknown fingerprint', naming it"""
    name, value = nv
    (n,) = struct.unpack("<Q", fp)
    if n in codec().catalogue.by_fingerprint:
        return
    body = codec().encode(name, value)[HEADER_LEN:]
    with pytest.raises(DecodeError) as info:
        codec().decode(MARKER + fp + body)
    assert info.value.problem == DecodeError.PROBLEM_FINGERPRINT
    assert f"{n:016x}" in str(info.value)
    ledger.add("forged_fingerprints")


@FUZZ
@given(any_value, st.sampled_from(TOP_LEVEL))
def test_borrowed_fingerprints_never_crash(ledger, nv: tuple[str, dict[str, Any]], other: str) -> None:
    """A body written with one schema under another schema's fingerprint: a value or a DecodeError"""
    name, value = nv
    body = codec().encode(name, value)[HEADER_LEN:]
    forged = MARKER + codec().catalogue.latest(other).fingerprint_bytes + body
    _decode_or_error(forged)
    result = _decode_or_error(forged, expect=name)
    if other != name:
        assert isinstance(result, DecodeError) and result.problem == DecodeError.PROBLEM_TYPE
    ledger.add("borrowed_fingerprints")


def test_type_confusion_is_named() -> None:
    """A Report read where an AuditEvent is expected is refused as 'unexpected type'"""
    data = codec().encode(REPORT, factories.report())
    with pytest.raises(DecodeError) as info:
        codec().decode(data, expect=AUDIT_EVENT)
    assert info.value.problem == DecodeError.PROBLEM_TYPE
    assert "expected AuditEvent, got Report" in str(info.value)


@pytest.mark.parametrize("length", [2**31, 2**62, -(2**40)])
def test_huge_length_prefixes_fail_fast(ledger, length: int) -> None:
    """Length prefixes of gigabytes or negative lengths are refused, not allocated"""
    def zigzag(n: int) -> bytes:
        z = (n << 1) ^ (n >> 63)
        out = bytearray()
        while True:
            b = z & 0x7F
            z >>= 7
            if z:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)

    for name in TOP_LEVEL:
        # the first field of every top-level record is a string id: claim a huge one
        data = MARKER + codec().catalogue.latest(name).fingerprint_bytes + zigzag(length) + b"abc"
        with pytest.raises(DecodeError) as info:
            codec().decode(data)
        assert info.value.problem in (DecodeError.PROBLEM_TRUNCATED, DecodeError.PROBLEM_BODY)
        ledger.add("huge_length_prefixes")


@FUZZ
@given(st.sampled_from(TOP_LEVEL), st.data())
def test_values_that_do_not_fit_raise_encode_error(ledger, name: str, data: st.DataObject) -> None:
    """A value with one field of a wrong type raises EncodeError naming the type, nothing else"""
    value = data.draw(avro_values(SCHEMAS[name]))
    field = data.draw(st.sampled_from(sorted(value)))
    value[field] = data.draw(json_values)
    try:
        encoded = codec().encode(name, value)
    except EncodeError as exc:
        assert name.rsplit(".", 1)[-1] in str(exc)
        ledger.add("wrong_values_refused")
        return
    # accepted: then it must decode to a value of the schema
    assert isinstance(codec().decode(encoded, expect=name), dict)
    ledger.add("wrong_values_that_still_fit")


@pytest.mark.parametrize("name,value", [
    (REPORT, factories.report()), (FEED_ITEM, factories.feed_item()),
])
def test_missing_required_fields_raise_encode_error(name: str, value: dict[str, Any]) -> None:
    """Dropping a required field gives EncodeError, never a KeyError or a half-written message"""
    for key in ("report_id",) if name == REPORT else ("item_id", "report"):
        v = dict(value)
        del v[key]
        with pytest.raises(EncodeError):
            codec().encode(name, v)


def test_dead_letter_keeps_any_raw_bytes() -> None:
    """Any raw bytes fit in a DeadLetter unchanged (the DLQ never loses a message)"""
    raw = bytes(range(256)) * 4
    dl = {"dead_letter_id": "hub.intake/0/1", "source_topic": "hub.intake", "source_partition": 0,
          "source_offset": 1, "key": b"\xff\x00", "value": raw, "headers": [], "stage": "decode",
          "reason": "undecodable", "failed_at": 0, "report_id": None}
    assert codec().decode(codec().encode(DEAD_LETTER, dl))["value"] == raw
