"""In-memory party-name index for entity links (SPEC §6). Pure: no Kafka, no faust.

The durable state is one small record per report (``report_id`` -> ``[[name, seq], ...]``, seq =
position of the version on the sequenced topic that last carried the name), written once per
routed version. The block index (3-letter block key -> newest ``PARTY_BLOCK_CAP`` (name, report_id)
pairs) lives in memory and is rebuilt from those records after a restart or rebalance. Replaying
the records in ``seq`` order gives exactly the index that adding them one by one built, so entity
links do not depend on whether the worker restarted.

Before this, the block lists themselves were the table values: every report rewrote (JSON-encoded,
changelogged) up to 300 names per block key of each of its parties.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hub.pipeline.enrich import block_keys

PARTY_BLOCK_CAP = 300  # party names kept per block key (newest)


def record_names(record: Sequence[Sequence[Any]] | None, names: Iterable[str], seq: int) -> list[list[Any]]:
    """A report's record after a version with party ``names`` at position ``seq``: each name moves
    to the end with the new seq; names of earlier versions stay (they were indexed then)."""
    out = [list(x) for x in record or []]
    for name in names:
        out = [x for x in out if x[0] != name]
        out.append([name, seq])
    return out


class PartyIndex:
    def __init__(self, cap: int = PARTY_BLOCK_CAP) -> None:
        self.cap = cap
        self.blocks: dict[str, OrderedDict[tuple[str, str], None]] = {}

    def add(self, report_id: str, name: str) -> None:
        for b in block_keys(name):
            entries = self.blocks.setdefault(b, OrderedDict())
            entries.pop((name, report_id), None)
            entries[(name, report_id)] = None
            if len(entries) > self.cap:
                entries.popitem(last=False)

    def candidates(self, names: Iterable[str]) -> list[dict[str, str]]:
        """Earlier party names sharing a block key with any of ``names``: [{name, report_id}]."""
        seen: dict[tuple[str, str], None] = {}
        for b in sorted({b for n in names for b in block_keys(n)}):
            for key in self.blocks.get(b, ()):
                seen[key] = None
        return [{"name": n, "report_id": r} for n, r in seen]

    @classmethod
    def rebuild(cls, records: Iterable[tuple[str, Sequence[Sequence[Any]] | None]],
                cap: int = PARTY_BLOCK_CAP) -> PartyIndex:
        """The index from ``(report_id, record)`` pairs in any order."""
        flat = [(int(seq), i, rid, name) for rid, rec in records for i, (name, seq) in enumerate(rec or [])]
        flat.sort(key=lambda x: (x[0], x[1]))
        index = cls(cap)
        for _seq, _i, rid, name in flat:
            index.add(rid, name)
        return index


def from_mapping(records: Mapping[str, Sequence[Sequence[Any]]], cap: int = PARTY_BLOCK_CAP) -> PartyIndex:
    return PartyIndex.rebuild(records.items(), cap)
