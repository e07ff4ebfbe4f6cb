"""In-memory party-name index for entity links (SPEC §6). Pure: no Kafka, no faust.

:class:`NameIndex` is the per-view index decide() uses (SPEC §5): :class:`NameRow` rows, every
cap a "newest k of what this view may see", rebuilt from the ``reports`` records by
hub/pipeline/core/state.py.
"""

from __future__ import annotations

from typing import NamedTuple

from hub.pipeline.core.enrich import block_keys

# --------------------------------------------------------------------------- per-view name index
# Entity links per recipient (SPEC §5 non-interference): every view (a recipient state, or the
# reporting state) links only to party names of report versions it may see, and every cap is a
# "newest k of what THIS view may see" -- hidden reports never push a visible one out.
MAX_LINKED_PARTIES = 20  # parties of one report that are linked and indexed (the first ones, in order)
MAX_NAME_CANDIDATES = 50  # candidate names scored per party per view (newest in that view)
MAX_LINKS = 10  # entity links per item (most similar, then most recent first)
HOT_ROWS = 16  # a name with more rows than this keeps per-view lists (look-ups do not scan)
KEPT_ROWS = MAX_LINKS + 1  # rows kept per name per view (one more: a report never links to itself)


def bits_of(mask: int) -> list[int]:
    """The set bits of ``mask`` as single-bit ints, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low)
        mask ^= low
    return out


class NameRow(NamedTuple):
    """At ``seq`` the party name ``name`` of ``report_id`` became visible to ``views`` (a bitmask)."""

    seq: int
    report_id: str
    views: int
    name: str


class NameRows:
    """The reports carrying one exact party name: :class:`NameRow` rows in seq order. Each view
    keeps its newest KEPT_ROWS rows; older ones can never be among its links again (rows are only
    appended), so dropping them is exact."""

    __slots__ = ("by_view", "kept", "rows")

    def __init__(self) -> None:
        self.rows: list[NameRow] = []
        self.by_view: dict[int, list[NameRow]] | None = None
        self.kept = 0

    def add(self, seq: int, report_id: str, views: int, name: str) -> None:
        row = NameRow(seq, report_id, views, name)
        if self.by_view is None:
            self.rows.append(row)
            if len(self.rows) > max(HOT_ROWS, 2 * self.kept):
                self._compact()
            return
        for b in bits_of(views):
            lst = self.by_view.setdefault(b, [])
            lst.append(row)
            if len(lst) > 2 * KEPT_ROWS:
                del lst[:-KEPT_ROWS]

    def _compact(self) -> None:
        seen: dict[int, int] = {}
        kept = []
        for row in reversed(self.rows):
            keep = 0
            for b in bits_of(row.views):
                n = seen.get(b, 0)
                if n < KEPT_ROWS:
                    keep |= b
                    seen[b] = n + 1
            if keep:
                kept.append(row._replace(views=keep))
        kept.reverse()
        self.rows = kept
        self.kept = len(kept)
        if len(kept) > HOT_ROWS:  # hot name: per-view lists from now on
            self.by_view = {}
            for row in kept:
                for b in bits_of(row.views):
                    self.by_view.setdefault(b, []).append(row)
            self.rows = []

    def newest(self, view: int) -> list[NameRow]:
        """The view's newest KEPT_ROWS rows, newest last."""
        if self.by_view is not None:
            return self.by_view.get(view, [])[-KEPT_ROWS:]
        out = [r for r in self.rows if r.views & view]
        return out[-KEPT_ROWS:]

    def recency(self, view: int) -> int:
        """Seq of the view's newest row (-1: none)."""
        if self.by_view is not None:
            lst = self.by_view.get(view)
            return lst[-1].seq if lst else -1
        for r in reversed(self.rows):
            if r.views & view:
                return r.seq
        return -1

    def views(self) -> int:
        """Every view with a row."""
        if self.by_view is not None:
            return sum(self.by_view)
        m = 0
        for r in self.rows:
            m |= r.views
        return m


class NameIndex:
    """Party names per view: exact name -> :class:`NameRows`, and the 3-letter block keys of
    :func:`hub.pipeline.core.enrich.block_keys` -> names. A block keeps, per view, at least the
    MAX_NAME_CANDIDATES names that view saw most recently (a name that fell out of every view's
    newest ones returns only with a new row, which re-adds it: exact)."""

    def __init__(self) -> None:
        self.names: dict[str, NameRows] = {}
        self.blocks: dict[str, dict[str, None]] = {}
        self.block_kept: dict[str, int] = {}

    def add(self, name: str, report_id: str, seq: int, views: int) -> None:
        rows = self.names.get(name)
        if rows is None:
            rows = self.names[name] = NameRows()
        rows.add(seq, report_id, views, name)
        for b in block_keys(name):
            blk = self.blocks.setdefault(b, {})
            blk.pop(name, None)
            blk[name] = None
            if len(blk) > max(2 * MAX_NAME_CANDIDATES, 2 * self.block_kept.get(b, 0)):
                self._compact_block(b)

    def _compact_block(self, b: str) -> None:
        blk = self.blocks[b]
        keep: set[str] = set()
        allviews = 0
        for n in blk:
            allviews |= self.names[n].views()
        for v in bits_of(allviews):
            ranked = sorted(((self.names[n].recency(v), n) for n in blk), reverse=True)
            keep.update(n for r, n in ranked[:MAX_NAME_CANDIDATES] if r >= 0)
        self.blocks[b] = {n: None for n in blk if n in keep}
        self.block_kept[b] = len(self.blocks[b])

    def candidates(self, name: str, views: int) -> dict[int, list[str]] | list[str]:
        """Candidate names for a party called ``name``: a list shared by every view when the
        party's blocks hold at most MAX_NAME_CANDIDATES names in all, else per view (bit -> the
        view's newest MAX_NAME_CANDIDATES names)."""
        pool: dict[str, None] = {}
        for b in block_keys(name):
            pool.update(self.blocks.get(b, {}))
        if len(pool) <= MAX_NAME_CANDIDATES:
            return list(pool)
        out: dict[int, list[str]] = {}
        for v in bits_of(views):
            ranked = sorted(((self.names[n].recency(v), n) for n in pool), reverse=True)
            out[v] = [n for r, n in ranked[:MAX_NAME_CANDIDATES] if r >= 0]
        return out
