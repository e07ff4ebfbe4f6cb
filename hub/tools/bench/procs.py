"""The processes a benchmark run drives: a fresh broker, `hub worker`s, a `hub gateway`.

Each is a real subprocess (``python -m hub …``) on free ports with a private data directory; the
bench reads their peak RSS from ``/proc/PID/status`` (VmHWM) and their Prometheus metrics.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.platform.kafka.embedded import EmbeddedBroker, free_port, stop_process
from hub.platform.kafka.server import KafkaBroker
from hub.platform.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[3]


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a live process, in MiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) / 1024 if m else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (from /proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        env_name("kafka_bootstrap"): settings.kafka_bootstrap,
        env_name("embedded_port"): str(settings.embedded_port),
        env_name("data_dir"): settings.data_dir,
        env_name("partitions"): str(settings.partitions),
        env_name("log_format"): "json",
        env_name("id_key"): settings.id_key,
        env_name("audit_key"): settings.audit_key,
        env_name("metrics_token"): settings.metrics_token,
        "HUB_EMBEDDED_RUNNING": "1",
        "PYTHONPATH": str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
    })
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int | None = None
    log_path: Path | None = None
    peak_mb: float | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def sample(self) -> None:
        """Remember the peak RSS while the process is alive (VmHWM is gone once it exits)."""
        v = peak_rss_mb(self.pid)
        if v is not None:
            self.peak_mb = max(self.peak_mb or 0.0, v)

    def stop(self, timeout: float = 10.0) -> None:
        self.sample()
        stop_process(self.popen, timeout)


@dataclass
class Cluster:
    """A broker (embedded, fresh) or an external bootstrap, plus the hub processes started on it."""

    settings: Settings
    workdir: Path
    broker: EmbeddedBroker | KafkaBroker | None = None
    procs: list[Proc] = field(default_factory=list)
    spies: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_hub(self, name: str, *args: str, port: int | None = None, **env: str) -> Proc:
        log_path = self.workdir / f"{name}.log"
        out = open(log_path, "ab")  # noqa: SIM115 -- closed with the process
        p = subprocess.Popen([sys.executable, "-m", "hub", *args], env=env_for(self.settings, **env),
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.workdir)
        out.close()
        proc = Proc(name, p, port, log_path)
        self.procs.append(proc)
        return proc

    def start_worker(self, index: int, **env: str) -> Proc:
        port = free_port()
        return self.start_hub(f"worker-{index}", "worker", "--port", str(port), port=port, **env)

    def profile(self, proc: Proc, out_dir: Path) -> None:
        """Sample ``proc`` with py-spy until it exits (collapsed stacks in out_dir/<name>.txt)."""
        import shutil

        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        out_dir.mkdir(parents=True, exist_ok=True)
        p = subprocess.Popen([spy, "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "200",
                              "--duration", "3600", "--output", str(out_dir / f"{proc.name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.spies.append(p)

    def start_gateway(self, **env: str) -> Proc:
        port = free_port()
        return self.start_hub("gateway", "gateway", "--port", str(port), port=port, **env)

    def sample(self) -> None:
        for p in self.procs:
            p.sample()

    def broker_peak_mb(self) -> float | None:
        return peak_rss_mb(self.broker.proc.pid) if self.broker and self.broker.proc else None

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        for s in self.spies:  # py-spy writes its file when the sampled process exits
            try:
                s.wait(30)
            except subprocess.TimeoutExpired:
                s.send_signal(signal.SIGINT)
                s.wait(10)
        if self.broker:
            self.broker.stop()


FRESH_KAFKA = "fresh-kafka"  # `hub bench --kafka`: a throw-away Apache Kafka per run


@contextmanager
def cluster(base: Settings, workdir: Path, *, bootstrap: str | None = None) -> Iterator[Cluster]:
    """A fresh embedded broker (or a fresh Apache Kafka for ``FRESH_KAFKA``, or ``bootstrap``) with a
    private data dir; everything stopped on exit."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    broker: EmbeddedBroker | KafkaBroker | None = None
    if bootstrap == FRESH_KAFKA:
        broker = KafkaBroker(workdir / "kafka").start()
        settings = dataclasses.replace(base, kafka_bootstrap=broker.bootstrap, data_dir=str(workdir / "hub"))
    elif bootstrap:
        settings = dataclasses.replace(base, kafka_bootstrap=bootstrap, data_dir=str(workdir / "hub"))
    else:
        broker = EmbeddedBroker(log_path=str(workdir / "broker.log")).start()
        settings = dataclasses.replace(base, kafka_bootstrap="", embedded_port=broker.port,
                                       data_dir=str(workdir / "hub"))
    c = Cluster(settings, workdir, broker)
    try:
        yield c
    finally:
        c.stop()


def wait_http(url: str, proc: Proc, timeout: float = 60.0, ok: tuple[int, ...] = (200,)) -> None:
    """Wait until ``url`` answers one of ``ok`` (raises if the process died or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with code {proc.popen.returncode}; see {proc.log_path}")
        try:
            if httpx.get(url, timeout=1.0).status_code in ok:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready at {url} within {timeout:g}s; see {proc.log_path}")


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN|[+-]Inf)$")


def scrape(port: int, names: tuple[str, ...]) -> dict[str, float]:
    """Sum of every sample of each metric name (over all label sets) on 127.0.0.1:port/metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and m.group(1) in out:
            out[m.group(1)] += float(m.group(3))
    return out
