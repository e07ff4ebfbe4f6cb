"""The one codec: Avro single-object encoding (SPEC §3), schema catalogue and resolution.

Wire format (default)::

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer's Parsing Canonical Form | body

Every schema release ever shipped lives in ``schemas/vN/`` (one ``.avsc`` per named type). All of
them are loaded, so a reader can resolve any writer schema by fingerprint and read it into its own
(reader) schema -- evolution works without a registry server.

With ``HUB_SCHEMA_REGISTRY_URL`` set, :class:`ConfluentCodec` writes the Confluent wire format
(magic ``0`` + 4-byte big-endian schema id) so Kafka Connect / ksqlDB can read the topics.
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import parse_schema, to_parsing_canonical_form

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
NAMESPACE = "org.caricc.hub"
MARKER = b"\xc3\x01"
HEADER_LEN = 10

# Top-level record types that travel on topics.
REPORT = f"{NAMESPACE}.Report"
FEED_ITEM = f"{NAMESPACE}.FeedItem"
AUDIT_EVENT = f"{NAMESPACE}.AuditEvent"
DEAD_LETTER = f"{NAMESPACE}.DeadLetter"
# release v2 (SPEC §9, §13): several audit events in one record; what happened to a report for its
# provider; a granted onward-dissemination consent, sequenced like a report
AUDIT_BATCH = f"{NAMESPACE}.AuditBatch"
RECEIPT = f"{NAMESPACE}.Receipt"
SHARE_COMMAND = f"{NAMESPACE}.ShareCommand"
TOP_LEVEL = (REPORT, FEED_ITEM, AUDIT_EVENT, DEAD_LETTER, AUDIT_BATCH, RECEIPT, SHARE_COMMAND)


class DecodeError(ValueError):
    """Bytes that cannot be decoded. ``problem`` is one of the ``PROBLEM_*`` constants."""

    PROBLEM_EMPTY = "empty"
    PROBLEM_MARKER = "wrong marker"
    PROBLEM_FINGERPRINT = "unknown fingerprint"
    PROBLEM_TRUNCATED = "truncated"
    PROBLEM_BODY = "invalid body"
    PROBLEM_TYPE = "unexpected type"

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"undecodable message ({problem}): {detail}")
        self.problem = problem
        self.detail = detail


class EncodeError(ValueError):
    """A value that does not match its schema (names the type and fastavro's complaint)."""


_EMPTY = 0xC15D213AA4D7A795
_TABLE: list[int] = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO (Rabin) fingerprint, as in the Avro specification."""
    fp = _EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


@dataclass(frozen=True)
class SchemaVersion:
    """One top-level schema of one release, fully expanded and parsed."""

    name: str
    release: int
    expanded: dict[str, Any]
    parsed: Any
    canonical: str
    fingerprint: int

    @property
    def fingerprint_bytes(self) -> bytes:
        return struct.pack("<Q", self.fingerprint)


def _release_dirs(root: Path) -> list[tuple[int, Path]]:
    found = []
    for d in root.iterdir():
        m = re.fullmatch(r"v(\d+)", d.name)
        if m and d.is_dir():
            found.append((int(m.group(1)), d))
    return sorted(found)


def load_release(directory: Path) -> dict[str, dict[str, Any]]:
    """Raw schemas of one release by full name (one ``.avsc`` file per named type)."""
    raw: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.avsc")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        raw[f"{schema.get('namespace', NAMESPACE)}.{schema['name']}"] = schema
    return raw


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def part_schema(raw: Mapping[str, Any], fields: Mapping[str, Any], name: str, field_names: Sequence[str]) -> Any:
    """The parsed schema of a record named ``name`` made of some of another record's ``fields`` (by
    name, in ``field_names`` order): Avro writes a record as its fields one after the other, so this
    reads or writes that stretch of the whole record's bytes alone."""
    rec = {"type": "record", "name": name, "namespace": NAMESPACE, "fields": [fields[n] for n in field_names]}
    return fastavro.parse_schema(expand(rec, raw))


