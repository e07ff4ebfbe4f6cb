"""Encode the FeedItems of one report without re-encoding the shared parts per recipient.

An Avro record is the concatenation of its fields' encodings, so a FeedItem is
``header + head(item_id, recipient, delivery, incident_id) + Report + Enrichment + tail(routing,
routed_at, provenance)``. The items of one report share the Report (two variants: full and partner-redacted)
and mostly share the filtered Enrichment, which together are ~90 % of the bytes and of the encoding
time. This encoder writes each distinct part once and splices. The first use in a process checks
the result byte for byte against ``Codec.encode``; on any difference it falls back to it for good.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import fastavro
import structlog

from hub.codec import FEED_ITEM, NAMESPACE, Codec, expand, load_release

log = structlog.get_logger(__name__)
REF_FIELDS = ("prior_reports", "also_reported_by", "entity_links")


class FeedItemEncoder:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        sv = codec.catalogue.latest(FEED_ITEM)
        raw = load_release(codec.catalogue.root / f"v{sv.release}")
        item = raw[FEED_ITEM]
        fields = {f["name"]: f for f in item["fields"]}
        names = [f["name"] for f in item["fields"]]
        if names != ["item_id", "recipient", "delivery", "incident_id", "report", "enrichment", "routing",
                     "routed_at", "provenance"]:
            raise ValueError(f"FeedItem fields changed: {names}")

        def part(name: str, field_names: list[str]) -> Any:
            rec = {"type": "record", "name": name, "namespace": NAMESPACE,
                   "fields": [fields[n] for n in field_names]}
            return fastavro.parse_schema(expand(rec, raw))

        self.head = part("FeedItemHead", ["item_id", "recipient", "delivery", "incident_id"])
        self.report = fastavro.parse_schema(expand(fields["report"]["type"], raw))
        self.enrichment = fastavro.parse_schema(expand(fields["enrichment"]["type"], raw))
        self.tail = part("FeedItemTail", ["routing", "routed_at", "provenance"])
        self.header: bytes | None = None  # learned (and checked) on first use
        self.spliced = True

    @staticmethod
    def _write(schema: Any, value: Mapping[str, Any]) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, value)
        return buf.getvalue()

    def _splice(self, it: Mapping[str, Any], reports: dict[Any, bytes], enrichments: dict[Any, bytes]) -> bytes:
        rkey = it["routing"]["redacted"]
        if rkey not in reports:
            reports[rkey] = self._write(self.report, it["report"])
        enr = it["enrichment"]
        ekey = tuple(tuple(r.get("report_id") for r in enr.get(f) or ()) for f in REF_FIELDS)
        if ekey not in enrichments:
            enrichments[ekey] = self._write(self.enrichment, enr)
        return b"".join((self._write(self.head, it), reports[rkey], enrichments[ekey], self._write(self.tail, it)))

    def encode(self, items: Sequence[Mapping[str, Any]]) -> list[bytes]:
        """Encoded FeedItems, one per item; all items must come from one ``route.feed_items`` call
        (same report version and enrichment, filtered per recipient)."""
        if not self.spliced:
            return [self.codec.encode(FEED_ITEM, it) for it in items]
        reports: dict[Any, bytes] = {}
        enrichments: dict[Any, bytes] = {}
        bodies = [self._splice(it, reports, enrichments) for it in items]
        if self.header is None and items:
            full = self.codec.encode(FEED_ITEM, items[0])
            header = full[: len(full) - len(bodies[0])]
            if header + bodies[0] != full:
                log.warning("spliced FeedItem encoding differs from the codec; using the codec")
                self.spliced = False
                return [self.codec.encode(FEED_ITEM, it) for it in items]
            self.header = header
        return [self.header + b for b in bodies] if self.header is not None else bodies
