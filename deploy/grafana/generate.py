"""Generates hub.json (the Grafana dashboard): `python3 deploy/grafana/generate.py`.

Edit panels here, not in the JSON; tests/ops/test_deploy_prometheus.py checks the two agree.
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards" / "hub.json"
DS = {"type": "prometheus", "uid": "hub-prometheus"}
panels = []
def panel(title, targets, unit="short", kind="timeseries", w=12, h=8, desc=""):
    i = len(panels)
    panels.append({
        "id": i + 1, "type": kind, "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": (i % 2) * 12 if w == 12 else 0, "y": (i // 2) * h, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]}},
        "targets": [{"refId": chr(65 + j), "datasource": DS, "expr": e, "legendFormat": legend} for j, (e, legend) in enumerate(targets)],
    })
panel("Intake by agency (reports/s)", [("sum by (agency) (rate(hub_reports_received_total{job=\"hub-worker\"}[$__rate_interval]))", "{{agency}} validated"),
                                       ("sum by (agency) (rate(hub_reports_received_total{job=\"hub-gateway\"}[$__rate_interval]))", "{{agency}} accepted at gateway")], "reqps",
      desc="Workers count every report they validate (REST and Kafka-native); the gateway counts what it accepted over REST.")
panel("Rejected by reason (reports/s)", [("sum by (job, reason) (rate(hub_reports_rejected_total[$__rate_interval]))", "{{job}} {{reason}}")], "reqps")
panel("Routing by state (feed items/s)", [("sum by (state) (rate(hub_reports_routed_total[$__rate_interval]))", "{{state}}")], "reqps")
panel("Deduplication and correlation ratio", [
    ("sum(rate(hub_reports_duplicate_total{job=\"hub-worker\"}[$__rate_interval])) / sum(rate(hub_reports_received_total{job=\"hub-worker\"}[$__rate_interval]))", "duplicates / received"),
    ("sum(rate(hub_reports_correlated_total{job=\"hub-worker\"}[$__rate_interval])) / sum(rate(hub_reports_received_total{job=\"hub-worker\"}[$__rate_interval]))", "correlated / received")], "percentunit")
panel("End-to-end latency (receipt → feed item)", [
    (f"histogram_quantile({q}, sum by (le) (rate(hub_end_to_end_latency_seconds_bucket[$__rate_interval])))", f"p{int(q*100)}") for q in (0.5, 0.95, 0.99)], "s")
panel("Stage latency p95", [("histogram_quantile(0.95, sum by (le, stage) (rate(hub_stage_duration_seconds_bucket[$__rate_interval])))", "{{stage}}")], "s")
panel("Consumer lag (messages)", [("sum by (group, topic) (hub_consumer_lag_messages)", "{{group}} {{topic}}")])
panel("Dead-letter topic", [("sum(hub_topic_messages{topic=\"hub.dlq\"})", "messages in hub.dlq"),
                            ("sum by (stage, reason) (increase(hub_dlq_messages_total[$__rate_interval]))", "new: {{stage}} {{reason}}")])
panel("Time to acknowledge p50 / p90 by state", [
    ("histogram_quantile(0.5, sum by (le, state) (rate(hub_time_to_acknowledge_seconds_bucket[1h])))", "p50 {{state}}"),
    ("histogram_quantile(0.9, sum by (le, state) (rate(hub_time_to_acknowledge_seconds_bucket[1h])))", "p90 {{state}}")], "s")
panel("Feed subscribers and acknowledgements", [
    ("sum by (state) (hub_feed_subscribers)", "open sessions {{state}}"),
    ("sum by (state) (increase(hub_acknowledgements_total[1h]))", "acks/h {{state}}")])
panel("Audit sink", [("max(hub_audit_sink_lag_seconds)", "age of newest stored event (s)"),
                     ("sum(rate(hub_audit_events_stored_total[$__rate_interval]))", "stored events/s")])
panel("Processes and dependencies", [("up{job=~\"hub-.*\"}", "{{job}} {{instance}} up"),
                                      ("min by (instance, dependency) (hub_dependency_up)", "{{instance}} → {{dependency}}")])
panel("HTTP requests by route and status", [("sum by (route, status) (rate(hub_http_requests_total[$__rate_interval]))", "{{route}} {{status}}")], "reqps")
panel("HTTP p95 by route", [("histogram_quantile(0.95, sum by (le, route) (rate(hub_http_request_duration_seconds_bucket[$__rate_interval])))", "{{route}}")], "s")
# provider side (SPEC §13): requests to providing agencies, answers, shares (several gateways export the
# same database-derived gauges: max over instances)
panel("Open requests to providers by age", [
    ("sum by (age) (max without (instance) (hub_requests_open))", "{{age}}")],
      desc="Consent and information requests not answered yet, by how long they have waited (lt_1h, 1h_24h, 1d_3d, gt_3d).")
panel("Oldest unanswered request per agency", [
    ("max by (agency) (hub_requests_oldest_open_age_seconds)", "{{agency}}")], "s",
      desc="Alert HubRequestUnanswered fires above 24 h.")
panel("Time to answer a request p50 / p90 by kind", [
    ("histogram_quantile(0.5, sum by (le, kind) (rate(hub_request_answer_seconds_bucket[6h])))", "p50 {{kind}}"),
    ("histogram_quantile(0.9, sum by (le, kind) (rate(hub_request_answer_seconds_bucket[6h])))", "p90 {{kind}}")], "s")
panel("Requests asked, answered and shares sent (per hour)", [
    ("sum by (kind) (increase(hub_requests_total[1h]))", "asked {{kind}}"),
    ("sum by (kind, decision) (increase(hub_requests_answered_total[1h]))", "answered {{kind}} {{decision}}"),
    ("sum(increase(hub_shares_sent_total[1h]))", "ShareCommands sent")])
panel("Time to acknowledge p90 per recipient (what providers wait for)", [
    ("histogram_quantile(0.9, sum by (le, state) (rate(hub_time_to_acknowledge_seconds_bucket[6h])))", "{{state}}")], "s",
      desc="From routing to the first acknowledgement of each recipient; the provider's per-report view is GET /v1/reports/{id}.")
dash = {"uid": "caricc-hub", "title": "CARICC hub", "tags": ["caricc", "hub"], "timezone": "utc",
        "schemaVersion": 39, "version": 1, "refresh": "30s", "editable": False,
        "time": {"from": "now-6h", "to": "now"}, "templating": {"list": []}, "annotations": {"list": []},
        "panels": panels}
TEXT = json.dumps(dash, indent=2, ensure_ascii=False) + "\n"

if __name__ == "__main__":
    OUT.write_text(TEXT, encoding="utf-8")
    print(f"wrote {OUT}")
