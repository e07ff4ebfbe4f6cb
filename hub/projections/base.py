"""The projection contract and the pure decoding of consumed records.

A :class:`Projection` turns decoded records (:class:`Sorted`) into rows of its own tables. It is
idempotent (a replayed batch changes nothing: every row is keyed by a deterministic id) and
rebuildable (:meth:`Projection.reset` drops its tables; replaying its topics from the beginning
writes them again). :meth:`Projection.apply` is ONE transaction of its own, with the projection's
progress row (:mod:`hub.projections.progress`) written in it; nothing else shares it.

:func:`classify` is the pure core (records → feed item rows, audit events, receipts, dead letters).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hub.domain import wire
from hub.domain.codec import AUDIT_BATCH, AUDIT_EVENT, FEED_ITEM, RECEIPT, DecodeError, codec
from hub.domain.feedjson import to_row
from hub.domain.feedrow import feed_rows
from hub.platform.clock import now_ms
from hub.platform.db import Database
from hub.platform.kafka.topics import AUDIT, FEED_PREFIX, RECEIPTS, feed, recipient_of
from hub.platform.settings import Settings


@dataclass
class Sorted:
    """One consumed batch, decoded. Feed items come either as decoded FeedItems (``feed_items``: what
    tests and tools hand in) or, from :func:`classify`, as their ``feed_items`` rows (``feed_rows``:
    :func:`hub.domain.feedjson.to_row`, the item's JSON built once, right after its decoding, and the
    decoded item dropped); :meth:`feed` gives the rows of both."""

    feed_items: list[dict[str, Any]] = field(default_factory=list)
    audit_events: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    feed_rows: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.feed_items) + len(self.feed_rows) + len(self.audit_events) + len(self.receipts)

    def extend(self, other: Sorted) -> None:
        """Append another decoded batch (the next records) to this one."""
        for f in ("feed_items", "audit_events", "receipts", "dead_letters", "feed_rows"):
            getattr(self, f).extend(getattr(other, f))

    def feed(self) -> list[dict[str, Any]]:
        """The feed items as rows of ``feed_items`` (without ``seq`` and ``stored_at``), in order."""
        if not self.feed_items:
            return self.feed_rows
        return [*self.feed_rows, *(to_row(i) for i in self.feed_items)]


def dead_letter(record: Any, reason: str) -> dict[str, Any]:
    return wire.dead_letter(record, stage="sink", reason=reason, now_ms=now_ms())


def classify(records: Iterable[Any]) -> Sorted:
    """Decode consumed records (objects with topic/partition/offset/key/value/headers)."""
    out = Sorted()
    c = codec()
    rows = feed_rows(c)
    for rec in records:
        try:
            if rec.topic == AUDIT:
                name, value = c.decode_named(rec.value)
                if name == AUDIT_BATCH:
                    out.audit_events.extend(value["events"])
                elif name == AUDIT_EVENT:
                    out.audit_events.append(value)
                else:
                    raise DecodeError(DecodeError.PROBLEM_TYPE, f"{name.rsplit('.', 1)[-1]} on {AUDIT}")
            elif rec.topic == RECEIPTS:
                out.receipts.append(c.decode(rec.value, expect=RECEIPT))
            elif rec.topic.startswith(FEED_PREFIX):
                # the row (with the item's JSON) at once, the parts a report's items share decoded
                # once (hub.domain.feedrow); else decoded here and the item dropped while still in
                # the CPU's cache. The projections that read the feed never build the JSON again.
                row = rows.row(rec.value)
                if row is None:
                    row = to_row(c.decode(rec.value, expect=FEED_ITEM))
                if row["recipient"] != recipient_of(rec.topic):
                    raise DecodeError("wrong_recipient",
                                      f"recipient {row['recipient']} on topic {rec.topic}")
                out.feed_rows.append(row)
        except DecodeError as exc:
            out.dead_letters.append(dead_letter(rec, f"{exc.problem}: {exc}"))
        except Exception as exc:  # nothing is lost: anything undecodable goes to the DLQ
            out.dead_letters.append(dead_letter(rec, f"undecodable: {type(exc).__name__}: {exc}"))
    return out


class WriterGate:
    """SQLite has one writer at a time. Projections of one process take turns through this gate
    instead of through SQLite's busy handler (which sleeps and retries, unfairly: a writer can wait
    seconds behind a busy neighbour). Turns are first come, first served, except that a waiting
    ``urgent`` writer (the officers' feed) goes before the others; a projection that writes slice
    after slice queues again behind the others for each slice, so none starves.

    Decoding takes turns through it too (:meth:`Projection.decode`, slice by slice): the projections
    of one process share one interpreter lock, and a neighbour decoding 500 records beside the feed
    made the feed's own decoding and commit wait for the CPU (measured: ``hub bench --only sse``'s
    step breakdown). One projection's CPU work at a time, the feed's first. A thread holding its
    turn may hold it again inside (the feed decodes and writes a batch in one turn).

    Gates are per database file: on SQLite the feed store has a file of its own
    (:meth:`hub.platform.db.Database.feed_database`), so the feed projection's gate is its own and
    it never waits for a neighbour's turn; ``urgent`` orders the writers of one file."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._owner: int | None = None  # the thread holding the turn (a nested hold is part of it)
        self._urgent: deque[object] = deque()
        self._normal: deque[object] = deque()

    def _next(self) -> object | None:
        return self._urgent[0] if self._urgent else self._normal[0] if self._normal else None

    @contextmanager
    def hold(self, urgent: bool) -> Iterator[None]:
        if self._owner == threading.get_ident():  # already this thread's turn
            yield
            return
        me = object()
        queue = self._urgent if urgent else self._normal
        with self._cond:
            queue.append(me)
            try:
                while self._busy or self._next() is not me:
                    self._cond.wait()
            except BaseException:
                queue.remove(me)
                self._cond.notify_all()
                raise
            queue.popleft()
            self._busy = True
            self._owner = threading.get_ident()
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._owner = None
                self._cond.notify_all()


