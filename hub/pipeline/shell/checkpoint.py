"""The checkpoint: the one order in which a batch of consumed records becomes durable.

Each agent of the worker (sequence; admit for the Kafka-native agencies' topics) decides a whole
batch of inputs first, then calls :meth:`Checkpoint.commit` once. It runs these steps, strictly in
this order:

1. **Outputs handed to the producer.** Every record the batch produced (feed items, audit batches,
   receipts, dead letters, the record of what was accepted on hub.pipeline.validated, an admitted
   record forwarded onto hub.intake) was queued with :meth:`Checkpoint.emit`; the
   checkpoint submits them as one record batch per topic-partition (:class:`~hub.pipeline.shell.output.Output`).
2. **Outputs acknowledged.** It awaits those record batches (``acks=all``).
3. **State written.** The batch's state writes (:meth:`Checkpoint.write`, coalesced to one value per
   key: the last) are produced to the changelog topic of the faust table of the same name
   (partition 0, faust's own JSON serializer) and awaited; then they are applied to the tables' local
   stores through faust's recovery path (``Table.apply_changelog_batch``, which also records the
   RocksDB store's persisted offset). The changelog therefore never runs ahead of the outputs it
   stands for, and every changelog record the worker relies on was acknowledged by the broker.
4. **Inputs acknowledged to faust** (``stream.ack`` for every event of the batch).
5. **Offsets committed** by faust at its next commit (every ``broker_commit_interval``): faust
   commits only acknowledged offsets, and only up to the first gap, so nothing of a batch is
   committed before step 4. (faust flushes its own producer first; it carries nothing of the hub's:
   the agents and the checkpoint produce through their own producer.)

A failure in step 2 or 3 ends the worker at once through :meth:`Checkpoint.fail` — the one place
the worker exits on purpose — with :data:`EXIT_CODE`, before step 4: nothing of the batch is
committed, and the restarted worker (``hub up``, compose and systemd restart it) processes the batch
again from the last committed offset. The repeats are harmless because every id downstream is
deterministic (feed ``item_id``, audit ``event_id``, ``receipt_id``, ``dead_letter_id``) and every
consumer is idempotent. Exiting instead of retrying is deliberate: the in-memory state already
holds the batch's writes, so only a rebuild from the tables (a restart) is a clean retry.

A crash between steps 3 and 5 re-processes a batch whose state was written: its reports are then
duplicates (an extra DUPLICATE audit event, never a second feed item).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import structlog
from faust.serializers import codecs

from hub.domain.wire import Record
from hub.pipeline.shell.output import Output

log = structlog.get_logger("hub.pipeline.shell.checkpoint")

EXIT_CODE = 70  # EX_SOFTWARE: a delivery or a changelog write failed; restart the worker
Writes = Mapping[str, Mapping[str, Any]]  # table name -> {key: JSON-able value, or None to delete}


@dataclass(frozen=True)
class _ChangelogMessage:
    """The part of a consumed faust Message that the stores' ``apply_changelog_batch`` reads."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes | None

    @property
    def tp(self) -> Any:
        from faust.types import TP

        return TP(self.topic, self.partition)


@dataclass(frozen=True)
class _ChangelogEvent:
    """A changelog record as faust's recovery hands it to a store: decoded key/value + message."""

    key: Any
    value: Any
    message: _ChangelogMessage


def _exit(code: int) -> NoReturn:
    os._exit(code)


class Checkpoint:
    """Outputs, state and acknowledgements of one agent, in the order of the module docstring.

    ``tables``: faust tables by name (the names of ``State.TABLES``); writes to any other name are
    refused. ``exit`` is ``os._exit`` in the worker; tests pass a fake."""

    def __init__(self, output: Output, tables: Mapping[str, Any] | None = None,
                 exit: Callable[[int], Any] = _exit) -> None:
        self.output = output
        self.tables = dict(tables or {})
        self._exit = exit
        self._writes: dict[str, dict[str, Any]] = {}
        #: wall-clock moments (s) of the last :meth:`commit`: outputs submitted / acknowledged, changelog
        #: acknowledged, inputs acknowledged (the worker's ``checkpoint`` debug line; where a batch's time goes)
        self.moments: dict[str, float] = {}

    # -- while the batch is decided ------------------------------------------------------------
    def emit(self, record: Record) -> None:
        """Queue one output record (step 1 happens at :meth:`commit`)."""
        self.output.add(record)

    def emit_all(self, records: Iterable[Record]) -> None:
        self.output.extend(records)

    def write(self, writes: Writes) -> None:
        """Stage state writes; a later write of the same key in this batch replaces an earlier one."""
        for table, values in writes.items():
            if table not in self.tables:
                raise KeyError(f"no table {table!r} (tables: {sorted(self.tables)})")
            if values:
                self._writes.setdefault(table, {}).update(values)

    @property
    def staged(self) -> dict[str, dict[str, Any]]:
        return self._writes

    # -- once per batch ------------------------------------------------------------------------
    async def commit(self, events: Sequence[Any], ack: Callable[[Any], Awaitable[Any]]) -> None:
        """Steps 1-4 for the batch ``events`` (``ack`` is the stream's ``ack``)."""
        m = self.moments = {}
        try:
            delivery = await self.output.send()  # 1
            m["sent"] = time.time()
            await delivery.wait()  # 2
        except Exception as exc:
            self.fail("outputs were not delivered", exc)
        m["outputs"] = time.time()
        writes, self._writes = self._writes, {}
        if writes:
            await self._write_state(writes)  # 3
        m["state"] = time.time()
        for event in events:  # 4
            await ack(event)
        m["acked"] = time.time()

    async def _write_state(self, writes: dict[str, dict[str, Any]]) -> None:
        staged: list[tuple[str, str, Any, Any, bytes, bytes | None]] = []
        for name, values in writes.items():
            table = self.tables[name]
            topic = table.changelog_topic.get_topic_name()
            for key, value in values.items():
                kb = codecs.dumps(table.key_serializer, key)
                vb = None if value is None else codecs.dumps(table.value_serializer, value)
                self.output.add(Record(topic, kb, vb), partition=0)  # type: ignore[arg-type]
                staged.append((name, topic, key, value, kb, vb))
        try:
            delivery = await self.output.send()
            base_offsets = await delivery.wait()
        except Exception as exc:
            self.fail("state (table changelog) was not written", exc)
        # the records of one topic-partition went out in the order they were added, batch after batch
        offsets: dict[str, Iterator[int]] = {}
        for sent, base in zip(delivery.batches, base_offsets, strict=True):
            offsets[sent.topic] = itertools.chain(offsets.get(sent.topic, iter(())), range(base, base + sent.count))
        events: dict[str, list[_ChangelogEvent]] = {}
        for name, topic, key, value, kb, vb in staged:
            message = _ChangelogMessage(topic, 0, next(offsets[topic]), kb, vb)
            events.setdefault(name, []).append(_ChangelogEvent(key, value, message))
        for name, batch in events.items():
            self.tables[name].apply_changelog_batch(batch)

    def fail(self, what: str, exc: BaseException) -> NoReturn:
        """End the worker: nothing of the current batch may be committed (see the module docstring)."""
        log.critical(f"{what}; exiting before offsets are committed", error=repr(exc), exit_code=EXIT_CODE)
        self._exit(EXIT_CODE)
        raise SystemExit(EXIT_CODE)  # only reached with a fake exit (tests)
