"""faust's Prometheus sensor attached by hub.platform.metrics.faust_sensor: its series land on the process's
default registry (what the worker's /metrics serves) and the app's monitor is faust's PrometheusMonitor."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import faust
from prometheus_client import generate_latest
from hub.platform.metrics import faust_sensor
app = faust.App("hub-sensor-test", broker="kafka://127.0.0.1:1")
faust_sensor(app)
text = generate_latest().decode()
assert "# TYPE faust_messages_received_total counter" in text, text[:500]
assert "hub_reports_received_total" in text
from faust.sensors.prometheus import PrometheusMonitor
assert isinstance(app.monitor, PrometheusMonitor)
print("ok")
"""


def test_faust_series_on_default_registry() -> None:
    # own interpreter: the sensor registers process-global metrics once
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
