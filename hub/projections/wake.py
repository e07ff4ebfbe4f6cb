"""Commit → wake-up: a projection tells the gateway's open streams the moment a batch is committed.

* **PostgreSQL**: ``NOTIFY <channel>, '<payload>'`` inside the writing transaction (PostgreSQL
  delivers it at commit, never for a rolled-back batch); every gateway holds one ``LISTEN``
  connection per channel (psycopg's async ``notifies()``).
* **SQLite** (one host by construction: the database is a file): every listening gateway binds a
  Unix datagram socket in a private directory named after the database file
  (``$TMPDIR/hub-wake-<hash of the path>/<channel>/<pid>.sock``); after each commit the writer sends
  the payload to every socket there (a non-blocking send; a socket nobody reads any more is removed).

The payload is small JSON (for the feed: the newest cursor of each recipient the batch touched), so
a stream knows at once whether its feed moved. A lost wake-up only delays: listeners keep a slow
fallback re-check (``FeedWatch.fallback``), never a sleep in the latency path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import structlog

from hub.platform.db import Database

log = structlog.get_logger(__name__)

FEED = "hub_feed"  # payload {recipient: newest seq}
PROVIDER = "hub_provider"  # payload {agency: newest change seq}


def wake_dir(db: Database, channel: str) -> Path | None:
    """The SQLite wake-up directory of ``channel`` (None: PostgreSQL, or an in-memory database)."""
    if db.dialect != "sqlite" or db.path == ":memory:":
        return None
    key = hashlib.sha256(str(Path(db.path).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hub-wake-{key}" / channel


class Notifier:
    """The writer's side. PostgreSQL: :meth:`in_transaction` (NOTIFY, sent at commit). SQLite:
    :meth:`after_commit` (datagrams)."""

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel
        self.dir = wake_dir(db, channel)
        self._sock: socket.socket | None = None
        self._targets: list[str] = []
        self._seen_mtime = -1.0

    def in_transaction(self, payload: dict[str, Any]) -> None:
        if self.db.dialect == "postgresql" and payload:
            self.db.execute("SELECT pg_notify(?, ?)", (self.channel, orjson.dumps(payload).decode()))

    def after_commit(self, payload: dict[str, Any]) -> None:
        if self.dir is None or not payload:
            return
        try:
            mtime = self.dir.stat().st_mtime
        except FileNotFoundError:
            return  # no listener has ever bound here
        if mtime != self._seen_mtime:
            self._seen_mtime = mtime
            self._targets = [str(p) for p in self.dir.glob("*.sock")]
        if not self._targets:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        data = orjson.dumps(payload)
        for target in list(self._targets):
            try:
                self._sock.sendto(data, target)
            except (ConnectionRefusedError, FileNotFoundError):  # its gateway is gone
                with contextlib.suppress(OSError):
                    os.unlink(target)
                self._targets.remove(target)
            except BlockingIOError:  # its queue is full: that gateway is awake anyway
                pass
            except OSError as exc:
                log.warning("wake-up not sent", target=target, error=str(exc))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Listener:
    """The reader's side: calls ``on_payload(dict)`` for every wake-up of ``channel`` until closed."""

    def __init__(self, db: Database, channel: str, on_payload: Callable[[dict[str, Any]], None],
                 on_reconnect: Callable[[], None] | None = None) -> None:
        self.db = db
        self.channel = channel
        self.on_payload = on_payload
        self.on_reconnect = on_reconnect or (lambda: None)
        self._task: asyncio.Task[None] | None = None
        self._path: Path | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _deliver(self, data: bytes | str) -> None:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if isinstance(payload, dict):
            self.on_payload(payload)

    async def _run(self) -> None:
        if self.db.dialect == "postgresql":
            await self._run_pg()
        elif wake_dir(self.db, self.channel) is not None:
            await self._run_unix()

    async def _run_unix(self) -> None:
        d = wake_dir(self.db, self.channel)
        assert d is not None
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path = d / f"{os.getpid()}-{id(self):x}.sock"
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(str(self._path))
        os.utime(d)  # writers re-list the directory when its mtime moves
        loop = asyncio.get_running_loop()
        self.listening.set()
        try:
            while True:
                data = await loop.sock_recv(sock, 65536)
                self._deliver(data)
        finally:
            sock.close()
            with contextlib.suppress(OSError):
                self._path.unlink()

    async def _run_pg(self) -> None:
        import psycopg

        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.db.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {self.channel}")
                    self.listening.set()
                    self.on_reconnect()  # whatever was committed while not listening: re-check once
                    delay = 0.5
                    async for note in conn.notifies():
                        self._deliver(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("wake-up listener lost its connection; reconnecting", channel=self.channel,
                            error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


class Heads:
    """The newest cursor per key (agency, recipient…) as a channel pushes it; :meth:`wait` returns as
    soon as a key moves past a cursor (or after ``timeout``: the caller's own re-check)."""

    def __init__(self, db: Database, channel: str, on_reconnect: Callable[[], None] | None = None) -> None:
        self.heads: dict[str, int] = {}
        self.moved_at: dict[str, float] = {}  # when each key last moved (epoch seconds; tracing only)
        self._events: dict[str, asyncio.Event] = {}
        self.listener = Listener(db, channel, self.push, on_reconnect=on_reconnect)
        self.pushed = db.dialect == "postgresql" or wake_dir(db, channel) is not None

    def start(self) -> None:
        if self.pushed:
            self.listener.start()

    def push(self, payload: dict[str, Any]) -> None:
        for key, head in payload.items():
            if isinstance(head, int) and head > self.heads.get(key, -1):
                self.heads[key] = head
                self.moved_at[key] = time.time()
                event = self._events.pop(key, None)
                if event is not None:
                    event.set()

    async def wait(self, key: str, cursor: int, timeout: float) -> bool:
        if self.heads.get(key, -1) > cursor:
            return True
        event = self._events.setdefault(key, asyncio.Event())
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        return self.heads.get(key, -1) > cursor

    async def close(self) -> None:
        await self.listener.close()
