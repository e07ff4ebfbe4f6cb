"""Reading report files: JSON (one report or an array), NDJSON (one per line) and CSV (one per row).

Pure functions over bytes. Each report comes back as a :class:`Row` with a label (``line 3``,
``row 7``, ``item 2``) for error reports; a row that cannot be read carries the problem instead.
CSV columns are documented in docs/connectors.md and in :data:`CSV_COLUMNS`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

LIST_SEP = ";"

# column -> meaning (the order is the suggested header order)
CSV_COLUMNS: dict[str, str] = {
    "kind": "ALERT or SEIZURE (required)",
    "source_ref": "the agency's reference (required)",
    "version": "1, 2, ... (default 1)",
    "event_time": "RFC 3339, e.g. 2026-03-01T10:00:00Z (required)",
    "tlp": "CLEAR, GREEN, AMBER, AMBER_STRICT, RED (default AMBER)",
    "addressees": "states or CARICC, ';'-separated",
    "location_country": "ISO alpha-2 (required)",
    "location_place": "place name",
    "location_unlocode": "UN/LOCODE",
    "location_lat": "latitude",
    "location_lon": "longitude",
    "route": "countries in order, ';'-separated, each optionally COUNTRY:place (AF;TJ:Dushanbe;KZ)",
    "mode": "SEA, RAIL, ROAD, AIR, POSTAL, PEDESTRIAN (required when any conveyance column is set)",
    "container_numbers": "ISO 6346 numbers, ';'-separated",
    "transport_document": "bill of lading / CMR / waybill number",
    "vehicle_plate": "plate number",
    "wagon_number": "rail wagon number",
    "flight": "flight number",
    "goods_description": "declared goods",
    "hs_code": "6-10 digits",
    "declared_weight_kg": "number",
    "parties": "';'-separated parties, each ROLE|name|country|identifier (country, identifier optional)",
    "substance_type": "HEROIN, OPIUM, HASHISH, ... (one substance per row; SEIZURE needs it)",
    "substance_name": "name as seized",
    "quantity": "number > 0",
    "unit": "KG, G, L, TABLETS, UNITS",
    "concealment": "CONVEYANCE, CARGO, BAGGAGE, CLOTHING, BODY, POSTAL, CONSUMER_GOODS, OTHER",
    "concealment_detail": "free text",
    "risk_indicators": "';'-separated (ALERT needs at least one)",
    "narrative": "free text, any language",
    "handling_code": "H0, H1, H2, H3 (default H0)",
    "handling_note": "required with H3",
    "evaluation_source": "A, B, C, X",
    "evaluation_information": "1-4",
}

FORMATS = (".json", ".ndjson", ".csv")
CSV_FIELD_LIMIT = 128 * 1024  # characters in one CSV cell (Python's csv default, stated and enforced here)


@dataclass(frozen=True)
class Row:
    label: str
    body: dict[str, Any] | None
    problem: str | None = None


def read(name: str, data: bytes) -> list[Row]:
    """Reports in a file, by its extension. Raises ValueError for an unreadable file as a whole."""
    lower = name.lower()
    if lower.endswith(".ndjson") or lower.endswith(".jsonl"):
        return read_ndjson(data)
    if lower.endswith(".json"):
        return read_json(data)
    if lower.endswith(".csv"):
        return read_csv(data)
    raise ValueError(f"{name}: unsupported file type (use {', '.join(FORMATS)})")


def _obj(label: str, value: Any) -> Row:
    if isinstance(value, dict):
        return Row(label, value)
    return Row(label, None, f"should be a JSON object, not {type(value).__name__}")


def read_json(data: bytes) -> list[Row]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc}") from exc
    if isinstance(value, list):
        return [_obj(f"item {i + 1}", v) for i, v in enumerate(value)]
    return [_obj("report", value)]


def read_ndjson(data: bytes) -> list[Row]:
    rows = []
    for n, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(_obj(f"line {n}", orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            rows.append(Row(f"line {n}", None, f"malformed JSON: {exc}"))
    return rows


def _num(value: str) -> Any:
    """A number when it reads as one; otherwise the text, so the hub names the field in its 422."""
    try:
        f = float(value)
    except ValueError:
        return value
    return int(f) if f.is_integer() and "." not in value and "e" not in value.lower() else f


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(LIST_SEP) if v.strip()]


Column = tuple[str, str, Callable[[str], Any]]  # JSON field, CSV column, how its text reads


def _text(value: str) -> str:
    return value


# the report's free-text and enumerated top-level fields, taken as written
_TOP_TEXT = ("kind", "source_ref", "event_time", "tlp", "narrative", "handling_code", "handling_note")
# objects: the field's JSON name, its column, how the cell reads
_LOCATION: tuple[Column, ...] = (("country", "location_country", _text), ("place", "location_place", _text),
                                 ("unlocode", "location_unlocode", _text), ("lat", "location_lat", _num),
                                 ("lon", "location_lon", _num))
_CONVEYANCE: tuple[Column, ...] = (("container_numbers", "container_numbers", _split),
                                   ("transport_document", "transport_document", _text),
                                   ("vehicle_plate", "vehicle_plate", _text),
                                   ("wagon_number", "wagon_number", _text), ("flight", "flight", _text))
_GOODS: tuple[Column, ...] = (("description", "goods_description", _text), ("hs_code", "hs_code", _text),
                              ("declared_weight_kg", "declared_weight_kg", _num))
# a substance: the fields the hub requires (sent as null when empty, so its 422 names them), then the optional ones
_SUBSTANCE: tuple[Column, ...] = (("type", "substance_type", _text), ("quantity", "quantity", _num),
                                  ("unit", "unit", _text), ("concealment", "concealment", _text))
_SUBSTANCE_OPTIONAL: tuple[Column, ...] = (("name", "substance_name", _text),
                                           ("concealment_detail", "concealment_detail", _text))
_EVALUATION: tuple[Column, ...] = (("source", "evaluation_source", _text),
                                   ("information", "evaluation_information", _num))


def _filled(v: dict[str, str], columns: tuple[Column, ...]) -> dict[str, Any]:
    """The fields whose cells are not empty."""
    return {key: read(v[col]) for key, col, read in columns if v[col]}


def _all(v: dict[str, str], columns: tuple[Column, ...]) -> dict[str, Any]:
    """Every field, None for an empty cell."""
    return {key: read(v[col]) if v[col] else None for key, col, read in columns}


def _any(v: dict[str, str], columns: tuple[Column, ...]) -> bool:
    return any(v[col] for _, col, _ in columns)


def _route_point(point: str) -> dict[str, str]:
    """``COUNTRY`` or ``COUNTRY:place``."""
    country, _, place = point.partition(":")
    return {"country": country.strip(), **({"place": place.strip()} if place.strip() else {})}


def _party(text: str) -> dict[str, str]:
    """``ROLE|name|country|identifier`` (country and identifier optional)."""
    parts = [x.strip() for x in text.split("|")]
    party = {"role": parts[0], "name": parts[1] if len(parts) > 1 else ""}
    if len(parts) > 2 and parts[2]:
        party["country"] = parts[2]
    if len(parts) > 3 and parts[3]:
        party["identifier"] = parts[3]
    return party


def csv_row_to_report(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row (column -> text) as a JSON report body. Unknown columns raise ValueError."""
    unknown = sorted(k for k in row if k and k not in CSV_COLUMNS)
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)}")
    v = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS}
    body: dict[str, Any] = {k: v[k] for k in _TOP_TEXT if v[k]}
    sections: dict[str, Any] = {
        "version": _num(v["version"]) if v["version"] else None,
        "addressees": _split(v["addressees"]) if v["addressees"] else None,
        "location": _filled(v, _LOCATION) or None,
        "route": [_route_point(p) for p in _split(v["route"])] if v["route"] else None,
        "conveyance": ({"mode": v["mode"] or None} | _filled(v, _CONVEYANCE)
                       if v["mode"] or _any(v, _CONVEYANCE) else None),
        "goods": _filled(v, _GOODS) or None,
        "parties": [_party(p) for p in _split(v["parties"])] if v["parties"] else None,
        "substances": ([_all(v, _SUBSTANCE) | _filled(v, _SUBSTANCE_OPTIONAL)]
                       if _any(v, _SUBSTANCE + _SUBSTANCE_OPTIONAL) else None),
        "risk_indicators": _split(v["risk_indicators"]) if v["risk_indicators"] else None,
        "evaluation": _all(v, _EVALUATION) if _any(v, _EVALUATION) else None,
    }
    return body | {k: x for k, x in sections.items() if x is not None}


