"""The process stage's state, in memory: what :func:`hub.pipeline.core.decide.decide` reads. Pure: no I/O.

**Persisted form.** One table, ``reports`` (``TABLES``): report_id -> a small JSON record of what
the hub knows about the report and *who may see which version* (SPEC §5):

```
{"a": agency, "s": reporting state,
 "v": [[version, kind, event_time, [correlation keys], [party names], seq, t, "CARICC,UZ"], ...],
 "g": [[seq, t, version, "GE,KG"], ...],              # shares (§13): a version made visible later
 "i": [[opener report_id | null, "CARICC,KZ"], ...]}  # the incident per view (null: its own)
```

In memory the items of ``v``, ``g`` and ``i`` are the named records :class:`Version`,
:class:`Grant` and :class:`IncidentGroup` (fields in the persisted order; ``t`` is
``processed_at``, the view lists are masks). ``v`` holds every accepted version (ascending) with
the sequence number (the sequencer position: the hub.intake offset; older rows: the hub.pipeline.validated offset) and processing time ``t`` of its routing
and its recipients; the viewers
of a version are its recipients, the reporting state, and the states it was shared with (``g``).
``i`` names, for each view (a state or the centre), the report that opened the incident this
report belongs to *in that view*; the incident id is the keyed hash of that report id
(:func:`hub.pipeline.core.decide.incident_id`), so no id is stored.

A decision never changes the state: it returns :data:`Writes` (``{table: {key: value | None}}``),
which the caller applies right after the decision (:meth:`State.apply`, so the next input sees
them) and persists once the decision's outputs are acknowledged. :meth:`State.rebuild` makes the
state from the table rows after a restart or a rebalance.

**Derived in memory** (rebuilt from the records, never persisted), all exact per view:

* the correlation index: key -> :class:`Sighting` rows of the reports carrying it in some version
  (matching is decided per view from the records; :meth:`State.expire` drops sightings no view can
  match any more);
* incident members: opener report id -> :class:`Joiner` rows ``(seq, report_id, views)`` -- at
  ``seq`` the report joined that opener's incident in ``views``;
* party names (:class:`hub.pipeline.core.parties.NameIndex`): :class:`hub.pipeline.core.parties.NameRow`
  rows per exact name -- at ``seq`` the name of that report became visible to ``views``.

Views are bits of a mask, assigned in order of first use in this process (:class:`Views`); the
persisted form names them by code, so the masks never outlive the process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from hub.pipeline.core.parties import NameIndex, bits_of

REPORTS = "reports"
TABLES: tuple[str, ...] = (REPORTS,)

Writes = dict[str, dict[str, Any]]
"""{table: {key: JSON-able value, or None to delete}}."""



class Version(NamedTuple):
    """One accepted version of a report and its routing (persisted as the list of its fields, in
    this order: one item of ``v``)."""

    number: int
    kind: str
    event_time: int
    keys: tuple[str, ...]  # correlation keys
    names: tuple[str, ...]  # the linked party names (decide.link_names)
    seq: int  # position of its routing on hub.pipeline.validated
    processed_at: int  # processing time of its routing (ms)
    recipients: int  # views mask of the states it was routed to


class Grant(NamedTuple):
    """A version made visible to some views: its routing, or a share (one item of ``g``)."""

    seq: int
    processed_at: int
    version: int
    views: int


class IncidentGroup(NamedTuple):
    """The views in which this report belongs to the incident that ``opener`` opened (None: the
    report opened it itself); one item of ``i``."""

    opener: str | None
    views: int


class ViewGroup(NamedTuple):
    """The ``views`` that see ``version`` as a report's newest version, since the grant at ``seq``,
    ``processed_at``."""

    views: int
    version: Version
    seq: int
    processed_at: int


class Sighting(NamedTuple):
    """A row of the correlation index: at ``seq`` (processed at ``processed_at``) a version of
    ``report_id`` carrying the key became visible to ``views``."""

    seq: int
    report_id: str
    views: int
    processed_at: int


class Joiner(NamedTuple):
    """A row of the incident members: at ``seq`` ``report_id`` joined the incident in ``views``."""

    seq: int
    report_id: str
    views: int


class Views:
    """View codes (states, the centre) <-> single-bit masks; stable for the life of the process."""

    def __init__(self) -> None:
        self.bit_of: dict[str, int] = {}
        self.code_of: dict[int, str] = {}
        self._parsed: dict[str, int] = {"": 0}
        self._formatted: dict[int, str] = {0: ""}

    def bit(self, code: str) -> int:
        b = self.bit_of.get(code)
        if b is None:
            b = self.bit_of[code] = 1 << len(self.bit_of)
            self.code_of[b] = code
        return b

    def mask(self, codes: Iterable[str]) -> int:
        m = 0
        for c in codes:
            m |= self.bit(c)
        return m

    def parse(self, text: str) -> int:
        """``"CARICC,UZ"`` -> mask."""
        m = self._parsed.get(text)
        if m is None:
            m = self._parsed[text] = self.mask(text.split(","))
        return m

    def format(self, mask: int) -> str:
        """mask -> ``"CARICC,UZ"`` (sorted codes)."""
        s = self._formatted.get(mask)
        if s is None:
            s = self._formatted[mask] = ",".join(sorted(self.code_of[b] for b in bits_of(mask)))
        return s

    def codes(self, mask: int) -> list[str]:
        return sorted(self.code_of[b] for b in bits_of(mask))


class Rec:
    """One report's record in memory (the ``reports`` row, parsed)."""

    __slots__ = ("agency", "incidents", "sbit", "shares", "state", "versions")

    def __init__(self, agency: str, state: str, sbit: int, versions: tuple[Version, ...],
                 shares: tuple[Grant, ...], incidents: tuple[IncidentGroup, ...]) -> None:
        self.agency = agency
        self.state = state
        self.sbit = sbit
        self.versions = versions
        self.shares = shares
        self.incidents = incidents

    def version(self, number: int) -> Version | None:
        for v in self.versions:
            if v.number == number:
                return v
        return None

    def grants(self) -> list[Grant]:
        """Every visibility grant, in seq order: the routing of each version (its recipients and the
        reporting state) and each share."""
        out = [Grant(v.seq, v.processed_at, v.number, v.recipients | self.sbit) for v in self.versions]
        if self.shares:
            out += self.shares
            out.sort()
        return out

    def seen(self) -> int:
        """Every view that may see some version: the reporting state and every view that received one."""
        return self.sbit | self.received() if self.versions else 0

    def received(self) -> int:
        """Every view that received some version (routed or shared; never the reporting state)."""
        m = 0
        for v in self.versions:
            m |= v.recipients
        for g in self.shares:
            m |= g.views
        return m

    def opener(self, view: int) -> str | None:
        """The report that opened this report's incident in ``view`` (None: this report itself, or
        not in that view -- check :meth:`seen`)."""
        for group in self.incidents:
            if group.views & view:
                return group.opener
        return None

    def view_groups(self, views: int) -> list[ViewGroup]:
        """For the ``views`` that may see this report: the newest version each may see, and the
        grant (position, time) that showed it to them; views seeing the same one share a group."""
        if not self.shares and len(self.versions) == 1:  # the common case: one version, one grant
            v = self.versions[0]
            vis = (v.recipients | self.sbit) & views
            return [ViewGroup(vis, v, v.seq, v.processed_at)] if vis else []
        out: list[ViewGroup] = []
        remaining = views & self.seen()
        if not remaining:
            return out
        grants = self.grants()
        grants.sort(key=lambda g: -g.version)
        for g in grants:
            vis = g.views & remaining
            if vis:
                version = self.version(g.version)
                assert version is not None
                out.append(ViewGroup(vis, version, g.seq, g.processed_at))
                remaining &= ~vis
                if not remaining:
                    break
        return out

    def join_seq(self, view: int) -> int:
        """Position at which ``view`` first saw this report (-1: never): its first grant to the view."""
        seqs = [v.seq for v in self.versions if (v.recipients | self.sbit) & view]
        seqs += [g.seq for g in self.shares if g.views & view]
        return min(seqs, default=-1)


