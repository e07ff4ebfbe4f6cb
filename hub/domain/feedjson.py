"""A FeedItem as JSON data and as a ``feed_items`` row (SPEC §8): pure, shared by the feed store
(:mod:`hub.feeds.store`), the projections' decoding step (:func:`hub.projections.base.classify`) and
the analyst index, so the item's JSON is built once, the same way everywhere.

Timestamps are RFC 3339 UTC strings with milliseconds, bytes base64, UTF-8 text unescaped.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.platform.clock import to_ms


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _as_time(value: Any) -> Any:
    return datetime.fromtimestamp(value / 1000, UTC) if isinstance(value, int) else value


def jsonable(item: Mapping[str, Any]) -> dict[str, Any]:
    """A FeedItem (decoded, or in its encodable form with epoch-millisecond ints) as JSON data,
    with every timestamp-millis field as an RFC 3339 UTC string."""
    out = dict(item)
    out["routed_at"] = _as_time(out.get("routed_at"))
    rep = dict(out["report"])
    for k in ("event_time", "received_at"):
        rep[k] = _as_time(rep.get(k))
    out["report"] = rep
    enr = dict(out.get("enrichment") or {})
    for k in ("prior_reports", "also_reported_by"):
        enr[k] = [{**ref, "event_time": _as_time(ref.get("event_time"))} for ref in enr.get(k) or []]
    out["enrichment"] = enr
    return plain(out)


def _iso_ms(value: Any) -> Any:
    """An epoch-millisecond int as the RFC 3339 string :func:`plain` makes of its datetime."""
    return plain(datetime.fromtimestamp(value / 1000, UTC)) if isinstance(value, int) else value


def _default(value: Any) -> Any:
    """orjson's fallback for what it does not write itself, as :func:`plain` writes it."""
    if isinstance(value, datetime | bytes):
        return plain(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


_JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def item_json(item: Mapping[str, Any]) -> str:
    """``json.dumps(jsonable(item))`` in one orjson pass: the same JSON data (timestamps as RFC 3339
    UTC strings with milliseconds, bytes as base64, UTF-8 text unescaped), about 10x cheaper, since
    only the few timestamp-millis fields are copied and the rest is written as it is."""
    out = dict(item)
    out["routed_at"] = _iso_ms(out.get("routed_at"))
    rep = out["report"]
    if isinstance(rep.get("event_time"), int) or isinstance(rep.get("received_at"), int):
        rep = dict(rep)
        for k in ("event_time", "received_at"):
            rep[k] = _iso_ms(rep.get(k))
        out["report"] = rep
    enr = out.get("enrichment") or {}
    if any(not isinstance(enr.get(k), list) or any(isinstance(ref.get("event_time"), int) for ref in enr[k])
           for k in ("prior_reports", "also_reported_by")):
        enr = dict(enr)
        for k in ("prior_reports", "also_reported_by"):
            enr[k] = [{**ref, "event_time": _iso_ms(ref.get("event_time"))} for ref in enr.get(k) or []]
    out["enrichment"] = enr
    return json_bytes(out).decode()


def json_bytes(value: Any) -> bytes:
    """The compact JSON :func:`item_json` writes for a decoded value (a part of an item: its report,
    its enrichment), as UTF-8 bytes."""
    return orjson.dumps(value, default=_default, option=_JSON_OPTIONS)


def millis(value: Any) -> int:
    """A decoded timestamp (datetime) or epoch-millisecond int as epoch milliseconds (a row's ``routed_at``)."""
    return to_ms(value) if isinstance(value, datetime) else int(value)


def to_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """Columns of one feed item (without ``seq``, assigned on insert)."""
    report = item["report"]
    return {
        "recipient": item["recipient"], "item_id": item["item_id"], "report_id": report["report_id"],
        "version": int(report["version"]), "incident_id": item["incident_id"], "delivery": item["delivery"],
        "kind": report["kind"], "tlp": report["tlp"], "routed_at": millis(item["routed_at"]),
        "item": item_json(item),
    }