def read_csv(data: bytes) -> list[Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"CSV should be UTF-8: {exc}") from exc
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ValueError(f"row {line}: CSV contains a NUL byte (not text; is it a spreadsheet's binary format?)")
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_csv_rows(reader)
    except csv.Error as exc:  # a cell over the limit, a stray quote: the file as a whole
        # line_num counts the lines completely read; the bad one is the next
        raise ValueError(f"row {reader.line_num + 1}: CSV cannot be read: {exc} (a CSV field may hold at most "
                         f"{CSV_FIELD_LIMIT // 1024} KiB)") from exc


def _read_csv_rows(reader: csv.DictReader[str]) -> list[Row]:
    if not reader.fieldnames:
        raise ValueError("CSV has no header row")
    unknown = sorted(f for f in reader.fieldnames if f and f.strip() not in CSV_COLUMNS)
    if unknown:
        raise ValueError(f"CSV header has unknown column(s): {', '.join(unknown)} (see docs/connectors.md)")
    rows = []
    for raw in reader:
        n = reader.line_num  # the file's line number (blank lines and the header counted), as a spreadsheet shows it
        if not any((x or "").strip() for k, x in raw.items() if k):
            continue
        if None in raw:
            rows.append(Row(f"row {n}", None, f"has {len(raw[None]) if raw[None] else 0} more cells than the header"))  # type: ignore[index]
            continue
        try:
            rows.append(Row(f"row {n}", csv_row_to_report({k.strip(): x for k, x in raw.items() if k})))
        except ValueError as exc:
            rows.append(Row(f"row {n}", None, str(exc)))
    return rows
