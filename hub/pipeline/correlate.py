"""Correlate stage (SPEC §4.3): shared identifiers within the window -> one incident. Pure.

The window is ``HUB_CORRELATION_WINDOW_DAYS`` (:func:`window_ms`, event time); an index entry
can match for :func:`retention_ms` after its version was processed. decide() applies both per
view (hub/pipeline/decide.py); ``find_incident``/``add_to_index``/``sweep`` below are the
milestone-1 index of the old worker.

Correlation keys are typed so a wagon number never matches a plate: ``C:`` container (ISO 6346,
valid check digit only), ``D:`` transport document, ``P:`` vehicle plate (look-alikes folded),
``W:`` wagon number. The index maps a key to the reports seen with it, in processing order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from hub.identifiers import container_key, document_key, plate_key, wagon_key

_container_key = lru_cache(maxsize=65536)(container_key)  # stdnum's check is ~20 µs; numbers repeat

DAY_MS = 24 * 3600 * 1000
WINDOW_MS = 7 * DAY_MS  # the default of HUB_CORRELATION_WINDOW_DAYS
MAX_ENTRIES_PER_KEY = 200  # entries per key of the milestone-1 index (decide() uses state.KEY_CAP per view)
MAX_KEYS = 64  # correlation keys of one report (the first in sorted order; a bound for hostile input)


def window_ms(days: int) -> int:
    """The correlation window (event time) of ``HUB_CORRELATION_WINDOW_DAYS``."""
    return days * DAY_MS


def retention_ms(days: int) -> int:
    """How long an index entry can match, counted from when its version was processed (the
    processing time, never the event time: backfills of old events still correlate)."""
    return 2 * days * DAY_MS


def correlation_keys(report: Mapping[str, Any]) -> list[str]:
    """Every correlation key of a report, sorted, without repeats."""
    conv = report.get("conveyance") or {}
    keys: set[str] = set()
    for raw in conv.get("container_numbers") or []:
        k = _container_key(raw)
        if k:
            keys.add(f"C:{k}")
    for prefix, field, fn in (("D", "transport_document", document_key), ("P", "vehicle_plate", plate_key),
                              ("W", "wagon_number", wagon_key)):
        raw = conv.get(field)
        k = fn(raw) if raw else None
        if k:
            keys.add(f"{prefix}:{k}")
    return sorted(keys)


def new_incident_id(report_id: str) -> str:
    """Deterministic: the incident opened by a report is named after that report."""
    return "I-" + hashlib.sha256(report_id.encode()).hexdigest()[:20]


def find_incident(report: Mapping[str, Any], index: Mapping[str, Sequence[Mapping[str, Any]]],
                  own_incident: str | None) -> tuple[str, list[dict[str, Any]]]:
    """(incident_id, matches). A report keeps the incident it already has (updates); otherwise it
    joins the incident of the earliest-processed report sharing a key within 7 days; otherwise it
    opens its own. ``matches`` are the other reports sharing a key within the window."""
    rid, et = report["report_id"], report["event_time"]
    matches: list[dict[str, Any]] = []
    seen: set[str] = set()
    best: tuple[int, str] | None = None  # (processing sequence, incident)
    for key in correlation_keys(report):
        for entry in index.get(key, ()):
            if entry["report_id"] == rid or abs(entry["event_time"] - et) > WINDOW_MS:
                continue
            if entry["report_id"] not in seen:
                seen.add(entry["report_id"])
                matches.append(dict(entry, key=key))
            if best is None or entry["seq"] < best[0]:
                best = (entry["seq"], entry["incident_id"])
    if own_incident:
        return own_incident, matches
    return (best[1] if best else new_incident_id(rid)), matches


def index_entry(report: Mapping[str, Any], incident_id: str, seq: int) -> dict[str, Any]:
    return {"report_id": report["report_id"], "incident_id": incident_id, "event_time": report["event_time"],
            "agency": report["agency"], "state": report["reporter_state"], "kind": report["kind"], "seq": seq}


def add_to_index(entries: Sequence[Mapping[str, Any]], entry: Mapping[str, Any],
                 horizon_ms: int) -> list[dict[str, Any]]:
    """The key's entries with ``entry`` added (replacing the same report, keeping its first ``seq``)
    and expired ones dropped:
    entries whose event time is older than ``horizon_ms`` go, and at most MAX_ENTRIES_PER_KEY stay."""
    new = dict(entry)
    for e in entries:  # an update keeps the processing position of the report's first version
        if e["report_id"] == entry["report_id"]:
            new["seq"] = min(new["seq"], e["seq"])
    kept = [dict(e) for e in entries if e["report_id"] != entry["report_id"] and e["event_time"] >= horizon_ms]
    kept.append(new)
    kept.sort(key=lambda e: e["seq"])
    return kept[-MAX_ENTRIES_PER_KEY:]


def sweep(entries: Sequence[Mapping[str, Any]], horizon_ms: int) -> list[dict[str, Any]] | None:
    """Expiry of one index key: the entries still inside the horizon, or None if nothing changed."""
    kept = [dict(e) for e in entries if e["event_time"] >= horizon_ms]
    return None if len(kept) == len(entries) else kept