class StateView(Protocol):
    """The read-only view of the state that :func:`hub.pipeline.core.decide.decide` uses."""

    views: Views
    names: NameIndex

    def report(self, report_id: str) -> Rec | None: ...

    def sightings(self, key: str, views: int, horizon: int) -> list[tuple[str, int]]: ...

    def joiners(self, opener: str, views: int) -> list[tuple[str, int]]: ...


class State:
    """The in-memory state (implements :class:`StateView`)."""

    def __init__(self) -> None:
        self.views = Views()
        self.reports: dict[str, Rec] = {}
        # correlation key -> its sightings: one Sighting, or a list of them in seq order
        self.keys: dict[str, Sighting | list[Sighting]] = {}
        # opener report id -> the joiners of its incident, in seq order
        self.members: dict[str, list[Joiner]] = {}
        self.names = NameIndex()
        self._strs: dict[str, str] = {}
        self._own: dict[int, tuple[IncidentGroup, ...]] = {}  # shared incident tuples
        self.last_seq = -1  # the highest seq of any grant held: the next input's seq is above it

    # -- StateView
    def report(self, report_id: str) -> Rec | None:
        return self.reports.get(report_id)

    def sightings(self, key: str, views: int, horizon: int) -> list[tuple[str, int]]:
        """The reports seen with ``key`` that may match in ``views``: ``(report_id, views)``, newest
        first; per view the newest KEY_CAP sightings (a version carrying the key, shown to that view)
        processed at or after ``horizon``."""
        rows = self.keys.get(key)
        if rows is None:
            return []
        return _newest(rows if type(rows) is list else [rows], views, KEY_CAP, horizon)

    def joiners(self, opener: str, views: int) -> list[tuple[str, int]]:
        """The reports that joined ``opener``'s incident in ``views``: ``(report_id, views)``, newest
        first; per view the newest MEMBER_CAP."""
        rows = self.members.get(opener)
        return _newest(rows, views, MEMBER_CAP) if rows else []

    def key_reports(self, key: str) -> list[str]:
        """Every report with a sighting of ``key`` still indexed (tests and tools)."""
        rows = self.keys.get(key)
        if rows is None:
            return []
        return list(dict.fromkeys(r.report_id for r in (rows if type(rows) is list else [rows])))

    # -- persisted form
    def get(self, table: str, key: str) -> Any:
        """The persisted value of ``key`` (None when absent)."""
        if table != REPORTS:
            raise KeyError(table)
        rec = self.reports.get(key)
        return None if rec is None else to_json(rec, self.views)

    def items(self, table: str) -> list[tuple[str, Any]]:
        return [(k, to_json(r, self.views)) for k, r in self.reports.items()]

    def _s(self, s: str) -> str:
        return self._strs.setdefault(s, s)

    def parse(self, value: Mapping[str, Any]) -> Rec:
        """A persisted record -> :class:`Rec` (strings shared, masks of this process)."""
        mask, s = self.views.parse, self._s
        state = s(value["s"])
        versions = tuple(Version(int(number), s(kind), int(event_time), tuple(keys), tuple(s(n) for n in names),
                                 int(seq), int(processed_at), mask(recipients))
                         for number, kind, event_time, keys, names, seq, processed_at, recipients in value["v"])
        shares = tuple(Grant(int(seq), int(processed_at), int(version), mask(views))
                       for seq, processed_at, version, views in value.get("g") or ())
        incidents = tuple(IncidentGroup(opener, mask(views)) for opener, views in value.get("i") or ())
        if len(incidents) == 1 and incidents[0].opener is None:  # the common case: its own incident everywhere
            incidents = self._own.setdefault(incidents[0].views, incidents)
        return Rec(s(value["a"]), state, self.views.bit(state), versions, shares, incidents)

    # -- changes
    def apply(self, writes: Mapping[str, Mapping[str, Any]]) -> None:
        """Apply a decision's writes."""
        for table, changes in writes.items():
            if table != REPORTS:
                raise ValueError(f"unknown state table {table!r}")
            for rid, value in changes.items():
                if value is None:
                    raise ValueError("report records are never deleted")
                old = self.reports.get(rid)
                new = self.parse(value)
                old_seqs = {g.seq for g in old.grants()} if old else set()
                grants = new.grants()
                prior = [g for g in grants if g.seq in old_seqs]
                self.reports[rid] = new
                for g in grants:
                    if g.seq not in old_seqs:
                        self._index(rid, new, g, prior)
                        prior.append(g)

    def _index(self, rid: str, rec: Rec, grant: Grant, prior: list[Grant]) -> None:
        """Derived indexes for one grant of ``rec`` (``prior``: its grants before this one)."""
        version = rec.version(grant.version)
        assert version is not None
        if grant.seq > self.last_seq:
            self.last_seq = grant.seq
        self._index_keys(rid, version, grant)
        self._index_joiners(rid, rec, grant, prior)
        self._index_names(rid, rec, version, grant, prior)

    def _index_keys(self, rid: str, version: Version, grant: Grant) -> None:
        """A sighting of each correlation key of the version shown by ``grant``."""
        row = Sighting(grant.seq, rid, grant.views, grant.processed_at)  # immutable: shared by the keys
        for k in version.keys:
            cur = self.keys.get(k)
            if cur is None:
                self.keys[k] = row
            elif type(cur) is list:
                cur.append(row)
                _compact(cur, KEY_CAP)
            else:
                self.keys[k] = [cur, row]

    def _index_joiners(self, rid: str, rec: Rec, grant: Grant, prior: list[Grant]) -> None:
        """The views that see the report for the first time join, in each, the incident of that view."""
        before = 0
        for g in prior:
            before |= g.views
        fresh = grant.views & ~before
        if fresh:
            for group in rec.incidents:
                joined = group.views & fresh
                if joined and group.opener is not None:
                    rows = self.members.setdefault(group.opener, [])
                    rows.append(Joiner(grant.seq, rid, joined))
                    _compact(rows, MEMBER_CAP)

    def _index_names(self, rid: str, rec: Rec, version: Version, grant: Grant, prior: list[Grant]) -> None:
        """Each party name of the version, for the views that had not seen it on this report."""
        for name in version.names:
            had = 0
            for g in prior:
                earlier = rec.version(g.version)
                if earlier is not None and name in earlier.names:
                    had |= g.views
            new_views = grant.views & ~had
            if new_views:
                self.names.add(name, rid, grant.seq, new_views)

    @classmethod
    def rebuild(cls, tables: Mapping[str, Iterable[tuple[str, Any]]]) -> State:
        """The state from the rows of its tables (any order). Tables of milestone 1
        (``correlation-keys``, ``incidents``, ``party-entries``) are derived now and ignored."""
        unknown = set(tables) - set(TABLES) - set(LEGACY_TABLES)
        if unknown:
            raise ValueError(f"unknown state tables: {', '.join(sorted(unknown))}")
        st = cls()
        for rid, value in tables.get(REPORTS, ()):
            if value is not None:
                st.reports[rid] = st.parse(value)
        grants = sorted((g, rid) for rid, rec in st.reports.items() for g in rec.grants())
        done: dict[str, list[Grant]] = {}
        for g, rid in grants:
            prior = done.setdefault(rid, [])
            st._index(rid, st.reports[rid], g, prior)
            prior.append(g)
        return st

    def expire(self, now_ms: int, retention_ms: int) -> int:
        """Drop correlation sightings processed more than ``retention_ms`` before ``now_ms``: they
        can never match again. Memory only: matching applies the same rule, so when this runs never
        changes a decision. Returns the number of sightings dropped."""
        horizon = now_ms - retention_ms
        dropped = 0
        for k in list(self.keys):
            cur = self.keys[k]
            rows = cur if type(cur) is list else [cur]
            kept = [r for r in rows if r.processed_at >= horizon]
            dropped += len(rows) - len(kept)
            if not kept:
                del self.keys[k]
            elif len(kept) != len(rows):
                self.keys[k] = kept if len(kept) > 1 else kept[0]
        return dropped

    def sizes(self) -> dict[str, int]:
        """Entries of each structure (for logs and tests)."""
        return {"reports": len(self.reports), "correlation keys": len(self.keys),
                "incidents with joiners": len(self.members), "party names": len(self.names.names)}


