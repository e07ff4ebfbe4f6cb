"""The one audit emitter of HTTP processes (``app.state.audit``): :meth:`Audit.emit` puts the events of
one call in one ``AuditBatch`` record (schema release v2) and awaits its acknowledgement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from hub.domain.wire import audit_batch_records
from hub.platform.kafka.producer import BrokerUnavailable, Producer

log = structlog.get_logger(__name__)


class Audit:
    """The one audit emitter of the gateway (``app.state.audit``)."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer

    async def emit(self, events: Sequence[Mapping[str, Any]], *, required: bool = True, now: bool = False) -> bool:
        """Put ``events`` on hub.audit (one AuditBatch record per call, split every
        :data:`hub.domain.wire.AUDIT_BATCH_EVENTS` events) and wait for the acknowledgement.

        ``required``: raise BrokerUnavailable when it fails (e.g. an acknowledgement must not be
        answered unless audited); otherwise log the gap loudly and return False. ``now``: sent at once,
        without the producer's linger (:meth:`Producer.send`), for a caller waiting on it.
        """
        if not events:
            return True
        try:
            await self.producer.send(audit_batch_records(events), now=now)
            return True
        except BrokerUnavailable as exc:
            if required:
                raise
            log.error("audit events not sent", error=str(exc), events=len(events),
                      stages=sorted({e["stage"] for e in events}))
            return False


class GroupedAudit:
    """Group commit of audit events that callers must await (the SSE streams' DELIVERED): the events
    of every caller that arrives while a send is under way -- or in the same turn of the event loop
    as the first -- go together in the next send, at once (``now``: no linger), and each caller
    returns when the broker acknowledged the send holding its events (or gets its BrokerUnavailable).
    The streams one wake-up woke share one produce instead of one each; no caller waits on a timer."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self._waiting: list[tuple[Sequence[Mapping[str, Any]], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.sends = 0  # sends made (for tests and metrics: callers per send)

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        if not events:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        # a caller that went away (its stream closed) never reads its outcome: mark it read
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._waiting.append((events, fut))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        await asyncio.shield(fut)  # a caller that goes away does not cancel the others' send

    async def _run(self) -> None:
        await asyncio.sleep(0)  # one turn of the loop: the callers woken with the first one join it
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self.audit.emit([e for events, _f in group for e in events], now=True)
                self.sends += 1
            except BaseException as exc:
                for _e, f in group:
                    if not f.done():
                        f.set_exception(exc if isinstance(exc, Exception) else BrokerUnavailable(repr(exc)))
                if not isinstance(exc, Exception):
                    raise
            else:
                for _e, f in group:
                    if not f.done():
                        f.set_result(None)
