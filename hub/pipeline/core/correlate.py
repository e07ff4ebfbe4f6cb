"""Correlate stage (SPEC §4.3): shared identifiers within the window -> one incident. Pure.

The window is ``HUB_CORRELATION_WINDOW_DAYS`` (:func:`window_ms`, event time); an index entry
can match for :func:`retention_ms` after its version was processed. decide() applies both per
view (hub/pipeline/core/decide.py) over the index of hub/pipeline/core/state.py.

Correlation keys are typed so a wagon number never matches a plate: ``C:`` container (ISO 6346,
valid check digit only), ``D:`` transport document, ``P:`` vehicle plate (look-alikes folded),
``W:`` wagon number. The index maps a key to the reports seen with it, in processing order.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from hub.domain.identifiers import container_key, document_key, plate_key, wagon_key

_container_key = lru_cache(maxsize=65536)(container_key)  # stdnum's check is ~20 µs; numbers repeat

DAY_MS = 24 * 3600 * 1000
WINDOW_MS = 7 * DAY_MS  # the default of HUB_CORRELATION_WINDOW_DAYS
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
