"""Encode the FeedItems of one report without re-encoding the shared parts per recipient.

An Avro record is the concatenation of its fields' encodings, so a FeedItem is
``header + head(item_id, recipient, delivery, incident_id) + Report + Enrichment + tail(routing,
routed_at, provenance)``. The items of one report share the Report (two variants: full and partner-redacted)
and mostly share the filtered Enrichment, which together are ~90 % of the bytes and of the encoding
time. This encoder writes each distinct part once and splices. The first use in a process checks
the result byte for byte against ``Codec.encode``; on any difference it falls back to it for good.

The unredacted Report part need not be written at all: the validated record's bytes already are
the report's Avro body when their writer schema is the latest Report (:meth:`Encoder.report_body`),
so the worker passes them in and only the partner-redacted variant is encoded. A Receipt
(``hub.receipts``) splices the same report bytes (:class:`ReceiptEncoder`). :class:`Encoder` bundles
the codec and both splicers and counts every Avro writer call by record type
(``hub_pipeline_avro_encodes_total``): a part written once and spliced into ten items counts once.
The Enrichment is spliced field by field, and everything in it but the Report is written by hand:
its scalars and strings, and its lists of flat records (EntityLink, ReportRef, ContainerCheck,
SubstanceTotal, PartyName: strings, ints, doubles, booleans, enums, optionals —
:func:`flat_record_writer`) element by element, each element object once per report (every
recipient's view shares the element dicts; a filtered list is a new list of the same elements). So
are a FeedItem's head (item_id, recipient, delivery, incident_id) and tail (routing, routed_at,
provenance null) and a Receipt's head and tail: fastavro's per-call setup costs more than these few
fields. Hand-written parts are not counted as Avro writes; anything they do not expect (a
provenance, a datetime, a field of another type — :class:`Unfit`) goes through fastavro, and every
hand-written writer is property-tested against fastavro. The process stage's AuditBatch is written
by hand too (:class:`AuditBatchEncoder`: AuditEvent is a flat record with a string array and map).
"""

from __future__ import annotations

import io
import struct
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

import fastavro
import structlog

from hub.domain.codec import (
    AUDIT_BATCH,
    AUDIT_EVENT,
    FEED_ITEM,
    HEADER_LEN,
    MARKER,
    NAMESPACE,
    RECEIPT,
    REPORT,
    Codec,
    expand,
    load_release,
    part_schema,
)
from hub.platform import metrics

log = structlog.get_logger(__name__)


_SMALL = [bytes((n << 1,)) for n in range(64)]  # zigzag(0..63): one byte


def zigzag(n: int) -> bytes:
    """Avro ``int``/``long``: zig-zag, then a little-endian base-128 varint."""
    if 0 <= n < 64:
        return _SMALL[n]
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_STRINGS: dict[str, bytes] = {}  # short strings recur (codes, ids, reasons, names): written once
_STRINGS_MAX = 1 << 15  # entries before the cache is emptied (bounded memory; refilled on use)
_SHORT = 64  # characters: longer strings (narratives) are not cached


def avro_string(s: str) -> bytes:
    """Avro ``string``: the UTF-8 length as a zig-zag varint, then the bytes (short ones cached)."""
    out = _STRINGS.get(s)
    if out is None:
        b = s.encode("utf-8")
        n = len(b)
        out = (_SMALL[n] + b) if n < 64 else zigzag(n) + b
        if len(s) <= _SHORT:
            if len(_STRINGS) >= _STRINGS_MAX:
                _STRINGS.clear()
            _STRINGS[s] = out
    return out


def avro_strings(items: Sequence[str]) -> bytes:
    """An Avro array of strings in one block (or the empty array)."""
    if not items:
        return b"\x00"
    return zigzag(len(items)) + b"".join(avro_string(x) for x in items) + b"\x00"


