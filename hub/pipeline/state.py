"""The process stage's state, in memory: what :func:`hub.pipeline.decide.decide` reads. Pure: no I/O.

The persisted form is a set of tables (``TABLES``), each a map of string keys to JSON-able values.
A decision never changes the state: it returns :data:`Writes` (``{table: {key: value | None}}``,
None deletes), and the caller applies them (:meth:`State.apply`) right after the decision, so the
next input sees them, and persists the same writes to its durable tables (the faust tables of the
same names) once the decision's outputs were acknowledged. After a restart or a rebalance the
caller rebuilds the state from those tables (:meth:`State.rebuild`); derived in-memory indexes (the
party-name blocks) are rebuilt from the table rows and equal the ones built live.

Tables:

| table              | key                 | value                                                         |
|--------------------|---------------------|---------------------------------------------------------------|
| ``reports``        | report_id           | dedup state (``dedup.accept``): versions, recipients, incident |
| ``correlation-keys`` | typed key ``C:…`` | index entries of the reports seen with that key (correlate.py) |
| ``incidents``      | incident_id         | ``{reports: [ref…] (newest 200), holders: [state…]}``           |
| ``party-entries``  | report_id           | ``[[party name, seq], …]`` (parties.py)                         |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from hub.pipeline.parties import PartyIndex

REPORTS = "reports"
KEYS = "correlation-keys"
INCIDENTS = "incidents"
PARTIES = "party-entries"
TABLES: tuple[str, ...] = (REPORTS, KEYS, INCIDENTS, PARTIES)

Writes = dict[str, dict[str, Any]]
"""{table: {key: JSON-able value, or None to delete}}."""


class StateView(Protocol):
    """The read-only view of the state that :func:`hub.pipeline.decide.decide` uses."""

    def get(self, table: str, key: str) -> Any:
        """The value of ``key`` in ``table`` (None when absent)."""

    def party_candidates(self, names: Iterable[str]) -> list[dict[str, str]]:
        """Earlier party names sharing a block key with any of ``names``: [{name, report_id}]."""

    def items(self, table: str) -> Iterable[tuple[str, Any]]:
        """Every (key, value) of ``table``."""


class State:
    """The in-memory state (implements :class:`StateView`)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {t: {} for t in TABLES}
        self.parties = PartyIndex()

    # -- StateView
    def get(self, table: str, key: str) -> Any:
        return self.tables[table].get(key)

    def party_candidates(self, names: Iterable[str]) -> list[dict[str, str]]:
        return self.parties.candidates(names)

    def items(self, table: str) -> Iterable[tuple[str, Any]]:
        return list(self.tables[table].items())

    # -- changes
    def apply(self, writes: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply a decision's writes (in table order, then key order as given)."""
        for table, changes in writes.items():
            data = self.tables[table]
            for key, value in changes.items():
                if value is None:
                    data.pop(key, None)
                    continue
                data[key] = value
                if table == PARTIES:
                    self._index_names(key, value)

    def _index_names(self, report_id: str, record: Any) -> None:
        """The names this write added: those carrying the record's newest seq (record_names moves a
        version's names to the end with its seq), in record order."""
        if not record:
            return
        newest = max(int(seq) for _name, seq in record)
        for name, seq in record:
            if int(seq) == newest:
                self.parties.add(report_id, name)

    @classmethod
    def rebuild(cls, tables: Mapping[str, Iterable[tuple[str, Any]]]) -> State:
        """The state from the rows of its tables (any order); missing tables are empty."""
        unknown = set(tables) - set(TABLES)
        if unknown:
            raise ValueError(f"unknown state tables: {', '.join(sorted(unknown))}")
        st = cls()
        for table, rows in tables.items():
            data = st.tables[table]
            for key, value in rows:
                if value is not None:
                    data[key] = value
        st.parties = PartyIndex.rebuild(st.tables[PARTIES].items())
        return st

    def sizes(self) -> dict[str, int]:
        """Rows per table (for logs and tests)."""
        return {t: len(d) for t, d in self.tables.items()}
