"""The checkpoint's order (hub/pipeline/shell/checkpoint.py) with fakes: outputs → acknowledged → state
(changelog acknowledged, then the local store) → inputs acknowledged; a failed delivery or changelog
write ends the worker before anything of the batch is acknowledged."""

from __future__ import annotations

import json

import pytest

from hub.domain.wire import Record
from hub.pipeline.shell.checkpoint import EXIT_CODE, Checkpoint
from hub.pipeline.shell.output import BatchProducer, Output
from tests.conftest import hub_settings
from tests.pipeline.fakes import FakeProducer, FakeTable

FEED = "hub.feed.KZ"


def setup(**producer: object) -> tuple[Checkpoint, FakeProducer, dict[str, FakeTable], list[str], list[int]]:
    log: list[str] = []
    exits: list[int] = []
    fake = FakeProducer(log, partitions={FEED: 2}, **producer)  # type: ignore[arg-type]
    tables = {n: FakeTable(n, log) for n in ("reports", "incidents")}

    def exit_(code: int) -> None:
        log.append(f"exit {code}")
        exits.append(code)

    cp = Checkpoint(Output(BatchProducer(hub_settings(), client=fake)), tables, exit=exit_)  # type: ignore[arg-type]
    return cp, fake, tables, log, exits


def acker(log: list[str]):
    async def ack(event: object) -> None:
        log.append(f"ack {event}")
    return ack


async def test_order_outputs_then_state_then_acks() -> None:
    cp, fake, tables, log, exits = setup()
    cp.emit(Record(FEED, b"I-1", b"item"))
    cp.emit(Record("hub.audit", b"R-1", b"batch"))
    cp.write({"reports": {"R-1": {"v": 1}}, "incidents": {"I-1": {"reports": ["R-1"]}}})
    await cp.commit(["e1", "e2"], acker(log))
    assert exits == []
    feed_p = fake.sent[0][1]
    assert sorted(log[:4]) == sorted([f"send {FEED}/{feed_p} x1", "send hub.audit/0 x1", f"acked {FEED}/{feed_p}",
                                      "acked hub.audit/0"])
    i = log.index
    # every output acknowledged before the first changelog record is sent
    assert max(i(x) for x in log if x.startswith("acked hub.feed") or x.startswith("acked hub.audit")) < min(
        i(x) for x in log if "changelog" in x)
    # changelog acknowledged before it is applied to the local stores, and both before any ack
    assert max(i(x) for x in log if x.startswith("acked") and "changelog" in x) < min(
        i(x) for x in log if x.startswith("apply"))
    assert max(i(x) for x in log if x.startswith("apply")) < i("ack e1") < i("ack e2")
    assert tables["reports"].data == {"R-1": {"v": 1}} and tables["incidents"].data == {"I-1": {"reports": ["R-1"]}}


async def test_a_failed_output_ends_the_worker_before_state_and_acks() -> None:
    cp, _fake, tables, log, exits = setup(fail_topics={FEED})
    cp.emit(Record(FEED, b"I-1", b"item"))
    cp.write({"reports": {"R-1": {"v": 1}}})
    with pytest.raises(SystemExit):
        await cp.commit(["e1"], acker(log))
    assert exits == [EXIT_CODE]
    assert not any("changelog" in x for x in log), log
    assert not any(x.startswith(("apply", "ack ")) for x in log), log
    assert tables["reports"].data == {}


async def test_a_failed_changelog_write_ends_the_worker_before_the_store_and_acks() -> None:
    """faust's own table path would log and carry on (Topic._on_published sets the exception on a
    FutureMessage nobody awaits); the checkpoint awaits every changelog record."""
    cp, _fake, _tables, log, exits = setup(fail_topics={"hub-pipeline-reports-changelog"})
    cp.emit(Record(FEED, b"I-1", b"item"))
    cp.write({"reports": {"R-1": {"v": 1}}, "incidents": {"I-1": {}}})
    with pytest.raises(SystemExit):
        await cp.commit(["e1"], acker(log))
    assert exits == [EXIT_CODE]
    assert not any(x.startswith(("apply", "ack ")) for x in log), log


async def test_outputs_not_yet_acknowledged_hold_everything_back() -> None:
    import asyncio

    cp, fake, _tables, log, exits = setup(auto=False)
    cp.emit(Record(FEED, b"I-1", b"item"))
    cp.write({"reports": {"R-1": {"v": 1}}})
    task = asyncio.create_task(cp.commit(["e1"], acker(log)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert [x for x in log if not x.startswith("send")] == []  # nothing but the hand-over happened
    fake.resolve(0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert any("changelog" in x for x in log) and "ack e1" not in log
    fake.resolve(1)
    await task
    assert log[-1] == "ack e1" and exits == []


async def test_state_is_written_once_per_key_per_batch() -> None:
    cp, fake, tables, log, _exits = setup()
    cp.write({"reports": {"R-1": {"v": 1}, "R-2": {"v": 1}}})
    cp.write({"reports": {"R-1": {"v": 2}}})
    cp.write({"incidents": {"I-9": {"x": 1}}})
    cp.write({"incidents": {"I-9": None}})  # deleted later in the same batch: a tombstone
    await cp.commit(["e"], acker(log))
    by_topic = {t: b for t, _p, b, _f in fake.sent}
    reports = by_topic["hub-pipeline-reports-changelog"].records
    assert [(json.loads(k), json.loads(v)) for k, v, _h in reports] == [("R-1", {"v": 2}), ("R-2", {"v": 1})]
    assert [(k, v) for k, v, _h in by_topic["hub-pipeline-incidents-changelog"].records] == [(b'"I-9"', None)]
    assert all(p == 0 for t, p, _b, _f in fake.sent if "changelog" in t)
    # the local store got the same records at the offsets the broker gave them
    assert [(e.key, e.value, e.message.offset) for e in tables["reports"].applied] == [
        ("R-1", {"v": 2}, 0), ("R-2", {"v": 1}, 1)]
    assert tables["incidents"].data == {}
    cp.write({"reports": {"R-3": {"v": 1}}})
    await cp.commit(["f"], acker(log))
    assert [e.message.offset for e in tables["reports"].applied][-1] == 2  # continues on the changelog


async def test_a_batch_without_writes_sends_no_changelog() -> None:
    cp, fake, _tables, log, _exits = setup()
    cp.emit(Record("hub.dlq", b"D-1", b"dl"))
    await cp.commit(["e"], acker(log))
    assert [t for t, *_ in fake.sent] == ["hub.dlq"] and log[-1] == "ack e"


def test_writes_to_unknown_tables_are_refused() -> None:
    cp, *_ = setup()
    with pytest.raises(KeyError):
        cp.write({"nope": {"k": 1}})