def expand(schema: Any, raw: Mapping[str, Any], seen: set[str] | None = None, ns: str = NAMESPACE) -> Any:
    """Inline named-type references (first use defined in full, later uses by full name)."""
    seen = set() if seen is None else seen
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return schema
        full = schema if "." in schema else f"{ns}.{schema}"
        if full in seen:
            return full
        if full not in raw:
            raise ValueError(f"unknown named type {schema!r}")
        return expand(raw[full], raw, seen, ns)
    if isinstance(schema, list):
        return [expand(s, raw, seen, ns) for s in schema]
    t = schema.get("type")
    if t in ("record", "enum", "fixed", "error"):
        ns = schema.get("namespace", ns)
        full = f"{ns}.{schema['name']}"
        seen.add(full)
        out = dict(schema, namespace=ns)
        if t in ("record", "error"):
            out["fields"] = [dict(f, type=expand(f["type"], raw, seen, ns)) for f in schema["fields"]]
        return out
    if t == "array":
        return dict(schema, items=expand(schema["items"], raw, seen, ns))
    if t == "map":
        return dict(schema, values=expand(schema["values"], raw, seen, ns))
    if isinstance(t, (dict, list)) or (isinstance(t, str) and t not in _PRIMITIVES):
        return expand(t, raw, seen, ns)
    return schema


class Catalogue:
    """All shipped schema releases; latest release is the reader schema."""

    def __init__(self, root: Path = SCHEMAS_DIR) -> None:
        self.root = root
        self.versions: dict[str, list[SchemaVersion]] = {}
        self.by_fingerprint: dict[int, SchemaVersion] = {}
        for release, directory in _release_dirs(root):
            raw = load_release(directory)
            for name in TOP_LEVEL:
                if name not in raw:
                    continue
                expanded = expand(raw[name], raw)
                parsed = parse_schema(expanded)
                canonical = to_parsing_canonical_form(parsed)
                fp = crc64_avro(canonical.encode("utf-8"))
                sv = SchemaVersion(name, release, expanded, parsed, canonical, fp)
                self.versions.setdefault(name, []).append(sv)
                # identical canonical forms across releases share a fingerprint: keep the first
                self.by_fingerprint.setdefault(fp, sv)
        if not self.versions:
            raise ValueError(f"no schemas found under {root}")

    def latest(self, name: str) -> SchemaVersion:
        return self.versions[name][-1]