def _field_kind(t: Any) -> str:
    """How a field of this Avro type is written: int, long, string, optional string, strings (array
    of string), records (array of anything else) or other (fastavro)."""
    if t == "int":
        return "int"
    if t == "long":
        return "long"
    if t == "string":
        return "string"
    if t == ["null", "string"]:
        return "optional string"
    if isinstance(t, dict) and t.get("type") == "array":
        return "strings" if t["items"] == "string" else "records"
    return "other"


def _symbols(raw: Mapping[str, Any], name: str) -> dict[str, int]:
    return {sym: i for i, sym in enumerate(raw[f"{NAMESPACE}.{name}"]["symbols"])}


def _plain(value: Any, *types: type) -> bool:
    return type(value) in types


class Unfit(Exception):
    """A value a hand-written writer does not take (a type it does not expect): fastavro writes it."""


Writer = Callable[[Any], bytes]


def _w_string(v: Any) -> bytes:
    if type(v) is not str:
        raise Unfit(v)
    return avro_string(v)


def _w_long(v: Any) -> bytes:
    if type(v) is not int:
        raise Unfit(v)
    return zigzag(v)


def _w_int(v: Any) -> bytes:
    if type(v) is not int or not -2**31 <= v < 2**31:
        raise Unfit(v)
    return zigzag(v)


_DOUBLE = struct.Struct("<d")


def _w_double(v: Any) -> bytes:
    if type(v) not in (float, int):
        raise Unfit(v)
    return _DOUBLE.pack(v)


def _w_boolean(v: Any) -> bytes:
    if type(v) is not bool:
        raise Unfit(v)
    return b"\x01" if v else b"\x00"


_PRIMITIVE_WRITERS: dict[str, Writer] = {"string": _w_string, "long": _w_long, "int": _w_int, "double": _w_double,
                                         "boolean": _w_boolean}


def _field_writer(t: Any, raw: Mapping[str, Any]) -> Writer | None:
    """A hand-written writer for a field of type ``t`` (raw schema) when it is a primitive string,
    int, long (timestamp-millis too), double or boolean, an enum, an array or map of strings, or a
    union of null and one of those; None for anything else."""
    if isinstance(t, dict) and t.get("type") in _PRIMITIVE_WRITERS:
        return _PRIMITIVE_WRITERS[t["type"]]
    if isinstance(t, str) and t in _PRIMITIVE_WRITERS:
        return _PRIMITIVE_WRITERS[t]
    if isinstance(t, list) and len(t) == 2 and t[0] == "null":
        inner = _field_writer(t[1], raw)
        if inner is None:
            return None
        return lambda v: b"\x00" if v is None else b"\x02" + inner(v)
    if isinstance(t, dict) and t.get("type") == "array" and t.get("items") == "string":
        def strings(v: Any) -> bytes:
            if type(v) is not list or not all(type(x) is str for x in v):
                raise Unfit(v)
            return avro_strings(v)
        return strings
    if isinstance(t, dict) and t.get("type") == "map" and t.get("values") == "string":
        def string_map(v: Any) -> bytes:
            if type(v) is not dict:
                raise Unfit(v)
            if not v:
                return b"\x00"
            return zigzag(len(v)) + b"".join([_w_string(k) + _w_string(x) for k, x in v.items()]) + b"\x00"
        return string_map
    named = raw.get(t if "." in str(t) else f"{NAMESPACE}.{t}") if isinstance(t, str) else None
    if named is not None and named.get("type") == "enum":
        index = {sym: i for i, sym in enumerate(named["symbols"])}

        def enum(v: Any) -> bytes:
            i = index.get(v) if type(v) is str else None
            if i is None:
                raise Unfit(v)
            return zigzag(i)
        return enum
    return None


