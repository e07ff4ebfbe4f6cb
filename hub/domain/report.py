"""The report's JSON form (SPEC §3) ⇄ its Avro form, and the rules every report must satisfy.

Pure functions, no I/O. ``from_json`` checks a connector's JSON body and returns the Avro-shaped
dict, or raises :class:`ReportInvalid` listing *every* failing field as ``path: reason``.
``rule_errors`` runs the cross-field rules on an Avro-shaped report; the validate stage uses it for
Kafka-native reports, so both entrances enforce one set of rules.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pycountry

from hub.domain.identifiers import check_container
from hub.platform.keys import keyed_id
from hub.platform.settings import Settings

KINDS = ("ALERT", "SEIZURE")
TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER_STRICT", "RED")
HANDLING_CODES = ("H0", "H1", "H2", "H3")
MODES = ("SEA", "RAIL", "ROAD", "AIR", "POSTAL", "PEDESTRIAN")
ROLES = ("SHIPPER", "CONSIGNEE", "CARRIER", "DRIVER", "COURIER", "SUSPECT", "OTHER")
SUBSTANCE_TYPES = (
    "HEROIN", "OPIUM", "HASHISH", "CANNABIS", "COCAINE", "METHAMPHETAMINE", "AMPHETAMINE",
    "TRAMADOL", "NPS", "PRECURSOR", "OTHER",
)
UNITS = ("KG", "G", "L", "TABLETS", "UNITS")
CONCEALMENTS = ("CONVEYANCE", "CARGO", "BAGGAGE", "CLOTHING", "BODY", "POSTAL", "CONSUMER_GOODS", "OTHER")
SOURCES = ("A", "B", "C", "X")

MAX_SOURCE_REF = 128
MAX_NARRATIVE = 20_000
MAX_TEXT = 1_000  # any other free-text field
MAX_LIST = 500  # any list


@dataclass(frozen=True)
class FieldError:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def as_dict(self) -> dict[str, str]:
        return {"field": self.path, "problem": self.reason}


class ReportInvalid(ValueError):
    """A report with one or more field errors (HTTP 422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class AgencyMismatch(PermissionError):
    """The body claims an agency or state other than the authenticated one (HTTP 403)."""


def report_id(key: bytes, agency: str, source_ref: str) -> str:
    """Keyed, deterministic report id: the same for every version of (agency, source_ref), and
    unguessable without the hub's id key (SPEC §5: knowing an agency's source_ref scheme reveals
    nothing). ``key`` is :func:`hub.platform.keys.id_key`."""
    return keyed_id(key, "R-", agency, source_ref)


def to_millis(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


_ALPHA_2 = frozenset(c.alpha_2 for c in pycountry.countries)  # ISO 3166-1 (static data): a set lookup per check


def _is_country(code: str) -> bool:
    return code.upper() in _ALPHA_2  # pycountry matched case-insensitively


# --------------------------------------------------------------------------- JSON shape checks


class _Checker:
    """Walks a JSON body, collecting errors with their paths while building the Avro dict."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def err(self, path: str, reason: str) -> None:
        self.errors.append(FieldError(path, reason))

    def string(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = False,
               max_len: int = MAX_TEXT) -> str | None:
        p = f"{path}.{key}" if path else key
        if key not in obj or obj[key] is None:
            if required:
                self.err(p, "is required")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.err(p, f"should be a string, not {_json_type(value)}")
            return None
        value = value.strip()
        if required and not value:
            self.err(p, "should not be empty")
            return None
        if len(value) > max_len:
            self.err(p, f"should have at most {max_len} characters, has {len(value)}")
            return None
        return value or None

    def choice(self, obj: Mapping[str, Any], key: str, path: str, options: tuple[str, ...], *,
               default: str | None = None, required: bool = False) -> str | None:
        p = f"{path}.{key}" if path else key
        if key not in obj or obj[key] is None:
            if required:
                self.err(p, f"is required (one of {', '.join(options)})")
            return default
        value = obj[key]
        if not isinstance(value, str) or value.strip().upper() not in options:
            self.err(p, f"should be one of {', '.join(options)}, not {_show(value)}")
            return default
        return value.strip().upper()

    def number(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = False,
               minimum: float | None = None, maximum: float | None = None,
               exclusive_min: bool = False) -> float | None:
        p = f"{path}.{key}" if path else key
        if key not in obj or obj[key] is None:
            if required:
                self.err(p, "is required")
            return None
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.err(p, f"should be a number, not {_show(value)}")
            return None
        if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
            self.err(p, f"should be {'greater than' if exclusive_min else 'at least'} {minimum:g}")
            return None
        if maximum is not None and value > maximum:
            self.err(p, f"should be at most {maximum:g}")
            return None
        return float(value)

    def obj(self, parent: Mapping[str, Any], key: str, path: str, *,
            required: bool = False) -> Mapping[str, Any] | None:
        p = f"{path}.{key}" if path else key
        if key not in parent or parent[key] is None:
            if required:
                self.err(p, "is required")
            return None
        value = parent[key]
        if not isinstance(value, dict):
            self.err(p, f"should be an object, not {_json_type(value)}")
            return None
        return value

    def array(self, parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
        p = f"{path}.{key}" if path else key
        if key not in parent or parent[key] is None:
            return []
        value = parent[key]
        if not isinstance(value, list):
            self.err(p, f"should be a list, not {_json_type(value)}")
            return []
        if len(value) > MAX_LIST:
            self.err(p, f"should have at most {MAX_LIST} items, has {len(value)}")
            return []
        return value

    def unknown(self, obj: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.err(f"{path}.{key}" if path else str(key), "is not a known field")

    def section(self, parent: Mapping[str, Any], key: str, build: Builder, *,
                required: bool = False) -> dict[str, Any] | None:
        """The object ``parent[key]`` built by ``build(self, obj, key)``; None when absent or not an object."""
        o = self.obj(parent, key, "", required=required)
        return build(self, o, key) if o is not None else None

    def each_obj(self, items: list[Any], path: str, build: Builder) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(items):
            p = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.err(p, f"should be an object, not {_json_type(item)}")
                continue
            built = build(self, item, p)
            if built is not None:
                out.append(built)
        return out


Builder = Callable[[_Checker, Mapping[str, Any], str], "dict[str, Any] | None"]
"""Builds the Avro form of one JSON object at a path, collecting its errors in the checker."""


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 40, 40, 4, 4


def _show(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message (bounded depth and length)."""
    text = _REPR.repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 40 else text[:37] + "..."


def _unicode_errors(value: Any, path: str, out: list[FieldError], depth: int = 0) -> None:
    """Strings that cannot be UTF-8 encoded (lone surrogates are legal in JSON text)."""
    if depth > 20:
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            out.append(FieldError(path, "contains invalid Unicode (a lone surrogate)"))
    elif isinstance(value, dict):
        for k, v in value.items():
            if depth == 0 and k not in REPORT_FIELDS:
                continue  # reported as "is not a known field"
            p = f"{path}.{k}" if path else str(k)
            try:
                str(k).encode("utf-8")
            except UnicodeEncodeError:
                out.append(FieldError(path or "", "has a field name with invalid Unicode"))
                continue
            _unicode_errors(v, p, out, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value[:MAX_LIST]):
            _unicode_errors(v, f"{path}[{i}]", out, depth + 1)


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 timestamp with an explicit offset (``Z`` or ``±hh:mm``)."""
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", value.strip()
    ):
        return None
    text = value.strip().replace("z", "Z").replace("Z", "+00:00")
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:
        text = text.replace(frac.group(0), "." + frac.group(1)[:6])
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def in_utc_range(dt: datetime) -> bool:
    """Whether ``dt`` is an instant of years 0001-9999 in UTC: readers decode timestamp-millis as a
    UTC ``datetime``, so e.g. ``0001-01-01T00:00:00+01:00`` (year 0 in UTC) could be encoded but never
    read back."""
    try:
        dt.astimezone(UTC)
    except OverflowError:
        return False
    return True


REPORT_FIELDS = (
    "kind", "source_ref", "version", "event_time", "tlp", "addressees", "location", "route",
    "conveyance", "goods", "parties", "substances", "risk_indicators", "narrative", "handling_code",
    "handling_note", "evaluation", "agency", "reporter_state", "report_id", "trace_id",
)


def from_json(body: Any, *, agency: str, state: str, settings: Settings,
              now: datetime | None = None, trace_id: str | None = None,
              id_key: bytes | None = None, utf8_checked: bool = False) -> dict[str, Any]:
    """Validate a connector's JSON report and return its Avro form.

    ``agency``/``state`` come from the credential. A body naming another agency or state raises
    :class:`AgencyMismatch`; any field problem raises :class:`ReportInvalid` with every error.
    ``id_key`` (:func:`hub.platform.keys.id_key`) is given on the hub's side (gateway, hub tools); on the
    agency's side (the SDK) it is None and ``report_id`` stays empty: validate assigns it.
    ``utf8_checked``: the caller parsed ``body`` with orjson, which refuses lone surrogates, so the
    walk looking for them is skipped (the gateway's hot path).
    """
    now = now or datetime.now(UTC)
    _check_envelope(body, agency=agency, state=state, utf8_checked=utf8_checked)
    c = _Checker()
    fields = _read_fields(c, body, trace_id)
    raw_containers = _raw_containers(body.get("conveyance"))
    if c.errors:
        # shape errors first; rules that need a well-formed report are checked below only when
        # the shape is right, but per-field rules (check digits, countries) are still reported
        extra = rule_errors(fields | {"event_time": None}, settings=settings, now=now, raw_containers=raw_containers)
        known = {e.path for e in c.errors}
        raise ReportInvalid(c.errors + [e for e in extra if e.path not in known])
    assert fields["kind"] and fields["source_ref"] and fields["event_time"] is not None and fields["location"]
    head = {
        "report_id": report_id(id_key, agency, fields["source_ref"]) if id_key else "",
        "kind": fields["kind"],
        "agency": agency,
        "reporter_state": state,
        "source_ref": fields["source_ref"],
        "version": fields["version"],
        "event_time": to_millis(fields["event_time"]),
        "received_at": to_millis(now),
    }
    report = head | {k: v for k, v in fields.items() if k not in head}
    errors = rule_errors(report, settings=settings, now=now, raw_containers=raw_containers)
    if errors:
        raise ReportInvalid(errors)
    return report


def _check_envelope(body: Any, *, agency: str, state: str, utf8_checked: bool) -> None:
    """A JSON object, valid Unicode, claiming no other agency or state than the credential's."""
    if not isinstance(body, dict):
        raise ReportInvalid([FieldError("", f"a report should be a JSON object, not {_json_type(body)}")])
    bad_unicode: list[FieldError] = []
    if not utf8_checked:
        _unicode_errors(body, "", bad_unicode)
    if bad_unicode:
        raise ReportInvalid(bad_unicode)
    claimed = body.get("agency")
    if claimed is not None and claimed != agency:
        raise AgencyMismatch(f"body claims agency {_show(claimed)} but the credential is for {agency}")
    claimed_state = body.get("reporter_state")
    if claimed_state is not None and claimed_state != state:
        raise AgencyMismatch(f"body claims state {_show(claimed_state)} but agency {agency} is in {state}")


def _read_fields(c: _Checker, body: Mapping[str, Any], trace_id: str | None) -> dict[str, Any]:
    """Every field of the body in its Avro shape (``event_time`` a datetime), in the report's order;
    the shape errors are collected in ``c``, field by field in that order."""
    c.unknown(body, REPORT_FIELDS, "")
    if "report_id" in body:
        c.err("report_id", "is assigned by the hub and must not be sent")
    return {
        "kind": c.choice(body, "kind", "", KINDS, required=True),
        "source_ref": c.string(body, "source_ref", "", required=True, max_len=MAX_SOURCE_REF),
        "version": _version(c, body),
        "event_time": _event_time(c, body),
        "tlp": c.choice(body, "tlp", "", TLPS, default="AMBER"),
        "addressees": _addressees(c, body),
        "location": c.section(body, "location", _location, required=True),
        "route": c.each_obj(c.array(body, "route", ""), "route", _route_point),
        "conveyance": c.section(body, "conveyance", _conveyance),
        "goods": c.section(body, "goods", _goods),
        "parties": c.each_obj(c.array(body, "parties", ""), "parties", _party),
        "substances": c.each_obj(c.array(body, "substances", ""), "substances", _substance),
        "risk_indicators": _risk_indicators(c, body),
        "narrative": c.string(body, "narrative", "", max_len=MAX_NARRATIVE),
        "handling_code": c.choice(body, "handling_code", "", HANDLING_CODES, default="H0"),
        "handling_note": c.string(body, "handling_note", ""),
        "evaluation": c.section(body, "evaluation", _evaluation),
        "trace_id": c.string(body, "trace_id", "", max_len=64) or trace_id,
    }


def _version(c: _Checker, body: Mapping[str, Any]) -> int:
    if body.get("version") is None:
        return 1
    v = body["version"]
    if isinstance(v, bool) or not isinstance(v, int):
        c.err("version", f"should be a whole number, not {_show(v)}")
    elif v < 1 or v > 2**31 - 1:
        c.err("version", "should be at least 1")
    else:
        return v
    return 1


def _event_time(c: _Checker, body: Mapping[str, Any]) -> datetime | None:
    if body.get("event_time") is None:
        c.err("event_time", "is required (RFC 3339 timestamp, e.g. 2026-03-01T10:00:00Z)")
        return None
    event_time = parse_time(body["event_time"])
    if event_time is None:
        c.err("event_time", f"should be an RFC 3339 timestamp with a time zone, not {_show(body['event_time'])}")
    elif not in_utc_range(event_time):
        c.err("event_time", f"is outside years 0001-9999 in UTC: {_show(body['event_time'])}")
        return None
    return event_time


def _addressees(c: _Checker, body: Mapping[str, Any]) -> list[str]:
    out = []
    for i, a in enumerate(c.array(body, "addressees", "")):
        if not isinstance(a, str):
            c.err(f"addressees[{i}]", f"should be a state code, not {_json_type(a)}")
        else:
            out.append(a.strip().upper())
    return out


def _location(c: _Checker, o: Mapping[str, Any], p: str) -> dict[str, Any]:
    c.unknown(o, ("country", "place", "unlocode", "lat", "lon"), p)
    country = c.string(o, "country", p, required=True, max_len=2)
    return {
        "country": (country or "").upper(),
        "place": c.string(o, "place", p),
        "unlocode": c.string(o, "unlocode", p, max_len=6),
        "lat": c.number(o, "lat", p, minimum=-90, maximum=90),
        "lon": c.number(o, "lon", p, minimum=-180, maximum=180),
    }


def _route_point(c: _Checker, o: Mapping[str, Any], p: str) -> dict[str, Any]:
    c.unknown(o, ("country", "place"), p)
    country = c.string(o, "country", p, required=True, max_len=2)
    return {"country": (country or "").upper(), "place": c.string(o, "place", p)}


def _conveyance(c: _Checker, conv: Mapping[str, Any], p: str) -> dict[str, Any]:
    c.unknown(conv, ("mode", "container_numbers", "transport_document", "vehicle_plate",
                     "wagon_number", "flight"), p)
    containers = []
    for i, raw in enumerate(c.array(conv, "container_numbers", p)):
        if not isinstance(raw, str):
            c.err(f"{p}.container_numbers[{i}]", f"should be a string, not {_json_type(raw)}")
            continue
        containers.append(check_container(raw).number)
    return {
        "mode": c.choice(conv, "mode", p, MODES, required=True),
        "container_numbers": containers,
        "transport_document": c.string(conv, "transport_document", p, max_len=64),
        "vehicle_plate": c.string(conv, "vehicle_plate", p, max_len=32),
        "wagon_number": c.string(conv, "wagon_number", p, max_len=32),
        "flight": c.string(conv, "flight", p, max_len=16),
    }


def _goods(c: _Checker, g: Mapping[str, Any], p: str) -> dict[str, Any]:
    c.unknown(g, ("description", "hs_code", "declared_weight_kg"), p)
    hs = c.string(g, "hs_code", p, max_len=16)
    return {
        "description": c.string(g, "description", p),
        "hs_code": re.sub(r"[\s.]", "", hs) if hs else None,
        "declared_weight_kg": c.number(g, "declared_weight_kg", p, minimum=0),
    }


def _party(c: _Checker, o: Mapping[str, Any], p: str) -> dict[str, Any]:
    c.unknown(o, ("role", "name", "country", "identifier"), p)
    country = c.string(o, "country", p, max_len=2)
    return {
        "role": c.choice(o, "role", p, ROLES, required=True),
        "name": c.string(o, "name", p, required=True, max_len=256),
        "country": country.upper() if country else None,
        "identifier": c.string(o, "identifier", p, max_len=64),
    }


def _substance(c: _Checker, o: Mapping[str, Any], p: str) -> dict[str, Any]:
    c.unknown(o, ("type", "name", "quantity", "unit", "concealment", "concealment_detail"), p)
    return {
        "type": c.choice(o, "type", p, SUBSTANCE_TYPES, required=True),
        "name": c.string(o, "name", p, max_len=256),
        "quantity": c.number(o, "quantity", p, required=True, minimum=0, exclusive_min=True),
        "unit": c.choice(o, "unit", p, UNITS, required=True),
        "concealment": c.choice(o, "concealment", p, CONCEALMENTS, required=True),
        "concealment_detail": c.string(o, "concealment_detail", p),
    }


def _risk_indicators(c: _Checker, body: Mapping[str, Any]) -> list[str]:
    out = []
    for i, r in enumerate(c.array(body, "risk_indicators", "")):
        if not isinstance(r, str) or not r.strip():
            c.err(f"risk_indicators[{i}]", "should be a non-empty string")
        elif len(r) > 256:
            c.err(f"risk_indicators[{i}]", "should have at most 256 characters")
        else:
            out.append(r.strip())
    return out


def _evaluation(c: _Checker, ev: Mapping[str, Any], p: str) -> dict[str, Any]:
    c.unknown(ev, ("source", "information"), p)
    src = c.choice(ev, "source", p, SOURCES, required=True)
    info = ev.get("information")
    if isinstance(info, str) and info.strip().isdigit():
        info = int(info.strip())
    if isinstance(info, bool) or not isinstance(info, int) or not 1 <= info <= 4:
        c.err(f"{p}.information", f"should be 1, 2, 3 or 4, not {_show(info)}")
        info = None
    return {"source": src, "information": info}


def _raw_containers(conv: Any) -> list[Any] | None:
    """The container numbers as sent (for error messages), when they are a list at all."""
    numbers = conv.get("container_numbers") if isinstance(conv, dict) else None
    return numbers if isinstance(numbers, list) else None


# --------------------------------------------------------------------------- rules


def rule_errors(report: Mapping[str, Any], *, settings: Settings, now: datetime | None = None,
                raw_containers: list[Any] | None = None) -> list[FieldError]:
    """Cross-field and reference rules of SPEC §3 on an Avro-shaped report (possibly partial)."""
    now = now or datetime.now(UTC)
    return [*_kind_rules(report), *_time_rules(report, settings, now), *_handling_rules(report),
            *_addressee_rules(report, settings), *_place_rules(report), *_container_rules(report, raw_containers),
            *_value_rules(report)]


def _kind_rules(report: Mapping[str, Any]) -> Iterator[FieldError]:
    kind = report.get("kind")
    if kind == "SEIZURE" and not report.get("substances"):
        yield FieldError("substances", "a SEIZURE needs at least one substance")
    if kind == "ALERT" and not report.get("risk_indicators"):
        yield FieldError("risk_indicators", "an ALERT needs at least one risk indicator")


def _time_rules(report: Mapping[str, Any], settings: Settings, now: datetime) -> Iterator[FieldError]:
    et = report.get("event_time")
    if isinstance(et, datetime):
        et = to_millis(et)
    if isinstance(et, int) and et > to_millis(now) + settings.max_future_seconds * 1000:
        yield FieldError("event_time", f"is more than {settings.max_future_seconds // 60} minutes in the future")


def _handling_rules(report: Mapping[str, Any]) -> Iterator[FieldError]:
    if report.get("handling_code") == "H3" and not report.get("handling_note"):
        yield FieldError("handling_note", "is required with handling code H3")


def _addressee_rules(report: Mapping[str, Any], settings: Settings) -> Iterator[FieldError]:
    known = set(settings.recipients)
    for i, a in enumerate(report.get("addressees") or []):
        if a not in known:
            yield FieldError(f"addressees[{i}]", f"{_show(a)} is not a member, partner or {settings.centre}")


def _not_a_country(path: str, code: Any) -> Iterator[FieldError]:
    if code and not _is_country(code):
        yield FieldError(path, f"{_show(code)} is not an ISO 3166-1 alpha-2 code")


def _place_rules(report: Mapping[str, Any]) -> Iterator[FieldError]:
    """Countries are ISO 3166-1 codes; a location's lat and lon go together."""
    loc = report.get("location")
    if loc:
        yield from _not_a_country("location.country", loc.get("country"))
        if (loc.get("lat") is None) != (loc.get("lon") is None):
            yield FieldError("location", "lat and lon should be given together")
    for i, point in enumerate(report.get("route") or []):
        yield from _not_a_country(f"route[{i}].country", point.get("country"))
    for i, party in enumerate(report.get("parties") or []):
        yield from _not_a_country(f"parties[{i}].country", party.get("country"))


def _container_rules(report: Mapping[str, Any], raw_containers: list[Any] | None) -> Iterator[FieldError]:
    """ISO 6346 check digits, shown as sent when the sent numbers are known."""
    conv = report.get("conveyance") or {}
    numbers = raw_containers if raw_containers is not None else conv.get("container_numbers") or []
    for i, raw in enumerate(numbers if isinstance(numbers, list) else []):
        if isinstance(raw, str):
            result = check_container(raw)
            if not result.valid:
                yield FieldError(f"conveyance.container_numbers[{i}]", f"{result.problem} ({_show(raw)})")


def _value_rules(report: Mapping[str, Any]) -> Iterator[FieldError]:
    """Field values the Avro form cannot constrain: HS code, information grade, text lengths."""
    hs = (report.get("goods") or {}).get("hs_code")
    if hs and not re.fullmatch(r"\d{6,10}", hs):
        yield FieldError("goods.hs_code", f"should be 6 to 10 digits, not {_show(hs)}")
    ev = report.get("evaluation")
    if ev and ev.get("information") is not None and not 1 <= ev["information"] <= 4:
        yield FieldError("evaluation.information", "should be 1, 2, 3 or 4")
    src = report.get("source_ref")
    if src is not None and (not src or len(src) > MAX_SOURCE_REF):
        yield FieldError("source_ref", f"should have 1 to {MAX_SOURCE_REF} characters")
    narrative = report.get("narrative")
    if narrative and len(narrative) > MAX_NARRATIVE:
        yield FieldError("narrative", f"should have at most {MAX_NARRATIVE} characters")


def to_json(report: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of an Avro-shaped report (timestamps as RFC 3339 UTC strings)."""
    out = dict(report)
    for key in ("event_time", "received_at"):
        v = out.get(key)
        if isinstance(v, datetime):
            out[key] = v.astimezone(UTC).isoformat().replace("+00:00", "Z")
        elif isinstance(v, int):
            out[key] = datetime.fromtimestamp(v / 1000, UTC).isoformat().replace("+00:00", "Z")
    return out
