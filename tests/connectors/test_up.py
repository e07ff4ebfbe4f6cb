"""`hub up --demo`: one command starts broker, topics, gateway (and whatever else this build has) and the
simulator; reports flow in; Ctrl-C stops every child process."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.cli.up import metrics_access
from hub.platform.kafka.embedded import free_port
from tests.conftest import (
    HUB,
    ROOT,
    TEST_AUDIT_KEY,
    TEST_ID_KEY,
    TEST_METRICS_TOKEN,
    hub_settings,
    start_broker,
)
from tests.helpers import metrics_auth

pytestmark = [pytest.mark.timeout(240), pytest.mark.both_brokers]


@pytest.fixture
def up_env(broker_kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of `hub up`: no broker configured (it starts the embedded one), or a private Kafka."""
    env = dict(os.environ, HUB_DATA_DIR=str(tmp_path / "hub"), HUB_EMBEDDED_PORT=str(free_port()),
               HUB_GATEWAY_PORT=str(free_port()), HUB_WORKER_PORT=str(free_port()), HUB_SINK_PORT=str(free_port()),
               HUB_PARTITIONS="2", HUB_LOG_FORMAT="json", PYTHONPATH=str(ROOT))
    env.pop("HUB_KAFKA_BOOTSTRAP", None)
    if broker_kind == "embedded":
        yield env
        return
    kafka = start_broker("kafka", tmp_path / "kafka")
    try:
        # the production profile (HUB_KAFKA_BOOTSTRAP set) requires the hub's secrets (hub/platform/keys.py)
        yield env | {"HUB_KAFKA_BOOTSTRAP": kafka.bootstrap, "HUB_ID_KEY": TEST_ID_KEY.decode(),
                     "HUB_AUDIT_KEY": TEST_AUDIT_KEY.decode(), "HUB_METRICS_TOKEN": TEST_METRICS_TOKEN}
    finally:
        kafka.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_hub_up_demo_runs_and_stops_cleanly(up_env: dict[str, str], broker_kind: str, tmp_path: Path) -> None:
    env = up_env
    gw_port = int(env["HUB_GATEWAY_PORT"])
    out = tmp_path / "up.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen([*HUB, "up", "--demo", "--demo-rate", "5"], env=env, stdout=f,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Ctrl-C stops everything" not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        banner = out.read_text()
        base = f"http://127.0.0.1:{gw_port}"
        broker_line = "embedded Tansu" if broker_kind == "embedded" else f"{env.get('HUB_KAFKA_BOOTSTRAP')} (external Kafka)"
        for text in (f"{base}/docs", f"{base}/metrics", broker_line, "gateway", "simulator"):
            assert text in banner, banner
        pids = [int(line.split()[2]) for line in banner.splitlines() if " pid " in line]
        assert len(pids) >= 2
        assert httpx.get(f"{base}/healthz").status_code == 200
        # the simulator's reports reach the gateway and are accepted (production: the configured
        # metrics token; dev profile: the token file the gateway created in the data dir)
        scrape = ({"Authorization": f"Bearer {env['HUB_METRICS_TOKEN']}"} if "HUB_METRICS_TOKEN" in env
                  else metrics_auth(data_dir=tmp_path / "hub"))
        # the banner says how to reach /metrics, never with the token itself
        assert 'curl -H "Authorization: Bearer ' in banner and f"{base}/metrics" in banner, banner
        assert scrape["Authorization"].split()[1] not in banner, banner
        received = 0.0
        while received == 0:
            assert time.monotonic() < deadline + 30, "no simulated report was received"
            for line in httpx.get(f"{base}/metrics", headers=scrape).text.splitlines():
                if line.startswith("hub_reports_received_total{"):
                    received += float(line.rsplit(" ", 1)[1])
            time.sleep(0.5)
        # demo officers can sign in, and simulated reports travel the whole hub to the centre's feed
        tokens = dict(line.split()[0:3:2] for line in banner.splitlines() if line.strip().startswith("demo-"))
        assert set(tokens) == {"demo-kz", "demo-uz", "demo-caricc", "demo-auditor"}, banner
        headers = {"Authorization": f"Bearer {tokens['demo-caricc']}"}
        items: list = []
        while not items:
            assert time.monotonic() < deadline + 60, "no routed item reached the CARICC feed"
            r = httpx.get(f"{base}/v1/feeds/CARICC/items", headers=headers)
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            time.sleep(0.5)
        assert items[0]["item"]["recipient"] == "CARICC"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, out.read_text()
        assert "hub stopped" in out.read_text()
        time.sleep(0.2)
        assert not [p for p in pids if alive(p)], out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_hub_up_restarts_a_killed_worker(up_env: dict[str, str], tmp_path: Path) -> None:
    env = up_env
    out = tmp_path / "up.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen([*HUB, "up"], env=env, stdout=f, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Ctrl-C stops everything" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        worker = next(int(line.split()[2]) for line in out.read_text().splitlines() if line.startswith("worker-1"))
        os.kill(worker, signal.SIGKILL)
        while "worker-1 exited with code -9; restarting it" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        assert proc.poll() is None, "the hub keeps running after a worker crash"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_banner_shows_where_the_metrics_token_is_not_the_token(tmp_path: Path) -> None:
    base = "http://127.0.0.1:8080"
    configured = "\n".join(metrics_access(hub_settings(data_dir=str(tmp_path)), base))
    assert TEST_METRICS_TOKEN not in configured
    assert 'curl -H "Authorization: Bearer $HUB_METRICS_TOKEN" http://127.0.0.1:8080/metrics' in configured
    dev_profile = dataclasses.replace(hub_settings(data_dir=str(tmp_path)), metrics_token="")
    dev = "\n".join(metrics_access(dev_profile, base))
    assert f'curl -H "Authorization: Bearer $(cat {tmp_path / "metrics.token"})" {base}/metrics' in dev