def _inline(t: Any, raw: Mapping[str, Any], v: str, x: str, env: dict[str, Any]) -> list[str] | None:
    """Python statements that check the field value in variable ``v`` against Avro type ``t`` (raw
    schema) — raising :class:`Unfit` exactly where :func:`_field_writer`'s writer would — and set
    variable ``x`` to its bytes; None for a type not written inline (then the writer is called).
    Names the statements use go into ``env``."""
    if isinstance(t, dict) and t.get("type") in _PRIMITIVE_WRITERS:
        t = t["type"]
    if t == "string":
        return [f"if type({v}) is not str: raise Unfit({v})", f"{x} = _string({v}) or avro_string({v})"]
    if t == "long":
        return [f"if type({v}) is not int: raise Unfit({v})", f"{x} = _SMALL[{v}] if 0 <= {v} < 64 else zigzag({v})"]
    if t == "int":
        return [f"if type({v}) is not int or not -2147483648 <= {v} < 2147483648: raise Unfit({v})",
                f"{x} = _SMALL[{v}] if 0 <= {v} < 64 else zigzag({v})"]
    if t == "double":
        return [f"if type({v}) is not float and type({v}) is not int: raise Unfit({v})", f"{x} = _pack_double({v})"]
    if t == "boolean":
        return [f"if type({v}) is not bool: raise Unfit({v})", f"{x} = b'\\x01' if {v} else b'\\x00'"]
    if isinstance(t, list) and len(t) == 2 and t[0] == "null":
        inner = _inline(t[1], raw, v, x, env)
        if inner is None:
            return None
        return [f"if {v} is None: {x} = b'\\x00'", "else:", *(f"    {line}" for line in inner),
                f"    {x} = b'\\x02' + {x}"]
    named = raw.get(t if "." in str(t) else f"{NAMESPACE}.{t}") if isinstance(t, str) else None
    if named is not None and named.get("type") == "enum":
        symbols = f"_symbols_{len(env)}"
        env[symbols] = {sym: zigzag(i) for i, sym in enumerate(named["symbols"])}
        return [f"{x} = {symbols}.get({v}) if type({v}) is str else None", f"if {x} is None: raise Unfit({v})"]
    return None


def flat_record_writer(name: str, raw: Mapping[str, Any]) -> Writer | None:
    """A hand-written writer for a record whose fields all have :func:`_field_writer`s (EntityLink,
    ReportRef, ContainerCheck, SubstanceTotal, PartyName, AuditEvent); None otherwise. Raises
    :class:`Unfit`. Compiled once per record type into one function (strings, ints, longs, doubles,
    booleans, enums and their optionals inline; string arrays and maps through their writers): a
    function call per field cost more than the writing."""
    rec = raw.get(name if "." in name else f"{NAMESPACE}.{name}")
    if rec is None or rec.get("type") != "record":
        return None
    env: dict[str, Any] = {"Unfit": Unfit, "_string": _STRINGS.get, "avro_string": avro_string, "_SMALL": _SMALL,
                           "zigzag": zigzag, "_pack_double": _DOUBLE.pack}
    lines = ["def write(r):", "    try:"]
    lines += [f"        f{i} = r[{f['name']!r}]" for i, f in enumerate(rec["fields"])]
    lines += ["    except (KeyError, TypeError) as exc:", "        raise Unfit(r) from exc"]
    for i, f in enumerate(rec["fields"]):
        w = _field_writer(f["type"], raw)
        if w is None:
            return None
        body = _inline(f["type"], raw, f"f{i}", f"x{i}", env)
        if body is None:
            env[f"w{i}"] = w
            body = [f"x{i} = w{i}(f{i})"]
        lines += [f"    {line}" for line in body]
    lines.append(f"    return b''.join(({''.join(f'x{i}, ' for i in range(len(rec['fields'])))}))")
    exec(compile("\n".join(lines), f"<flat_record_writer {name}>", "exec"), env)  # source built above from our schema (names via repr)
    write: Writer = env["write"]
    return write


def _header(full: bytes, body: bytes) -> bytes | None:
    """The framing of ``full`` if ``full`` is that framing followed by ``body``, else None."""
    header = full[: len(full) - len(body)]
    return header if header + body == full else None


