"""Small helpers shared by the test suites."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hub.platform.kafka.embedded import port_open, stop_process  # noqa: F401  (one implementation, shared with the tests)
from hub.platform.settings import Settings


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns a truthy value; fail naming ``what`` after ``timeout`` s.

    The timeout only bounds a hang (the test fails saying what never happened); it is not a
    performance assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g} s")
        time.sleep(every)


def audit_events(value: bytes) -> list[dict[str, Any]]:
    """The audit events of one hub.audit record: an AuditEvent, or every event of an AuditBatch
    (release v2; the pipeline writes one per input). Anything else on hub.audit is an error."""
    from hub.domain.codec import AUDIT_BATCH, AUDIT_EVENT, DecodeError, codec

    name, decoded = codec().decode_named(value)
    if name == AUDIT_BATCH:
        return list(decoded["events"])
    if name != AUDIT_EVENT:
        raise DecodeError(DecodeError.PROBLEM_TYPE, f"{name} on hub.audit")
    return [decoded]


def denials_by_path(events: list[dict[str, Any]]) -> Counter[str]:
    """Denied requests per path in ACCESS_DENIED events: a first event names its path (``?`` if none);
    an aggregated one counts several (``detail.paths``, JSON)."""
    out: Counter[str] = Counter()
    for e in events:
        d = e["detail"]
        if d.get("aggregated") == "true":
            out.update({k: int(v) for k, v in json.loads(d["paths"]).items()})
        else:
            out[d.get("path", "?")] += int(d.get("count", 1))
    return out


def metrics_auth(settings: Settings | None = None, data_dir: Path | None = None) -> dict[str, str]:
    """The header that opens a gateway's /metrics: its settings' token, or the token file of a data dir."""
    from hub.gateway.ops import metrics_token

    token = metrics_token(settings) if settings is not None else (Path(data_dir or ".") / "metrics.token").read_text()
    return {"Authorization": f"Bearer {token.strip()}"}


def rss_kb(pid: int) -> int:
    """Resident memory of process ``pid`` in KiB (0 if /proc does not say)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sse_events(lines: Iterable[str], comments: bool = False) -> Iterator[dict[str, str]]:
    """Parse an SSE stream into events ({id, event, data}, as sent; ``data`` lines joined); retry lines
    are skipped, and so are comments, unless ``comments``: then each is ``{"comment": text}``."""
    ev: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in ev:
                yield ev
            ev = {}
            continue
        if line.startswith(":"):
            if comments:
                yield {"comment": line[1:].strip()}
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            ev["data"] = ev.get("data", "") + value
        elif name in ("id", "event"):
            ev[name] = value


def read_sse(url: str, headers: dict[str, str], want: int, keepalives: int = 0) -> tuple[list[dict[str, Any]], int]:
    """GET ``url`` as Server-Sent Events, read ``want`` events (and at least ``keepalives`` keep-alive
    comments), then disconnect. Returns (events: id and event as sent, data JSON-decoded; keep-alives seen)."""
    events: list[dict[str, Any]] = []
    seen_keepalive = 0
    with httpx.Client(timeout=httpx.Timeout(30, read=30)) as c, c.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for ev in sse_events(r.iter_lines(), comments=True):
            if ev.get("comment") == "keep-alive":
                seen_keepalive += 1
            elif "data" in ev:
                events.append(ev | {"data": json.loads(ev["data"])})
            if len(events) >= want and seen_keepalive >= keepalives:
                break
    return events, seen_keepalive


class ThreadGateway:
    """The gateway app (``create_app(settings)``) under uvicorn in a thread of the test process, on
    ``settings.gateway_port``; stoppable and restartable. SSE keep-alives every 0.5 s."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.app: Any = None

    def start(self) -> ThreadGateway:
        from hub.gateway.app import create_app

        self.app = create_app(self.settings)
        self.app.state.feed_keepalive = 0.5
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.settings.gateway_port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        server = self.server
        wait_until(lambda: server.started and port_open(self.settings.gateway_port), 30, "gateway up", every=0.1)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(15)
            wait_until(lambda: not port_open(self.settings.gateway_port), 30, "gateway down", every=0.1)
            self.server = self.thread = None


def fresh_pg_database(server_url: str, name: str) -> str:
    """(Re)create database ``name`` on the test PostgreSQL server at ``server_url``; its URL."""
    from hub.platform.db import Database

    admin = Database(server_url)
    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {name}")
    admin.close()
    return server_url.rsplit("/", 1)[0] + "/" + name