LEGACY_TABLES = ("correlation-keys", "incidents", "party-entries")
KEY_CAP = 50  # newest sightings of a correlation key that can match, per view
MEMBER_CAP = 100  # newest members of an incident that count, per view (the opener counts while it fits)


def _newest(rows: list[Any], views: int, cap: int, horizon: int | None = None) -> list[tuple[str, int]]:
    """Walk ``rows`` (:class:`Sighting` or :class:`Joiner`, seq order) from the newest: each view
    takes its newest ``cap`` rows (with ``processed_at >= horizon`` when given, sightings only:
    processing time never decreases with seq, so the walk stops at the first older row).
    Returns ``(report_id, views)`` pairs."""
    out = []
    counts: dict[int, int] = {}
    need = views
    for row in reversed(rows):
        if horizon is not None and row.processed_at < horizon:
            break
        vis = row.views & need
        if not vis:
            continue
        out.append((row.report_id, vis))
        for b in bits_of(vis):
            c = counts.get(b, 0) + 1
            counts[b] = c
            if c >= cap:
                need &= ~b
        if not need:
            break
    return out


def _compact(rows: list[Any], cap: int) -> None:
    """Drop rows no view can take any more (each view only ever takes its newest ``cap`` rows, and
    rows are only appended, so this is exact). Runs every ``cap`` appends once beyond 2 × cap."""
    if len(rows) <= 2 * cap or len(rows) % cap:
        return
    counts: dict[int, int] = {}
    keep = []
    for row in reversed(rows):
        views = 0
        for b in bits_of(row.views):
            c = counts.get(b, 0)
            if c < cap:
                views |= b
                counts[b] = c + 1
        if views:
            keep.append(row if views == row.views else row._replace(views=views))
    keep.reverse()
    rows[:] = keep


def to_json(rec: Rec, views: Views) -> dict[str, Any]:
    """The persisted form of a record."""
    f = views.format
    out: dict[str, Any] = {
        "a": rec.agency, "s": rec.state,
        "v": [[v.number, v.kind, v.event_time, list(v.keys), list(v.names), v.seq, v.processed_at, f(v.recipients)]
              for v in rec.versions],
        "i": [[group.opener, f(group.views)] for group in rec.incidents]}
    if rec.shares:
        out["g"] = [[g.seq, g.processed_at, g.version, f(g.views)] for g in rec.shares]
    return out