class SchemaRegistry:
    """Client of a Confluent-compatible Schema Registry (subjects by record name, ids cached)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        self._ids: dict[int, int] = {}  # fingerprint -> registry id
        self._schemas: dict[int, Any] = {}  # registry id -> parsed writer schema
        self._names: dict[int, str] = {}  # registry id -> record full name

    def id_for(self, sv: SchemaVersion) -> int:
        if sv.fingerprint not in self._ids:
            r = self._http.post(
                f"{self.url}/subjects/{sv.name}/versions",
                json={"schema": json.dumps(sv.expanded)},
                headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            )
            r.raise_for_status()
            sid = int(r.json()["id"])
            self._ids[sv.fingerprint] = sid
            self._schemas[sid] = sv.parsed
            self._names[sid] = sv.name
        return self._ids[sv.fingerprint]

    def writer(self, sid: int) -> tuple[str, Any]:
        if sid not in self._schemas:
            r = self._http.get(f"{self.url}/schemas/ids/{sid}")
            if r.status_code == 404:
                raise DecodeError(DecodeError.PROBLEM_FINGERPRINT, f"schema id {sid} unknown to the registry")
            r.raise_for_status()
            schema = json.loads(r.json()["schema"])
            self._schemas[sid] = parse_schema(schema)
            self._names[sid] = f"{schema.get('namespace', NAMESPACE)}.{schema['name']}"
        return self._names[sid], self._schemas[sid]


class Codec:
    """Avro codec. Writes single-object encoding, or the Confluent wire format when a registry is
    given; reads both (the first byte tells which). Stateless after construction but for caches."""

    def __init__(self, catalogue: Catalogue | None = None, registry: SchemaRegistry | None = None) -> None:
        self.catalogue = catalogue or default_catalogue()
        self.registry = registry

    def encode(self, name: str, value: Mapping[str, Any]) -> bytes:
        sv = self.catalogue.latest(name)
        buf = io.BytesIO()
        if self.registry is not None:
            buf.write(b"\x00")
            buf.write(struct.pack(">I", self.registry.id_for(sv)))
        else:
            buf.write(MARKER)
            buf.write(sv.fingerprint_bytes)
        try:
            fastavro.schemaless_writer(buf, sv.parsed, value)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(f"{name.rsplit('.', 1)[-1]} does not match its schema: {exc}") from exc
        return buf.getvalue()

    def writer_of(self, data: bytes) -> SchemaVersion:
        """The writer schema of ``data`` (checks marker and fingerprint only)."""
        if not data:
            raise DecodeError(DecodeError.PROBLEM_EMPTY, "no bytes")
        if len(data) < HEADER_LEN:
            if data[:2] != MARKER[: len(data[:2])]:
                raise DecodeError(DecodeError.PROBLEM_MARKER, f"starts with {data[:2].hex()}, expected c301")
            raise DecodeError(DecodeError.PROBLEM_TRUNCATED, f"{len(data)} bytes, header needs {HEADER_LEN}")
        if data[:2] != MARKER:
            raise DecodeError(DecodeError.PROBLEM_MARKER, f"starts with {data[:2].hex()}, expected c301")
        (fp,) = struct.unpack_from("<Q", data, 2)
        sv = self.catalogue.by_fingerprint.get(fp)
        if sv is None:
            raise DecodeError(DecodeError.PROBLEM_FINGERPRINT, f"no shipped schema has fingerprint {fp:016x}")
        return sv

    def decode(self, data: bytes, expect: str | None = None) -> dict[str, Any]:
        """Decode into the latest (reader) schema of the writer's type, or of ``expect``."""
        return self.decode_named(data, expect)[1]

    def decode_named(self, data: bytes, expect: str | None = None) -> tuple[str, dict[str, Any]]:
        """``(type full name, value)``: :meth:`decode` for topics that carry several types."""
        if data[:1] == b"\x00" and self.registry is not None:
            if len(data) < 5:
                raise DecodeError(DecodeError.PROBLEM_TRUNCATED, f"{len(data)} bytes, header needs 5")
            name, writer_parsed = self.registry.writer(struct.unpack_from(">I", data, 1)[0])
            offset, same = 5, False
        else:
            writer = self.writer_of(data)
            name, writer_parsed, offset = writer.name, writer.parsed, HEADER_LEN
            same = self.catalogue.latest(writer.name).fingerprint == writer.fingerprint
        if expect is not None and name != expect:
            raise DecodeError(
                DecodeError.PROBLEM_TYPE,
                f"expected {expect.rsplit('.', 1)[-1]}, got {name.rsplit('.', 1)[-1]}",
            )
        reader = self.catalogue.latest(name)
        buf = io.BytesIO(data)
        buf.seek(offset)
        try:
            if same:
                value = fastavro.schemaless_reader(buf, writer_parsed, None)
            else:
                value = fastavro.schemaless_reader(buf, writer_parsed, reader.parsed)
        except EOFError as exc:
            raise DecodeError(DecodeError.PROBLEM_TRUNCATED, "body ends early") from exc
        except Exception as exc:  # fastavro raises assorted errors on garbage
            raise DecodeError(DecodeError.PROBLEM_BODY, f"{type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError(DecodeError.PROBLEM_BODY, f"{len(data) - buf.tell()} trailing bytes")
        return name, value  # type: ignore[return-value]


_default: Catalogue | None = None


def default_catalogue() -> Catalogue:
    global _default
    if _default is None:
        _default = Catalogue()
    return _default


_codec: Codec | None = None


def codec() -> Codec:
    """The process-wide codec over the shipped schemas (Confluent framing when
    ``HUB_SCHEMA_REGISTRY_URL`` is set)."""
    global _codec
    if _codec is None:
        from hub.platform.settings import load

        url = load().schema_registry_url
        _codec = Codec(registry=SchemaRegistry(url) if url else None)
    return _codec