class FeedItemEncoder:
    def __init__(self, codec: Codec, counts: Counter[str] | None = None) -> None:
        self.codec = codec
        self.counts: Counter[str] = Counter() if counts is None else counts
        sv = codec.catalogue.latest(FEED_ITEM)
        raw = load_release(codec.catalogue.root / f"v{sv.release}")
        item = raw[FEED_ITEM]
        fields = {f["name"]: f for f in item["fields"]}
        names = [f["name"] for f in item["fields"]]
        if names != ["item_id", "recipient", "delivery", "incident_id", "report", "enrichment", "routing",
                     "routed_at", "provenance"]:
            raise ValueError(f"FeedItem fields changed: {names}")

        self.head = part_schema(raw, fields, "FeedItemHead", ["item_id", "recipient", "delivery", "incident_id"])
        self.report = fastavro.parse_schema(expand(fields["report"]["type"], raw))
        self.enrichment = fastavro.parse_schema(expand(fields["enrichment"]["type"], raw))
        # the Enrichment spliced too: field by field (see _enrichment)
        enr_raw = raw[f"{NAMESPACE}.Enrichment"]
        enr_fields = {f["name"]: f for f in enr_raw["fields"]}
        self.enrichment_fields = [(f["name"], _field_kind(f["type"]),
                                   part_schema(raw, enr_fields, f"EnrichmentField{i}", [f["name"]]),
                                   self._element_writer(f["type"], raw))
                                  for i, f in enumerate(enr_raw["fields"])]
        self._fast = [self._fast_writer(kind, element) for _n, kind, _s, element in self.enrichment_fields]
        self._elements: dict[int, bytes] = {}  # list elements written by hand, by object id (one encode call)
        # per Enrichment field: its values written, by object id (one encode call): what the views share
        # (the report's own parts, equal risk reasons, equal lists) is looked up, not written again
        self._fields: list[dict[int, bytes]] = [{} for _ in self.enrichment_fields]
        self._arrays: dict[int, bytes | None] = {}  # whole lists of them, by list id (one encode call)
        self.tail = part_schema(raw, fields, "FeedItemTail", ["routing", "routed_at", "provenance"])
        self.delivery = _symbols(raw, "DeliveryKind")
        self.header: bytes | None = None  # learned (and checked) on first use
        self.spliced = True
        self.parts: dict[bool, bytes] = {}
        self._recipients: dict[int, bytes] = {}  # routing.recipients written, by list id (one encode call)

    @staticmethod
    def _element_writer(t: Any, raw: Mapping[str, Any]) -> Writer | None:
        """The hand-written writer of an Enrichment array's elements (flat records); None otherwise."""
        if _field_kind(t) != "records" or not isinstance(t["items"], str):
            return None
        return flat_record_writer(t["items"], raw)

    def _write(self, schema: Any, value: Mapping[str, Any]) -> bytes:
        self.counts["FeedItem"] += 1
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, value)
        return buf.getvalue()

    def _splice(self, it: Mapping[str, Any], reports: MutableMapping[Any, bytes], enrichments: dict[Any, bytes]
                ) -> bytes:
        rkey = it["routing"]["redacted"]
        if rkey not in reports:
            reports[rkey] = self._write(self.report, it["report"])
        enr = it["enrichment"]
        ekey = id(enr)  # decide() makes equal enrichments one object; the items keep it alive meanwhile
        if ekey not in enrichments:
            enrichments[ekey] = self._enrichment(enr, enrichments)
        return b"".join((self._head(it), reports[rkey], enrichments[ekey], self._tail(it)))

    def _fast_writer(self, kind: str, element: Writer | None) -> Callable[[Any], bytes | None]:
        """The hand-written writer of one Enrichment field of this kind: its bytes, or None when the
        value is not of the plain type expected (then fastavro writes the field)."""
        if kind == "long":
            return lambda v: zigzag(v) if type(v) is int else None
        if kind == "int":
            return lambda v: zigzag(v) if type(v) is int and -2**31 <= v < 2**31 else None
        if kind == "string":
            return lambda v: avro_string(v) if type(v) is str else None
        if kind == "optional string":
            return lambda v: b"\x00" if v is None else b"\x02" + avro_string(v) if type(v) is str else None
        if kind == "strings":
            return lambda v: avro_strings(v) if type(v) is list and all(type(x) is str for x in v) else None
        if kind == "records":
            array = self._array

            def records(v: Any) -> bytes | None:
                if type(v) is not list:
                    return None
                if not v:
                    return b"\x00"
                return array(v, element) if element is not None else None
            return records
        return lambda v: None

    def _enrichment(self, enr: Mapping[str, Any], cache: dict[Any, bytes]) -> bytes:
        """An Enrichment as the concatenation of its fields (an Avro record is exactly that). Ints,
        strings, optional strings, string arrays and arrays of flat records are written by hand
        (:meth:`_fast_writer`; an array of records once per list object and each element once per
        encode call — the per-recipient views share the element dicts, a filtered list is a new list
        of the same elements — so what all views share, containers, totals, names, watchlist hits, is
        written once per report); anything else (or a value of another type) by fastavro, once per
        distinct value object (arrays: per sequence of element objects)."""
        out = []
        for (name, kind, schema, _element), fast, written in zip(self.enrichment_fields, self._fast, self._fields,
                                                                 strict=True):
            v = enr[name]
            part = written.get(id(v))  # this field's value already written for another view
            if part is None:
                part = fast(v)
                if part is None:
                    key = (name, *(id(x) for x in v)) if kind == "records" and _plain(v, list) else (name, id(v))
                    part = cache.get(key)
                    if part is None:
                        part = cache[key] = self._write(schema, {name: v})
                written[id(v)] = part
            out.append(part)
        return b"".join(out)

    def _array(self, values: list[Any], element: Writer) -> bytes | None:
        """A non-empty array of flat records, each element written by hand once per encode call (the
        recipients' views share the element dicts, and the lists that depend on the report alone —
        containers, totals, names, watchlist hits — are one list object, written once per call);
        None when an element does not fit."""
        arrays = self._arrays
        key = id(values)
        if key in arrays:
            return arrays[key]
        cache = self._elements
        parts = []
        for x in values:
            b = cache.get(id(x))
            if b is None:
                try:
                    b = cache[id(x)] = element(x)
                except Unfit:
                    arrays[key] = None
                    return None
            parts.append(b)
        out = arrays[key] = zigzag(len(parts)) + b"".join(parts) + b"\x00"
        return out

    def _head(self, it: Mapping[str, Any]) -> bytes:
        """item_id, recipient, delivery, incident_id written by hand (fastavro's per-call setup costs
        more than these four fields); anything unusual goes to fastavro."""
        d = self.delivery.get(it["delivery"])
        if d is None or not all(_plain(it[k], str) for k in ("item_id", "recipient", "incident_id")):
            return self._write(self.head, it)
        return b"".join((avro_string(it["item_id"]), avro_string(it["recipient"]), zigzag(d),
                         avro_string(it["incident_id"])))

    def _tail(self, it: Mapping[str, Any]) -> bytes:
        """routing{recipients, reason, redacted}, routed_at, provenance=null by hand (else fastavro)."""
        r = it["routing"]
        key = id(r["recipients"])  # one list object shared by a report's items (decide())
        recips = self._recipients.get(key)
        if recips is None and all(_plain(x, str) for x in r["recipients"]):
            recips = self._recipients[key] = avro_strings(r["recipients"])
        if (recips is None or it.get("provenance") is not None or not _plain(it["routed_at"], int)
                or not _plain(r["reason"], str) or not _plain(r["redacted"], bool)):
            return self._write(self.tail, it)
        return b"".join((recips, avro_string(r["reason"]), b"\x01" if r["redacted"] else b"\x00",
                         zigzag(it["routed_at"]), b"\x00"))

    def encode(self, items: Sequence[Mapping[str, Any]], report: Mapping[str, Any] | None = None,
               body: bytes | None = None) -> list[bytes]:
        """Encoded FeedItems, one per item; all items must come from one decide() call
        (same report version and enrichment, filtered per recipient). ``body``: the Avro body of
        ``report`` (:meth:`Encoder.report_body`), used for the unredacted copies when they equal
        ``report``. Afterwards :attr:`parts` holds the Report parts by ``redacted`` flag."""
        self.parts = {}
        if body is not None and report is not None:
            plain = next((it["report"] for it in items if not it["routing"]["redacted"]), None)
            if plain is not None and plain == report:
                self.parts[False] = body
        if not self.spliced:
            self.counts["FeedItem"] += len(items)
            return [self.codec.encode(FEED_ITEM, it) for it in items]
        enrichments: dict[Any, bytes] = {}
        self._recipients, self._elements, self._arrays = {}, {}, {}
        self._fields = [{} for _ in self.enrichment_fields]
        bodies = [self._splice(it, self.parts, enrichments) for it in items]
        self._recipients, self._elements, self._arrays = {}, {}, {}
        self._fields = [{} for _ in self.enrichment_fields]
        if self.header is None and items:
            self.counts["FeedItem"] += 1
            self.header = _header(self.codec.encode(FEED_ITEM, items[0]), bodies[0])
            if self.header is None:
                log.warning("spliced FeedItem encoding differs from the codec; using the codec")
                self.spliced = False
                return self.encode(items)
        return [self.header + b for b in bodies] if self.header is not None else bodies


