"""Encoded FeedItems → ``feed_items`` rows, decoding what the items of one report share once.

A report routed to N recipients becomes N FeedItems on N feed topics, and they differ only in a few
bytes: an Avro record is the concatenation of its fields' encodings, so an item is
``header + head(item_id, recipient, delivery, incident_id) + Report + Enrichment + tail(routing,
routed_at, provenance)``, and the Report part (two variants: full and partner-redacted) and the
Enrichment part (filtered per recipient, mostly equal) are ~90 % of the bytes and of the decoding
time, and most of the item's JSON. :class:`FeedRows` decodes each distinct part once and keeps its
JSON text (and the row columns it gives) keyed by the part's bytes; the row of an item is its head,
decoded by hand, and the kept parts spliced. A Report part's first :data:`FINE_FROM` - 1 items read
the rest (Enrichment and tail) in one go, as cheap as the codec; its later items read the Enrichment
field by field (each field's recent encodings kept with the Report part), an array of records
element by element (the entity links differ per recipient — each gets the top ten it may see — but
their elements recur, across reports too: kept by their bytes).

Why this is exact: Avro binary decoding reads a record's fields in order and decides only on the
bytes read so far, so bytes equal to a part decoded before decode, from the same position, to the
same value and end at the same length (the lookup compares the whole part, not a hash of it). The
JSON is orjson's compact form, in which an object is ``{`` + ``"key":value`` pairs joined by ``,`` +
``}``, so splicing the parts' texts gives the text :func:`hub.domain.feedjson.item_json` writes for
the whole decoded item, byte for byte. The first item a process decodes this way is also decoded
the generic way (:meth:`hub.domain.codec.Codec.decode`, :func:`hub.domain.feedjson.to_row`) and
compared; on any difference the shortcut is off for good. An item of another writer schema (an
older release), of the Confluent framing, or with anything unexpected in its bytes gets ``None``,
and the caller decodes it the generic way (which also gives the precise error of a bad record).

Splicing pays when a report's items come near each other (a consumer of every feed topic reading
as they are written). When they do not (a rebuild reading each topic far from the others), most
parts are new, and reading an item in parts costs a little more than reading it whole: when fewer
than a quarter of :data:`PROBE` items found their Report part kept, the next :data:`BYPASS` items are
left to the codec, then it probes again.

The kept parts are bounded (:data:`MAX_REPORTS` Report parts with their Enrichment fields,
:data:`MAX_SHARED_ELEMENTS` elements per array field, :data:`MAX_TAILS` tails; emptied when full),
so memory stays around ten MB however long it runs. Concurrent callers (projections decoding in
threads) may race on what is kept; every kept entry is a whole (bytes, value) pair and is used only
after the bytes are compared, so a race costs a decode, never a wrong row.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from typing import Any

import fastavro
import orjson
import structlog

from hub.domain.codec import FEED_ITEM, MARKER, NAMESPACE, Codec, expand, load_release, part_schema
from hub.domain.feedjson import json_bytes, millis, to_row

log = structlog.get_logger(__name__)

PROBE = 256  # items whose Report parts are looked for before the hit rate is judged
BYPASS = 1024  # items then left to the codec when under a quarter of those were found kept
MAX_REPORTS = 1024  # distinct Report parts kept (each ~2 KB of bytes + ~4 KB of JSON, with its Enrichments)
FINE_FROM = 3  # the item of a Report part from which its Enrichment is read field by field
MAX_VARIANTS = 4  # encodings kept per Enrichment field per Report part (the newest)
ELEMENT_PREFIX = 64  # bytes of an array element that index it
MAX_SAME_PREFIX = 4  # elements kept with the same first bytes (the newest)
MAX_SHARED_ELEMENTS = 8192  # elements kept per array field across reports (by their first bytes)
MAX_TAILS = 4096  # distinct tails kept (routing, routed_at, provenance: ~100 bytes each)
PREFIX = 48  # bytes of a Report part that index it (its report_id is the first field)
FIELDS = ["item_id", "recipient", "delivery", "incident_id", "report", "enrichment", "routing", "routed_at",
          "provenance"]


class _Report:
    """One decoded Report part: its bytes, its JSON, the row columns it gives, and, per field of the
    Enrichment, the encodings of that field seen after it (bytes, JSON ``"name":value``)."""

    __slots__ = ("data", "fields", "items", "json", "kind", "report_id", "tlp", "version")

    def __init__(self, data: bytes, value: Mapping[str, Any], n_fields: int) -> None:
        self.data = data
        self.json = _kept(json_bytes(value))
        self.report_id = value["report_id"]
        self.version = int(value["version"])
        self.kind = value["kind"]
        self.tlp = value["tlp"]
        self.fields: list[list[tuple[bytes, bytes]]] = [[] for _ in range(n_fields)]
        self.items = 0  # items read with this Report part


def _long(data: bytes, pos: int) -> tuple[int, int]:
    """An Avro ``long`` at ``pos`` (zig-zag varint): value, next position. IndexError past the end."""
    b = data[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")
    return (n >> 1) ^ -(n & 1), pos


def _string(data: bytes, pos: int) -> tuple[str, int]:
    """An Avro ``string`` at ``pos``: value, next position."""
    n, pos = _long(data, pos)
    end = pos + n
    if n < 0 or end > len(data):
        raise ValueError("string past the end")
    return data[pos:end].decode("utf-8"), end


class _Field:
    """One Enrichment field: its name, the schema of a record of it alone, and for an array of
    records the element's schema."""

    __slots__ = ("element", "elements", "key", "name", "schema")

    def __init__(self, f: Mapping[str, Any], raw: Mapping[str, Any]) -> None:
        self.name = f["name"]
        self.key = orjson.dumps(self.name) + b":"
        self.schema = part_schema(raw, {self.name: f}, f"EnrichmentField_{self.name}", [self.name])
        t = f["type"]
        items = t.get("items") if isinstance(t, dict) and t.get("type") == "array" else None
        named = raw.get(items if "." in str(items) else f"{NAMESPACE}.{items}") if isinstance(items, str) else None
        self.element = _schema(items, raw) if named is not None and named.get("type") == "record" else None
        #: elements seen in any report (an entity link recurs in the links of many): by their first bytes
        self.elements: dict[bytes, list[tuple[bytes, bytes]]] = {}


