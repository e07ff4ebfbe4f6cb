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
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import fastavro
import structlog

from hub import metrics
from hub.codec import FEED_ITEM, HEADER_LEN, MARKER, NAMESPACE, RECEIPT, REPORT, Codec, expand, load_release

log = structlog.get_logger(__name__)
REF_FIELDS = ("prior_reports", "also_reported_by", "entity_links")


def _part(raw: Mapping[str, Any], fields: Mapping[str, Any], name: str, field_names: Sequence[str]) -> Any:
    rec = {"type": "record", "name": name, "namespace": NAMESPACE, "fields": [fields[n] for n in field_names]}
    return fastavro.parse_schema(expand(rec, raw))


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

        self.head = _part(raw, fields, "FeedItemHead", ["item_id", "recipient", "delivery", "incident_id"])
        self.report = fastavro.parse_schema(expand(fields["report"]["type"], raw))
        self.enrichment = fastavro.parse_schema(expand(fields["enrichment"]["type"], raw))
        self.tail = _part(raw, fields, "FeedItemTail", ["routing", "routed_at", "provenance"])
        self.header: bytes | None = None  # learned (and checked) on first use
        self.spliced = True
        self.parts: dict[bool, bytes] = {}

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
        ekey = tuple(tuple(r.get("report_id") for r in enr.get(f) or ()) for f in REF_FIELDS)
        if ekey not in enrichments:
            enrichments[ekey] = self._write(self.enrichment, enr)
        return b"".join((self._write(self.head, it), reports[rkey], enrichments[ekey], self._write(self.tail, it)))

    def encode(self, items: Sequence[Mapping[str, Any]], report: Mapping[str, Any] | None = None,
               body: bytes | None = None) -> list[bytes]:
        """Encoded FeedItems, one per item; all items must come from one ``route.feed_items`` call
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
        bodies = [self._splice(it, self.parts, enrichments) for it in items]
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
        self.head = _part(raw, fields, "ReceiptHead", names[:6])
        self.report = fastavro.parse_schema(expand(fields["report"]["type"], raw))
        self.tail = _part(raw, fields, "ReceiptTail", names[7:])
        self.header: bytes | None = None
        self.spliced = True

    def _write(self, schema: Any, value: Mapping[str, Any]) -> bytes:
        self.counts["Receipt"] += 1
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, value)
        return buf.getvalue()

    def encode(self, receipt: Mapping[str, Any], report_body: bytes | None = None) -> bytes:
        """``report_body``: the Avro body of ``receipt["report"]`` when already written."""
        if not self.spliced:
            self.counts["Receipt"] += 1
            return self.codec.encode(RECEIPT, receipt)
        body = b"".join((self._write(self.head, receipt),
                         report_body if report_body is not None else self._write(self.report, receipt["report"]),
                         self._write(self.tail, receipt)))
        if self.header is None:
            self.counts["Receipt"] += 1
            self.header = _header(self.codec.encode(RECEIPT, receipt), body)
            if self.header is None:
                log.warning("spliced Receipt encoding differs from the codec; using the codec")
                self.spliced = False
                return self.encode(receipt)
        return self.header + body


class Encoder:
    """The pipeline worker's Avro encoding: the codec, the FeedItem and Receipt splicers, and the
    count of writer calls by record type (flushed to ``hub_pipeline_avro_encodes_total``)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.counts: Counter[str] = Counter()
        self.feed = FeedItemEncoder(codec, self.counts)
        self.receipts = ReceiptEncoder(codec, self.counts)
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
