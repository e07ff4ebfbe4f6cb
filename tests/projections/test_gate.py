"""The SQLite writer gate: first come, first served, the feed first, nobody starves."""

from __future__ import annotations

import threading
import time

from hub.projections.base import WriterGate


def test_turns_are_fifo_with_the_urgent_writer_first_and_a_repeating_writer_requeued() -> None:
    gate = WriterGate()
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def first() -> None:
        with gate.hold(urgent=False):
            holding.set()
            release.wait(10)
            order.append("first")

    def writer(name: str, urgent: bool, slices: int = 1) -> None:
        for n in range(slices):
            with gate.hold(urgent=urgent):
                order.append(f"{name}{n}")

    t0 = threading.Thread(target=first)
    t0.start()
    assert holding.wait(10)
    threads = []
    for name, urgent, slices in (("analyst", False, 2), ("provider", False, 1), ("feeds", True, 1)):
        t = threading.Thread(target=writer, args=(name, urgent, slices))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10  # wait until it queued (a hang guard, not a timing assertion)
        while len(gate._urgent) + len(gate._normal) < len(threads) and time.monotonic() < deadline:
            time.sleep(0.01)
    release.set()
    for t in (t0, *threads):
        t.join(10)
    # the feed jumps the queue; the analyst's second slice queues behind the provider, not before it
    assert order == ["first", "feeds0", "analyst0", "provider0", "analyst1"]


def test_a_thread_may_hold_its_turn_again_inside_it_and_keeps_it_until_the_outer_hold_ends() -> None:
    gate = WriterGate()
    got = threading.Event()

    def other() -> None:
        with gate.hold(urgent=True):
            got.set()

    t = threading.Thread(target=other)
    with gate.hold(urgent=True):
        with gate.hold(urgent=False):  # nested: no deadlock, no second queueing
            pass
        t.start()
        deadline = time.monotonic() + 10  # a hang guard, not a timing assertion
        while not gate._urgent and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(gate._urgent) and not got.is_set()  # the nested hold's end did not release the turn
    t.join(10)
    assert got.is_set()
