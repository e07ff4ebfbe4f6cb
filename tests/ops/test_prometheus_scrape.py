"""A real Prometheus server scrapes a running hub on loopback; PromQL over its HTTP API sees the series.

The whole hub runs as ``python -m hub up`` (its own embedded broker, worker, sink, gateway on free
ports); Prometheus scrapes gateway (with its metrics token), worker and sink every second. An agency key is issued with the CLI,
one report is posted over REST, and PromQL must see it received and routed (``hub_reports_routed_total
> 0``), besides every target up and the gateway's broker/database checks.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from hub.platform.kafka.embedded import free_port, port_open, stop_process
from tests.conftest import HUB, ROOT
from tests.factories import json_report


def _stop(p: subprocess.Popen[bytes]) -> None:
    stop_process(p, 20)


def _wait(predicate, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def hub_up(tmp_path: Path) -> Iterator[dict[str, object]]:
    data = tmp_path / "hub"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HUB_DATA_DIR=str(data), HUB_LOG_FORMAT="json",
               HUB_KAFKA_BOOTSTRAP="", HUB_EMBEDDED_PORT=str(free_port()), HUB_GATEWAY_PORT=str(free_port()),
               HUB_WORKER_PORT=str(free_port()), HUB_SINK_PORT=str(free_port()), HUB_PARTITIONS="2",
               HUB_WORKERS="1")
    env.pop("HUB_DATABASE_URL", None)
    procs = [subprocess.Popen([*HUB, "up"], env=env, stdout=open(tmp_path / "up.log", "wb"),  # noqa: SIM115
                              stderr=subprocess.STDOUT)]
    try:
        gateway = f"http://127.0.0.1:{env['HUB_GATEWAY_PORT']}"

        def ready() -> bool:
            assert procs[0].poll() is None, (tmp_path / "up.log").read_text()
            try:
                return httpx.get(f"{gateway}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(ready, "gateway /readyz", 90)
        targets = [f"127.0.0.1:{env[f'HUB_{p}_PORT']}" for p in ("GATEWAY", "WORKER", "SINK")]
        yield {"env": env, "gateway": gateway, "targets": targets}
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.fixture
def prometheus(tmp_path: Path, hub_up: dict[str, object]) -> Iterator[str]:
    port = free_port()
    gateway, *others = hub_up["targets"]
    # the gateway's /metrics needs its metrics token (the dev profile keeps it in HUB_DATA_DIR/metrics.token),
    # sent the way deploy/prometheus/prometheus.yml does: authorization.credentials_file
    token_file = Path(hub_up["env"]["HUB_DATA_DIR"]) / "metrics.token"
    cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
           "scrape_configs": [
               {"job_name": "hub", "static_configs": [{"targets": others}]},
               {"job_name": "hub-gateway", "static_configs": [{"targets": [gateway]}],
                "authorization": {"type": "Bearer", "credentials_file": str(token_file)}}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    p = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                          f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                         stdout=open(tmp_path / "prometheus.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        _wait(lambda: port_open(port), "prometheus", 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(p)


def query(prom: str, promql: str) -> list[dict]:
    r = httpx.get(f"{prom}/api/v1/query", params={"query": promql}, timeout=5)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_value(prom: str, promql: str, timeout: float = 60) -> float:
    """Wait until the query returns a series; its value."""
    deadline = time.monotonic() + timeout
    while True:
        result = query(prom, promql)
        if result:
            return float(result[0]["value"][1])
        if time.monotonic() > deadline:
            raise AssertionError(f"no series for {promql!r} after {timeout}s")
        time.sleep(0.5)


def _publish_one(hub_up: dict[str, object]) -> None:
    env = hub_up["env"]
    subprocess.run([*HUB, "agency", "add", "KZ-CUSTOMS", "--state", "KZ", "--name", "KZ customs"],
                   env=env, check=True, capture_output=True, timeout=60)
    out = subprocess.run([*HUB, "agency", "key", "KZ-CUSTOMS"], env=env, check=True, capture_output=True,
                         text=True, timeout=60).stdout
    token = re.search(r"hka_\S+", out).group(0)  # type: ignore[union-attr]
    r = httpx.post(f"{hub_up['gateway']}/v1/reports", json=json_report(), timeout=30,
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.text


def test_prometheus_scrapes_the_running_hub(hub_up: dict[str, object], prometheus: str) -> None:
    targets = hub_up["targets"]
    # every hub process is scraped successfully
    assert wait_value(prometheus, f'count(up{{job=~"hub|hub-gateway"}} == 1) == {len(targets)}') == len(targets)
    # the gateway reached the real broker and database (its /readyz checks, exported as gauges)
    assert wait_value(prometheus, 'hub_dependency_up{job="hub-gateway",dependency="broker"} > 0') == 1
    assert wait_value(prometheus, 'hub_dependency_up{job="hub-gateway",dependency="database"} > 0') == 1
    assert wait_value(prometheus, 'hub_build_info{service="gateway"}') == 1

    _publish_one(hub_up)
    gateway, worker = (f'instance="127.0.0.1:{hub_up["env"][f"HUB_{p}_PORT"]}"' for p in ("GATEWAY", "WORKER"))
    assert wait_value(prometheus, f"sum(hub_reports_received_total{{{gateway}}}) > 0") >= 1
    # the target: the report routed end to end, counted by the worker
    assert wait_value(prometheus, f"sum(hub_reports_routed_total{{{worker}}}) > 0", timeout=90) >= 1