_GATES: dict[str, WriterGate] = {}
_GATES_LOCK = threading.Lock()


def writer_gate(db: Database) -> WriterGate | None:
    """The process's gate for a SQLite file (None for PostgreSQL: its writers lock rows, not the file)."""
    if db.dialect != "sqlite":
        return None
    with _GATES_LOCK:
        return _GATES.setdefault(db.path, WriterGate())


class Projection:
    """One read model. Subclasses set :attr:`name`, :attr:`inputs`, :attr:`dead_letters_of`, and
    implement :meth:`write` (rows of one batch, inside the transaction :meth:`apply` opened) and
    :meth:`tables` (what :meth:`reset` drops)."""

    name: ClassVar[str]
    #: which topics it reads: any of "feed", "audit", "receipts"
    inputs: ClassVar[frozenset[str]]
    #: the inputs whose undecodable records THIS projection sends to the DLQ (each topic has one owner,
    #: so a bad record is dead-lettered once, not once per projection reading it)
    dead_letters_of: ClassVar[frozenset[str]] = frozenset()
    #: records per transaction on SQLite (one writer at a time: a long transaction of a slow
    #: projection would hold the feed store's commit back); PostgreSQL writes the whole batch at once
    sqlite_slice: ClassVar[int] = 500
    #: records decoded per turn of the writer gate on SQLite (:meth:`decode`)
    decode_slice: ClassVar[int] = 50
    #: first in line for the process's SQLite writer gate (the officers' feed)
    urgent: ClassVar[bool] = False

    def __init__(self, db: Database, settings: Settings) -> None:
        from hub.projections import progress

        self.db = db
        self.settings = settings
        #: wall-clock moments (epoch seconds) of the last transaction: asked for the writer gate, held
        #: it, committed (the sink's ``projection batch`` debug line; where a batch's time goes)
        self.timing: dict[str, float] = {}
        progress.migrate(db)

    # -- topics ---------------------------------------------------------------------------------
    def topics(self) -> list[str]:
        out: list[str] = []
        if "audit" in self.inputs:
            out.append(AUDIT)
        if "receipts" in self.inputs:
            out.append(RECEIPTS)
        if "feed" in self.inputs:
            out += [feed(r) for r in self.settings.recipients]
        return out

    def owns_dead_letter(self, topic: str) -> bool:
        kind = "audit" if topic == AUDIT else "receipts" if topic == RECEIPTS else "feed"
        return kind in self.dead_letters_of

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, records: list[Any]) -> Sorted:
        """:func:`classify` the consumed records (blocking); on SQLite in slices of :attr:`decode_slice`
        records, each a turn of the process's :class:`WriterGate` (see there)."""
        gate = writer_gate(self.db)
        if gate is None:
            return classify(records)
        out = Sorted()
        for i in range(0, len(records), self.decode_slice):
            with gate.hold(urgent=self.urgent):
                out.extend(classify(records[i:i + self.decode_slice]))
        return out

    def turn(self) -> Any:
        """The urgent projection's (the feed's) one turn of the writer gate for a whole batch -- its
        decoding and its transactions -- so it queues once, not once per step; others: no hold here
        (they take a turn per slice)."""
        gate = writer_gate(self.db)
        return gate.hold(urgent=True) if gate is not None and self.urgent else nullcontext()

    # -- writing --------------------------------------------------------------------------------
    def write(self, batch: Sorted) -> int:
        """Write one batch's rows (blocking; the caller holds the transaction). Returns rows added."""
        raise NotImplementedError

    def apply(self, batch: Sorted, *, last_record_ms: int | None = None, backlog: int | None = None) -> int:
        """ONE transaction: the batch's rows and the projection's progress row. Idempotent."""
        from hub.projections import progress

        gate = writer_gate(self.db)
        asked = time.time()
        with gate.hold(urgent=self.urgent) if gate else nullcontext():
            held = time.time()
            with self.db.transaction():
                added = self.write(batch)
                progress.record(self.db, self.name, records=len(batch), added=added,
                                last_record_ms=last_record_ms, backlog=backlog)
            committed = time.time()
            # still this projection's turn: the wake-up leaves before a neighbour takes the CPU
            self.after_commit()
        self.timing = {"gate_asked": asked, "gate_held": held, "committed": committed}
        return added

    def after_commit(self) -> None:
        """Called by :meth:`apply` after each committed transaction, still holding the writer gate (the
        feed projection wakes the gateway's streams)."""

    def trace(self) -> dict[str, Any]:
        """What the sink's ``projection batch`` debug line tells of the last transaction (its moments)."""
        return {f"{k}_ms": round(v * 1000, 1) for k, v in self.timing.items()}

    # -- rebuilding -----------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """The tables this projection writes (dropped by :meth:`reset`), in an order that drops cleanly."""
        raise NotImplementedError

    def reset(self) -> None:
        """Drop the projection's tables and its progress row, then create them empty again."""
        from hub.projections import progress

        with self.db.transaction():
            for t in self.tables():
                self.db.execute(f"DROP TABLE IF EXISTS {t}")
            progress.forget(self.db, self.name)
        self.recreate()

    def recreate(self) -> None:
        """Create the (dropped) tables again: the store's own migration."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the projection holds (connections of its notifier)."""
