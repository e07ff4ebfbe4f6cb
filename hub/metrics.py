"""The one place for Prometheus metrics (SPEC §10). Names: ``hub_`` prefix, base units, ``_total``.

Label values are bounded: kind (2), agency (directory), state (configured recipients), stage (fixed
list), reason (a short class such as ``undecodable``, ``invalid``, ``stale`` -- never free text).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REPORTS_RECEIVED = Counter("hub_reports_received_total", "Reports received", ["kind", "agency"])
REPORTS_REJECTED = Counter("hub_reports_rejected_total", "Reports rejected", ["kind", "agency", "reason"])
REPORTS_DUPLICATE = Counter("hub_reports_duplicate_total", "Exact duplicates dropped", ["kind", "agency"])
REPORTS_CORRELATED = Counter(
    "hub_reports_correlated_total", "Reports joined to an existing incident", ["kind", "agency"]
)
REPORTS_ROUTED = Counter("hub_reports_routed_total", "Feed items produced", ["kind", "state", "delivery"])
STAGE_SECONDS = Histogram("hub_stage_duration_seconds", "Time spent in one pipeline stage", ["stage"],
                          buckets=LATENCY_BUCKETS)
END_TO_END_SECONDS = Histogram("hub_end_to_end_latency_seconds",
                               "From hub receipt of a report to its feed items being produced",
                               buckets=LATENCY_BUCKETS)
CONSUMER_LAG = Gauge("hub_consumer_lag_messages", "End offset minus committed offset",
                     ["group", "topic", "partition"])
DLQ_MESSAGES = Counter("hub_dlq_messages_total", "Messages sent to the dead-letter topic", ["stage", "reason"])
FEED_SUBSCRIBERS = Gauge("hub_feed_subscribers", "Open SSE connections per feed", ["state"])
FEED_DELIVERED = Counter("hub_feed_items_delivered_total", "Feed items delivered to officer sessions", ["state"])
ACKNOWLEDGED = Counter("hub_acknowledgements_total", "Reports acknowledged by officers", ["state"])
TIME_TO_ACK = Histogram("hub_time_to_acknowledge_seconds", "From routing to acknowledgement", ["state"],
                        buckets=(10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600))
AUDIT_STORED = Counter("hub_audit_events_stored_total", "Audit events written to the audit store", ["stage"])
AUDIT_SINK_LAG = Gauge("hub_audit_sink_lag_seconds", "Age of the newest audit event when it was stored")
HTTP_REQUESTS = Counter("hub_http_requests_total", "HTTP requests", ["route", "method", "status"])
HTTP_SECONDS = Histogram("hub_http_request_duration_seconds", "HTTP request duration", ["route"],
                         buckets=LATENCY_BUCKETS)
