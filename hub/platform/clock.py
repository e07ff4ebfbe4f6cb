"""The one clock: wall time as epoch milliseconds, and its RFC 3339 form.

Everything the hub stamps (received_at, routed_at, occurred_at, stored_at, token times) goes
through :func:`now_ms`, so tests and pure functions can take "now" as a plain int instead.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def to_ms(dt: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive ones are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def trace_ms(t: float | None) -> float | None:
    """Seconds (a trace moment since the epoch, or a duration) as milliseconds to 0.1 ms, for debug
    lines; None stays None."""
    return None if t is None else round(t * 1000, 1)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(ms: int | None) -> str:
    """RFC 3339 UTC with milliseconds (``2026-03-01T10:00:00.000Z``); empty for None."""
    if ms is None:
        return ""
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")
