"""The one place for Prometheus metrics (SPEC §10). Names: ``hub_`` prefix, base units, ``_total``.

Label values are bounded: kind (2), agency (directory), state (configured recipients), stage (fixed
list), reason (a short class such as ``undecodable``, ``invalid``, ``stale`` -- never free text).
"""

from __future__ import annotations

from typing import Any

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

# --- pipeline shell (hub.pipeline.shell.output / checkpoint): what one report costs, counted by the worker --
PIPELINE_RECORDS = Counter("hub_pipeline_records_produced_total", "Kafka records the pipeline worker produced, "
                           "by topic class (feed, audit, receipts, dlq, validated, changelog)", ["topic"])
PIPELINE_ENCODES = Counter("hub_pipeline_avro_encodes_total", "Avro writer calls of the pipeline worker (a whole "
                           "record or one spliced part of it), by record type", ["type"])
PIPELINE_INPUTS = Counter("hub_pipeline_inputs_total", "Records the pipeline agents consumed, by agent", ["agent"])
PIPELINE_MARK_TIME = Gauge("hub_pipeline_mark_timestamp_seconds", "Wall time (Unix seconds) of the agent's first "
                           "batch with inputs (mark=first_input: when its first record was taken) and of its latest "
                           "batch's end (mark=last_done: outputs acknowledged); the bench divides by this span",
                           ["agent", "mark"])
PIPELINE_MARK_CPU = Gauge("hub_pipeline_mark_cpu_seconds", "CPU time of the worker process (all threads) at the same "
                          "moments as hub_pipeline_mark_timestamp_seconds", ["agent", "mark"])

# --- operations (hub.platform.kafka.lag, hub.platform.health, gateway ops part) -------------------------------------------
TOPIC_MESSAGES = Gauge("hub_topic_messages", "Messages held in a topic (high watermark minus log start), "
                       "from fetch responses; e.g. the DLQ size", ["topic"])
LAG_MONITOR_ERRORS = Counter("hub_lag_monitor_errors_total", "Lag measurements that failed", ["group"])
DEPENDENCY_UP = Gauge("hub_dependency_up", "1 if the process reached the dependency at its last check",
                      ["dependency"])
BUILD_INFO = Gauge("hub_build_info", "Always 1; labels name the running version and service",
                   ["version", "service"])


# --- provider (SPEC §13: requests from recipients to the providing agency; hub/provider/http.py) -------
REQUESTS_ASKED = Counter("hub_requests_total", "Requests from recipients to a providing agency",
                         ["kind", "state"])
REQUESTS_ANSWERED = Counter("hub_requests_answered_total", "Requests answered by the providing agency",
                            ["kind", "decision"])
REQUESTS_OPEN = Gauge("hub_requests_open", "Unanswered requests by kind and age band (lt_1h, 1h_24h, 1d_3d, "
                      "gt_3d), from the database every 15 s", ["kind", "age"])
REQUESTS_OLDEST_OPEN = Gauge("hub_requests_oldest_open_age_seconds",
                             "Age of the oldest unanswered request per providing agency (0: none open)", ["agency"])
REQUEST_ANSWER_SECONDS = Histogram("hub_request_answer_seconds", "From a request to its answer", ["kind"],
                                   buckets=(60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600,
                                            7 * 24 * 3600))
SHARES_SENT = Counter("hub_shares_sent_total", "ShareCommands produced for granted onward consents")

# --- pre-bound children: label lookups cost ~1 µs each, a bound child's inc() a fraction of that ----
_children: dict[tuple[int, tuple[str, ...]], object] = {}


def child(metric: Any, *labels: str) -> Any:
    """The labelled child of ``metric`` for ``labels``, cached (bounded: label values are bounded)."""
    key = (id(metric), labels)
    c = _children.get(key)
    if c is None:
        c = _children[key] = metric.labels(*labels)
    return c


def faust_sensor(app: Any, name_prefix: str = "faust") -> None:
    """Attach faust's own Prometheus sensor (events, commit latency, assignments, …) to a faust app.

    Its ``faust_*`` series go to the default registry, so the worker's existing ``/metrics`` page shows
    them next to ``hub_*``. Unlike ``faust.sensors.prometheus.setup_prometheus_sensors`` this registers
    no second ``/metrics`` page. Call once per process, before the app starts.
    """
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
    from prometheus_client import REGISTRY

    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(REGISTRY, name_prefix))


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Expose ``/metrics`` on ``port`` from a background thread (for processes without a web server)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)


def declared_names() -> set[str]:
    """Every metric family name declared in this module (as exposed, e.g. ``…_total``, ``…_bucket``)."""
    out: set[str] = set()
    for value in list(globals().values()):
        if isinstance(value, Counter | Gauge | Histogram):
            for m in value.collect():
                out.add(m.name + ("_total" if isinstance(value, Counter) else ""))
                if isinstance(value, Histogram):
                    out |= {f"{m.name}_bucket", f"{m.name}_sum", f"{m.name}_count"}
    return out


def update_cost(n: int = 100_000) -> dict[str, float]:
    """Measured cost in µs of the metric updates one report causes on a worker (for docs/operations.md).

    ``bound``: pre-bound children (what the pipeline should do); ``labels``: ``.labels()`` on every call.
    Uses throw-away metrics in a private registry, so the process's real series are untouched.
    """
    import timeit

    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry()
    received = Counter("x_received_total", "", ["kind", "agency"], registry=reg)
    routed = Counter("x_routed_total", "", ["kind", "state", "delivery"], registry=reg)
    stage = Histogram("x_stage_seconds", "", ["stage"], buckets=LATENCY_BUCKETS, registry=reg)
    e2e = Histogram("x_e2e_seconds", "", buckets=LATENCY_BUCKETS, registry=reg)
    states, stages = ("KZ", "TJ", "RU"), ("decode", "dedup", "correlate", "route")
    r1 = received.labels("SEIZURE", "KZ-CUSTOMS")
    r2 = [routed.labels("SEIZURE", s, "NEW") for s in states]
    r3 = [stage.labels(s) for s in stages]

    def bound() -> None:
        r1.inc()
        for c in r2:
            c.inc()
        for h in r3:
            h.observe(0.002)
        e2e.observe(0.05)

    def labels() -> None:
        received.labels("SEIZURE", "KZ-CUSTOMS").inc()
        for s in states:
            routed.labels("SEIZURE", s, "NEW").inc()
        for s in stages:
            stage.labels(s).observe(0.002)
        e2e.observe(0.05)

    return {name: min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e6
            for name, fn in (("bound", bound), ("labels", labels))}


def reference_table() -> str:
    """The metrics reference of docs/operations.md (Markdown), generated from this module."""
    rows = ["| Metric | Type | Labels | Meaning |", "|---|---|---|---|"]
    found = []
    for value in list(globals().values()):
        if isinstance(value, Counter | Gauge | Histogram):
            name = value._name + ("_total" if isinstance(value, Counter) else "")
            kind = type(value).__name__.lower()
            found.append((name, kind, ", ".join(value._labelnames) or "–", value._documentation))
    for name, kind, labels, doc in sorted(found):
        rows.append(f"| `{name}` | {kind} | {labels} | {doc} |")
    return "\n".join(rows)
