"""How an agent of the worker takes its batches off a faust stream: :func:`take_batches`.

faust's ``Stream.take_events(max_, within)`` yields a batch when ``max_`` events are buffered or when
its ``within`` timer runs out — and the timer starts afresh after every batch, so at a low rate
every record waits the whole ``within`` before it is decided (``hub bench --only sse``'s worker
breakdown: the **take** step, ≈ 11 ms p50 at 100 reports/s with ``within`` = 10 ms).

:func:`take_batches` is the same buffer with a different end: a batch is yielded once no further
event has joined it for ``quiet`` seconds (the events already waiting in the stream's queue join
within a few loop turns), at the latest ``within`` after its first event, or at once when it holds
``max_``. Under load the events keep arriving faster than ``quiet`` and batches still fill up to
``within`` / ``max_``; a lone record is decided ``quiet`` after it arrived. While idle it waits for
an event without a timer.

Everything else is faust's ``take_events``, unchanged: the stream's own acknowledgements are off,
the buffer takes no new event while a batch is being processed (the agent's loop body, i.e. its
checkpoint, runs before the next event is added), and the batch's events are acknowledged to faust
when the agent asks for the next batch — after its checkpoint acknowledged them (ack is
idempotent), so nothing here changes the checkpoint's order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


class _Buffer:
    """The events of the batch being filled, and the signals between the stream's processor
    (:meth:`add`, run by the stream's background consumption) and :func:`take_batches`."""

    def __init__(self, stream: Any, max_: int) -> None:
        self.stream = stream
        self.max = max_
        self.events: list[Any] = []
        self.arrived = asyncio.Event()  # set by every event added
        self.full = asyncio.Event()
        self.consumed = asyncio.Event()
        self.consuming: asyncio.Future[None] | None = None  # set while the agent processes a batch

    async def add(self, value: Any) -> Any:
        stream = self.stream
        try:
            if self.consuming is not None:  # the agent is processing a batch: wait until it asks for the next
                try:
                    await self.consuming
                finally:
                    self.consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("take buffer found current_event is None")
            self.events.append(event)
            self.arrived.set()
            if len(self.events) >= self.max:
                self.full.set()
                self.consumed.clear()
                await stream.wait(self.consumed)  # never more than max_ in one batch
        except asyncio.CancelledError:  # pragma: no cover
            raise
        except Exception as exc:  # pragma: no cover - as faust's take_events
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    async def settle(self, within: float, quiet: float) -> None:
        """Let the batch grow until nothing joins it for ``quiet``, it is full, or ``within`` is over."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.full.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            self.arrived.clear()
            await self.stream.wait_for_stopped(self.arrived, timeout=min(quiet, left))
            if not self.arrived.is_set():  # nothing joined for `quiet`
                return

    def take(self) -> list[Any]:
        """The batch, handed to the agent: no event is added until :meth:`release`."""
        self.consuming = asyncio.get_running_loop().create_future()
        return list(self.events)

    async def release(self, batch: list[Any]) -> None:
        """The agent asks for the next batch: acknowledge ``batch`` to faust (a no-op for events its
        checkpoint acknowledged) and let the stream add events again."""
        self.events.clear()
        self.arrived.clear()
        for event in batch:
            await self.stream.ack(event)
        if self.consuming is not None and not self.consuming.done():
            self.consuming.set_result(None)
        self.full.clear()
        self.consumed.set()


async def take_batches(stream: Any, max_: int, within: float, quiet: float) -> AsyncIterator[list[Any]]:
    """Batches of a faust ``stream``'s events (see the module docstring); ``quiet`` ≤ ``within``."""
    buf = _Buffer(stream, max_)
    enable_acks = stream.enable_acks
    channel_it = aiter(stream.channel)
    stream.enable_acks = False  # the agent acknowledges (its checkpoint), as with take_events
    stream.add_processor(buf.add)
    stream._enable_passive(channel_it)
    try:
        while not stream.should_stop:
            if not buf.events:
                await stream.wait_for_stopped(buf.arrived)  # idle: no timer
            if buf.events and not buf.full.is_set():
                await buf.settle(within, quiet)
            if buf.events:
                batch = buf.take()
                try:
                    yield batch
                finally:
                    await buf.release(batch)
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(buf.add)
