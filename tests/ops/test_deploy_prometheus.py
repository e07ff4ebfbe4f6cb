"""deploy/prometheus and deploy/grafana: promtool validates them, alert rules fire as intended, and
every metric they name is declared in hub/platform/metrics.py and exported on a real /metrics page."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hub.gateway.app import create_app
from hub.platform import metrics
from hub.platform.settings import Settings
from tests.helpers import metrics_auth

from .conftest import serve

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "hub.json"
BUILTIN = {"up"}  # series Prometheus itself records for every target


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, cwd=PROM)


def test_promtool_check_config() -> None:
    r = promtool("check", "config", "prometheus.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout and "WARNING" not in r.stdout + r.stderr


def test_promtool_check_rules() -> None:
    r = promtool("check", "rules", "alerts.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    names = {rule["alert"] for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
             for rule in g["rules"]}
    # the issue's list: routing stalled, DLQ growth, lag, audit sink behind, unacknowledged feed, target down
    assert {"HubNoReportsRouted", "HubDeadLettersGrowing", "HubConsumerLagHigh", "HubAuditSinkBehind",
            "HubFeedNobodyAcknowledging", "HubTargetDown"} <= names


def test_alert_rules_unit_tests() -> None:
    r = promtool("test", "rules", "alerts_test.yml")
    assert r.returncode == 0, r.stdout + r.stderr


def _exprs() -> dict[str, str]:
    out = {}
    for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]:
        for rule in g["rules"]:
            out[f"alert {rule['alert']}"] = rule["expr"]
    for p in json.loads(DASHBOARD.read_text())["panels"]:
        for t in p["targets"]:
            out[f"panel {p['title']!r} {t['refId']}"] = t["expr"]
    return out


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\bhub_[a-z0-9_]+\b", expr)) | ({"up"} & set(re.findall(r"\bup\b", expr)))


def _family(name: str) -> str:
    return re.sub(r"_(total|bucket|sum|count)$", "", name)


def test_every_metric_named_is_declared_and_exported(settings: Settings) -> None:
    exprs = _exprs()
    assert len(exprs) > 20
    used = {n for e in exprs.values() for n in _names(e)} - BUILTIN
    declared = metrics.declared_names()
    undeclared = {f"{where}: {n}" for where, e in exprs.items() for n in _names(e) - BUILTIN if n not in declared}
    assert not undeclared, f"not declared in hub/platform/metrics.py: {sorted(undeclared)}"

    with serve(create_app(settings)) as base:
        text = httpx.get(f"{base}/metrics", headers=metrics_auth(settings)).text
    exported = {f.name for f in text_string_to_metric_families(text)}
    missing = sorted(n for n in used if _family(n) not in exported)
    assert not missing, f"named in dashboard/alerts but absent from a real /metrics page: {missing}"
    # and the check has teeth: a made-up name would be caught
    assert "hub_made_up_total" not in declared and "hub_made_up" not in exported


def test_dashboard_covers_the_issue_panels() -> None:
    d = json.loads(DASHBOARD.read_text())
    assert len({p["id"] for p in d["panels"]}) == len(d["panels"])
    all_exprs = " ".join(_exprs().values())
    for needed in ("hub_reports_received_total", "hub_reports_routed_total", "hub_reports_duplicate_total",
                   "hub_reports_correlated_total", "hub_end_to_end_latency_seconds_bucket",
                   "hub_consumer_lag_messages", "hub_dlq_messages_total", "hub_time_to_acknowledge_seconds_bucket"):
        assert needed in all_exprs
    prov = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = prov["datasources"][0]["uid"]
    assert all(p["datasource"]["uid"] == uid for p in d["panels"])


def test_dashboard_json_is_generated_from_generate_py() -> None:
    import runpy

    ns = runpy.run_path(str(ROOT / "deploy" / "grafana" / "generate.py"))  # not as __main__: writes nothing
    assert DASHBOARD.read_text(encoding="utf-8") == ns["TEXT"], "run python3 deploy/grafana/generate.py"


def test_job_names_in_queries_exist_in_scrape_config() -> None:
    jobs = {j["job_name"] for j in yaml.safe_load((PROM / "prometheus.yml").read_text())["scrape_configs"]}
    for where, expr in _exprs().items():
        for job in re.findall(r'job="([^"]+)"', expr):
            assert job in jobs, f"{where}: job {job!r} is not scraped"
        for pattern in re.findall(r'job=~"([^"]+)"', expr):
            assert any(re.fullmatch(pattern, j) for j in jobs), f"{where}: {pattern!r} matches no job"