class ReceiptEncoder:
    """A Receipt spliced from head(receipt_id … incident_id) + the Report part + tail(recipients,
    routed_at), reusing the report bytes the feed items used. Checked against the codec on first use."""

    def __init__(self, codec: Codec, counts: Counter[str] | None = None) -> None:
        self.codec = codec
        self.counts: Counter[str] = Counter() if counts is None else counts
        sv = codec.catalogue.latest(RECEIPT)
        raw = load_release(codec.catalogue.root / f"v{sv.release}")
        fields = {f["name"]: f for f in raw[RECEIPT]["fields"]}
        names = list(fields)
        if names != ["receipt_id", "report_id", "version", "agency", "state", "incident_id", "report", "recipients",
                     "routed_at"]:
            raise ValueError(f"Receipt fields changed: {names}")
        self.head = part_schema(raw, fields, "ReceiptHead", names[:6])
        self.report = fastavro.parse_schema(expand(fields["report"]["type"], raw))
        self.tail = part_schema(raw, fields, "ReceiptTail", names[7:])
        self.delivery = _symbols(raw, "DeliveryKind")
        self.header: bytes | None = None
        self.spliced = True

    def _write(self, schema: Any, value: Mapping[str, Any]) -> bytes:
        self.counts["Receipt"] += 1
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, value)
        return buf.getvalue()

    def _head(self, r: Mapping[str, Any]) -> bytes:
        strings = ("receipt_id", "report_id", "agency", "state", "incident_id")
        if not _plain(r["version"], int) or not all(_plain(r[k], str) for k in strings):
            return self._write(self.head, r)
        return b"".join((avro_string(r["receipt_id"]), avro_string(r["report_id"]), zigzag(r["version"]),
                         avro_string(r["agency"]), avro_string(r["state"]), avro_string(r["incident_id"])))

    def _tail(self, r: Mapping[str, Any]) -> bytes:
        recips = r["recipients"]
        parts = []
        for x in recips:
            d = self.delivery.get(x["delivery"])
            if (d is None or not _plain(x["recipient"], str) or not _plain(x["reason"], str)
                    or not _plain(x["redacted"], bool)):
                return self._write(self.tail, r)
            parts.append(b"".join((avro_string(x["recipient"]), zigzag(d), avro_string(x["reason"]),
                                   b"\x01" if x["redacted"] else b"\x00")))
        if not _plain(r["routed_at"], int):
            return self._write(self.tail, r)
        array = zigzag(len(parts)) + b"".join(parts) + b"\x00" if parts else b"\x00"
        return array + zigzag(r["routed_at"])

    def encode(self, receipt: Mapping[str, Any], report_body: bytes | None = None) -> bytes:
        """``report_body``: the Avro body of ``receipt["report"]`` when already written."""
        if not self.spliced:
            self.counts["Receipt"] += 1
            return self.codec.encode(RECEIPT, receipt)
        body = b"".join((self._head(receipt),
                         report_body if report_body is not None else self._write(self.report, receipt["report"]),
                         self._tail(receipt)))
        if self.header is None:
            self.counts["Receipt"] += 1
            self.header = _header(self.codec.encode(RECEIPT, receipt), body)
            if self.header is None:
                log.warning("spliced Receipt encoding differs from the codec; using the codec")
                self.spliced = False
                return self.encode(receipt)
        return self.header + body