def _kept(data: bytes) -> bytes:
    """A copy of exactly ``data``'s size, for what is kept: orjson's result keeps the buffer it was
    written into (a 60-byte element's JSON held about 4 KB)."""
    return bytes(memoryview(data))


def _schema(value: Any, raw: Mapping[str, Any]) -> Any:
    return fastavro.parse_schema(expand(value, raw))


class FeedRows:
    """``row(data)``: the ``feed_items`` row of one encoded FeedItem (as :func:`to_row` of its
    decoding), or None when the shortcut does not apply (see the module)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        sv = codec.catalogue.latest(FEED_ITEM)
        raw = load_release(codec.catalogue.root / f"v{sv.release}")
        item = raw[FEED_ITEM]
        names = [f["name"] for f in item["fields"]]
        #: off when the FeedItem's fields are not what this splices, or when the first check failed
        self.enabled = names == FIELDS and codec.registry is None
        self.header = MARKER + sv.fingerprint_bytes
        fields = {f["name"]: f for f in item["fields"]}
        self._report = _schema(fields["report"]["type"], raw) if self.enabled else None
        enr = raw[f"{NAMESPACE}.Enrichment"] if self.enabled else {"fields": []}
        self._fields = [_Field(f, raw) for f in enr["fields"]]
        self._rest = part_schema(raw, fields, "FeedItemRest", FIELDS[5:]) if self.enabled else None
        self._tail = part_schema(raw, fields, "FeedItemTail", FIELDS[6:]) if self.enabled else None
        self._delivery: list[str] = list(raw[f"{NAMESPACE}.DeliveryKind"]["symbols"])
        self._reports: dict[bytes, list[_Report]] = {}
        self._report_count = 0
        self._tails: dict[bytes, tuple[bytes, int]] = {}
        self._lookups = self._hits = 0  # Report parts looked for, and found, in this probe
        self._bypass = 0  # items left to the codec before the next probe
        self._checked = False
        self._lock = threading.Lock()  # the first check only

    def _read(self, schema: Any, data: bytes, pos: int) -> tuple[Any, int]:
        buf = io.BytesIO(data)
        buf.seek(pos)
        value = fastavro.schemaless_reader(buf, schema, None)
        return value, buf.tell()

    def _report_at(self, data: bytes, pos: int) -> _Report:
        key = data[pos:pos + PREFIX]
        found = self._reports.get(key)
        self._lookups += 1
        if found is not None:
            for rep in found:
                if data.startswith(rep.data, pos):
                    self._hits += 1
                    return rep
        value, end = self._read(self._report, data, pos)
        rep = _Report(data[pos:end], value, len(self._fields))
        if self._report_count >= MAX_REPORTS:
            self._reports = {}
            self._report_count = 0
        self._reports.setdefault(key, []).append(rep)
        self._report_count += 1
        return rep

    def _enrichment_at(self, rep: _Report, data: bytes, pos: int) -> tuple[bytes, int]:
        """The Enrichment's JSON and where it ends: field by field (an Avro record is its fields one
        after the other), each field's encoding decoded once per Report part (the recipients' views
        differ in a field or two: the entity links they may see), an array of records element by
        element (a recipient's list is a selection of the same elements, in the same order)."""
        parts = []
        for f, seen in zip(self._fields, rep.fields, strict=True):
            for b, known in seen:
                if data.startswith(b, pos):
                    pos += len(b)
                    parts.append(known)
                    break
            else:
                if f.element is not None:
                    js, end = self._array(f, data, pos)
                else:
                    value, end = self._read(f.schema, data, pos)
                    js = json_bytes(value)[1:-1]  # '"name":value'
                if len(seen) >= MAX_VARIANTS:
                    del seen[0]
                seen.append((data[pos:end], js))
                pos = end
                parts.append(js)
        return b"{" + b",".join(parts) + b"}", pos

    def _array(self, f: _Field, data: bytes, pos: int) -> tuple[bytes, int]:
        """An array of records: ``"name":[…]`` and where it ends, each element one seen before (in
        any report: an entity link recurs in the links of many, and a recipient's list is a
        selection of the same elements), else read alone by fastavro and remembered."""
        out = []
        seen = f.elements
        count, pos = _long(data, pos)
        while count:
            if count < 0:  # a block with its size in bytes
                count = -count
                _size, pos = _long(data, pos)
            for _ in range(count):
                for b, known in seen.get(data[pos:pos + ELEMENT_PREFIX], ()):
                    if data.startswith(b, pos):
                        pos += len(b)
                        js = known
                        break
                else:
                    js, pos = self._element(f, data, pos)
                out.append(js)
            count, pos = _long(data, pos)
        return f.key + b"[" + b",".join(out) + b"]", pos

    def _element(self, f: _Field, data: bytes, pos: int) -> tuple[bytes, int]:
        """One array element not seen yet (JSON, end), read by fastavro and remembered."""
        key = data[pos:pos + ELEMENT_PREFIX]
        value, end = self._read(f.element, data, pos)
        js = _kept(json_bytes(value))
        if len(f.elements) >= MAX_SHARED_ELEMENTS:
            f.elements = {}
        same = f.elements.setdefault(key, [])
        if len(same) >= MAX_SAME_PREFIX:
            del same[0]
        same.append((data[pos:end], js))
        return js, end

    def _tail_of(self, data: bytes, pos: int) -> tuple[bytes, int]:
        """The tail's JSON (``,"routing":…,"routed_at":…,"provenance":…}``) and routed_at in ms."""
        part = data[pos:]
        got = self._tails.get(part)
        if got is None:
            value, end = self._read(self._tail, data, pos)
            if end != len(data):
                raise ValueError(f"{len(data) - end} trailing bytes")
            js = json_bytes(value)
            got = (b"," + js[1:], millis(value["routed_at"]))
            if len(self._tails) >= MAX_TAILS:
                self._tails = {}
            self._tails[part] = got
        return got

    def _row(self, data: bytes) -> dict[str, Any]:
        pos = len(self.header)
        item_id, pos = _string(data, pos)
        recipient, pos = _string(data, pos)
        d, pos = _long(data, pos)
        delivery = self._delivery[d]  # IndexError when out of range (negative too: checked below)
        if d < 0:
            raise ValueError("negative enum index")
        incident_id, pos = _string(data, pos)
        rep = self._report_at(data, pos)
        head = orjson.dumps({"item_id": item_id, "recipient": recipient, "delivery": delivery,
                             "incident_id": incident_id})
        pos += len(rep.data)
        rep.items += 1
        if rep.items < FINE_FROM:  # a Report part's first items: the rest in one read (as cheap as the codec)
            value, end = self._read(self._rest, data, pos)
            if end != len(data):
                raise ValueError(f"{len(data) - end} trailing bytes")
            rest = json_bytes(value)
            routed_at = millis(value["routed_at"])
            js = b"".join((head[:-1], b',"report":', rep.json, b",", rest[1:]))
        else:  # the report's next items: the Enrichment field by field, most fields seen before
            enr, pos = self._enrichment_at(rep, data, pos)
            tail, routed_at = self._tail_of(data, pos)
            js = b"".join((head[:-1], b',"report":', rep.json, b',"enrichment":', enr, tail))
        return {"recipient": recipient, "item_id": item_id, "report_id": rep.report_id, "version": rep.version,
                "incident_id": incident_id, "delivery": delivery, "kind": rep.kind, "tlp": rep.tlp,
                "routed_at": routed_at, "item": js.decode()}

    def row(self, data: bytes) -> dict[str, Any] | None:
        if not self.enabled or not data.startswith(self.header):
            return None
        if self._bypass:
            self._bypass -= 1
            return None
        try:
            out = self._row(data)
        except Exception:  # anything unexpected: the generic decoding says what is wrong
            return None
        if self._lookups >= PROBE:
            if self._hits * 4 < self._lookups:  # few items share parts kept: the codec alone is cheaper
                self._bypass = BYPASS
            self._lookups = self._hits = 0
        if not self._checked:
            with self._lock:
                if not self._checked:
                    self._check(data, out)
        return out if self.enabled else None

    def _check(self, data: bytes, row: Mapping[str, Any]) -> None:
        """The first row made this way against the generic decoding's; the shortcut is off if they differ."""
        try:
            generic = to_row(self.codec.decode(data, expect=FEED_ITEM))
        except Exception:
            generic = None
        if generic != row:
            log.warning("spliced FeedItem row differs from the generic decoding; using the codec")
            self.enabled = False
        self._checked = True


_rows: FeedRows | None = None


def feed_rows(codec: Codec) -> FeedRows:
    """The process's :class:`FeedRows` for ``codec`` (made again if the codec changes)."""
    global _rows
    if _rows is None or _rows.codec is not codec:
        _rows = FeedRows(codec)
    return _rows


def forget() -> None:
    """Drop the process's :class:`FeedRows` and all it kept (a measurement starting cold, as a new process)."""
    global _rows
    _rows = None
