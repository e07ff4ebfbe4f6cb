"""A failed produce must never let faust commit the input's offset (at-least-once)."""

from __future__ import annotations

import asyncio
import os

import pytest

from hub.pipeline.app import DeliveryGuard


class FakeProducer:
    """Only the flush seam the guard wraps; the real producer is exercised by the e2e tests."""

    def __init__(self, fut: asyncio.Future) -> None:
        self.fut = fut
        self.flushed = 0

    async def flush(self) -> None:
        self.flushed += 1
        await asyncio.sleep(0)


async def test_flush_exits_before_commit_when_a_delivery_failed(monkeypatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", lambda code: exits.append(code))
    loop = asyncio.get_running_loop()
    ok, bad = loop.create_future(), loop.create_future()
    guard = DeliveryGuard()
    prod = FakeProducer(ok)
    guard.install(prod)
    ok.add_done_callback(guard.sent)
    ok.set_result(None)
    await prod.flush()
    assert exits == [] and prod.flushed == 1
    bad.add_done_callback(guard.sent)
    bad.set_exception(ConnectionError("broker gone"))
    await prod.flush()
    assert exits == [DeliveryGuard.EXIT_CODE]


@pytest.mark.parametrize("n", [1, 3])
async def test_failures_are_counted(n: int) -> None:
    guard = DeliveryGuard()
    loop = asyncio.get_running_loop()
    for _ in range(n):
        f = loop.create_future()
        f.add_done_callback(guard.sent)
        f.set_exception(TimeoutError())
    await asyncio.sleep(0)
    assert guard.failures == n