class AuditBatchEncoder:
    """An AuditBatch (every stage of one input) written by hand: AuditEvent is a flat record. The
    framing is learned from, and the first batch checked against, the codec."""

    def __init__(self, codec: Codec, counts: Counter[str] | None = None) -> None:
        self.codec = codec
        self.counts: Counter[str] = Counter() if counts is None else counts
        sv = codec.catalogue.latest(AUDIT_BATCH)
        raw = load_release(codec.catalogue.root / f"v{sv.release}")
        if [f["name"] for f in raw[AUDIT_BATCH]["fields"]] != ["events"]:
            raise ValueError("AuditBatch fields changed")
        self.event = flat_record_writer(AUDIT_EVENT, raw)
        self.header: bytes | None = None
        self.spliced = self.event is not None

    def encode(self, events: Sequence[Mapping[str, Any]]) -> bytes:
        if self.spliced and self.event is not None:
            try:
                body = (zigzag(len(events)) + b"".join([self.event(e) for e in events]) + b"\x00") if events \
                    else b"\x00"
            except Unfit:
                body = None
            if body is not None:
                if self.header is None:
                    self.counts["AuditBatch"] += 1
                    self.header = _header(self.codec.encode(AUDIT_BATCH, {"events": list(events)}), body)
                    if self.header is None:
                        log.warning("hand-written AuditBatch differs from the codec; using the codec")
                        self.spliced = False
                        return self.encode(events)
                return self.header + body
        self.counts["AuditBatch"] += 1
        return self.codec.encode(AUDIT_BATCH, {"events": list(events)})


class Encoder:
    """The pipeline worker's Avro encoding: the codec, the FeedItem and Receipt splicers, and the
    count of writer calls by record type (flushed to ``hub_pipeline_avro_encodes_total``)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.counts: Counter[str] = Counter()
        self.feed = FeedItemEncoder(codec, self.counts)
        self.receipts = ReceiptEncoder(codec, self.counts)
        self.audit = AuditBatchEncoder(codec, self.counts)
        self._report_fp = codec.catalogue.latest(REPORT).fingerprint_bytes

    def encode(self, name: str, value: Mapping[str, Any]) -> bytes:
        self.counts[name.rsplit(".", 1)[-1]] += 1
        return self.codec.encode(name, value)

    def report_body(self, data: bytes | None) -> bytes | None:
        """The Avro body of a single-object encoded Report written with the latest Report schema
        (so it is byte for byte what encoding the decoded report again would give), else None."""
        if data and data[:2] == MARKER and data[2:HEADER_LEN] == self._report_fp:
            return data[HEADER_LEN:]
        return None

    def flush_metrics(self) -> None:
        for name, n in self.counts.items():
            metrics.child(metrics.PIPELINE_ENCODES, name).inc(n)
        self.counts.clear()
