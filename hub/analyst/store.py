"""The analyst read model: tables, the sink projection that keeps them, and the queries.

Tables (all keyed by ``state`` first; nothing is ever computed across states):

* ``analyst_docs`` — one row per (state, report): the newest version the state received or sent,
  its JSON view, ``docno`` (the state's number of the document: routing time of the first version
  held and 12 bits of the report id; stable across versions);
* ``analyst_versions`` — every version (and share) the state received or sent: the timeline;
* ``analyst_incidents`` — per (state, incident): label, summary, ``last_at`` (the newest routing
  time of its versions: the incident list's order and cursor);
* ``analyst_facts`` / ``analyst_stats`` — what each report adds to each statistic, and the sums per
  (state, dimension, bucket, UTC day), kept incrementally (an update moves its report's
  contribution; a replayed batch changes nothing);
* the text index — SQLite: one FTS5 table per state, ``analyst_fts_<state>`` (columns ids, names,
  subs, places, text, facets; BM25 ranking) and a trigram FTS5 table of the state's name tokens
  ``analyst_terms_<state>`` for fuzzy names. One table per state because BM25 uses corpus
  statistics (how many documents hold a word): in a shared table, one state's ranking would move
  with reports it may not see. PostgreSQL: a weighted ``tsvector`` column with a GIN index
  (``ts_rank`` looks at the document alone) and a ``pg_trgm`` GIN index on the name tokens.

Idempotent: a document is replaced only by a higher version; replays change nothing. No answer
depends on the order in which the sink happened to read the feed and receipt topics: document
numbers come from the documents (routing time and report id), lists are ordered by data.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from rapidfuzz import fuzz

from hub.analyst import incidents as inc
from hub.analyst import query as qry
from hub.analyst.extract import DAY_MS, DIMENSIONS, RECEIVED, SENT, Doc
from hub.analyst.label import label, parse_label
from hub.analyst.why import explain
from hub.feeds.store import feed_database
from hub.platform.db import Database

STATE = re.compile(r"^[A-Z][A-Z0-9]{1,11}$")
FUZZY_MIN = 80.0  # rapidfuzz ratio of two name tokens to count as the same name
FUZZY_MAX = 8  # neighbours per query word
WINDOW = 2000  # a search ranks at most its newest WINDOW matches
CHUNK = 500  # values per IN (...) lookup
DOCNO_BLOCK = 1 << 20  # document numbers read per query when numbering new documents (~256 ms of routing)
TERMS_CACHE = 200_000  # name terms per state remembered by the process (a cache; the table is the truth)

DDL = [
    """CREATE TABLE IF NOT EXISTS analyst_docs (
        state TEXT NOT NULL, report_id TEXT NOT NULL, docno {bigint} NOT NULL, version INTEGER NOT NULL,
        direction TEXT NOT NULL, source_id TEXT NOT NULL, incident_id TEXT NOT NULL, kind TEXT NOT NULL,
        tlp TEXT NOT NULL, handling_code TEXT NOT NULL, agency TEXT NOT NULL, reporter_state TEXT NOT NULL,
        event_time {bigint} NOT NULL, routed_at {bigint} NOT NULL, delivery TEXT, body TEXT NOT NULL,
        PRIMARY KEY (state, report_id))""",
    "CREATE UNIQUE INDEX IF NOT EXISTS analyst_docs_docno ON analyst_docs (state, docno)",
    "CREATE INDEX IF NOT EXISTS analyst_docs_incident ON analyst_docs (state, incident_id)",
    "CREATE INDEX IF NOT EXISTS analyst_docs_time ON analyst_docs (state, event_time, report_id)",
    "CREATE INDEX IF NOT EXISTS analyst_docs_routed ON analyst_docs (state, routed_at)",
    """CREATE TABLE IF NOT EXISTS analyst_versions (
        state TEXT NOT NULL, source_id TEXT NOT NULL, report_id TEXT NOT NULL, version INTEGER NOT NULL,
        direction TEXT NOT NULL, incident_id TEXT NOT NULL, kind TEXT NOT NULL, agency TEXT NOT NULL,
        delivery TEXT, event_time {bigint} NOT NULL, routed_at {bigint} NOT NULL, recipients TEXT NOT NULL,
        PRIMARY KEY (state, source_id))""",
    "CREATE INDEX IF NOT EXISTS analyst_versions_report ON analyst_versions (state, report_id)",
    """CREATE TABLE IF NOT EXISTS analyst_incidents (
        state TEXT NOT NULL, incident_id TEXT NOT NULL, label TEXT NOT NULL, last_at {bigint} NOT NULL,
        summary TEXT NOT NULL, PRIMARY KEY (state, incident_id))""",
    "CREATE INDEX IF NOT EXISTS analyst_incidents_last ON analyst_incidents (state, last_at, incident_id)",
    "CREATE INDEX IF NOT EXISTS analyst_incidents_label ON analyst_incidents (state, label)",
    """CREATE TABLE IF NOT EXISTS analyst_facts (
        state TEXT NOT NULL, report_id TEXT NOT NULL, dim TEXT NOT NULL, bucket TEXT NOT NULL,
        day INTEGER NOT NULL, mg {bigint} NOT NULL, PRIMARY KEY (state, report_id, dim, bucket))""",
    """CREATE TABLE IF NOT EXISTS analyst_stats (
        state TEXT NOT NULL, dim TEXT NOT NULL, bucket TEXT NOT NULL, day INTEGER NOT NULL,
        reports {bigint} NOT NULL, mg {bigint} NOT NULL, PRIMARY KEY (state, dim, day, bucket))""",
    """CREATE TABLE IF NOT EXISTS analyst_name_terms (
        state TEXT NOT NULL, term TEXT NOT NULL, PRIMARY KEY (state, term))""",
]
PG_DDL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE analyst_docs ADD COLUMN IF NOT EXISTS tsv tsvector",
    "CREATE INDEX IF NOT EXISTS analyst_docs_tsv ON analyst_docs USING GIN (tsv)",
    "CREATE INDEX IF NOT EXISTS analyst_name_terms_trgm ON analyst_name_terms USING GIN (term gin_trgm_ops)",
]
DOC_COLUMNS = ("state", "report_id", "docno", "version", "direction", "source_id", "incident_id", "kind", "tlp",
               "handling_code", "agency", "reporter_state", "event_time", "routed_at", "delivery", "body")
_SELECT_DOC = ", ".join(f"d.{c}" for c in DOC_COLUMNS)
_NEWEST = "d.event_time DESC, d.report_id DESC"  # tie-break of every ranking: data, never arrival order


class BadRequest(ValueError):
    """A query parameter that cannot be answered (the message names the field)."""


class Ambiguous(LookupError):
    def __init__(self, candidates: list[str]) -> None:
        super().__init__(f"the label matches {len(candidates)} incidents")
        self.candidates = candidates


@dataclass(frozen=True)
class Filters:
    kinds: tuple[str, ...] = ()
    tlps: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    from_ms: int | None = None  # event_time >= from
    to_ms: int | None = None  # event_time < to
    unacknowledged: bool = False  # received documents whose newest version no officer acknowledged
    incident_id: str | None = None
    substances: tuple[str, ...] = ()  # holds one of these substance types
    countries: tuple[str, ...] = ()  # reported by, located in or routed through one of these countries

    @property
    def in_index(self) -> bool:
        """Only filters the SQLite text index holds as facets (kind, TLP, direction)."""
        return (self.from_ms is None and self.to_ms is None and not self.unacknowledged and not self.incident_id
                and not self.substances and not self.countries)

    def described(self) -> dict[str, str]:
        """The filters that are set, as text (the EXPORTED audit detail, the export's file name)."""
        out = {"direction": ",".join(self.directions), "kind": ",".join(self.kinds), "tlp": ",".join(self.tlps),
               "substance": ",".join(self.substances), "country": ",".join(self.countries),
               "from": inc.iso(self.from_ms) if self.from_ms is not None else "",
               "to": inc.iso(self.to_ms) if self.to_ms is not None else "",
               "unacknowledged": "true" if self.unacknowledged else "", "incident": self.incident_id or ""}
        return {k: v for k, v in out.items() if v}

    def sql(self, time_index: bool = True) -> tuple[str, list[Any]]:
        """``AND …`` conditions on ``analyst_docs d`` and their parameters (``time_index=False``: keep
        SQLite from scanning the event-time index when rows are looked up by number anyway)."""
        et = "d.event_time" if time_index else "+d.event_time"
        out, params = [], []
        for col, values in (("kind", self.kinds), ("tlp", self.tlps), ("direction", self.directions)):
            if values:
                out.append(f"d.{col} IN ({','.join('?' * len(values))})")
                params += list(values)
        if self.from_ms is not None:
            out.append(f"{et} >= ?")
            params.append(self.from_ms)
        if self.to_ms is not None:
            out.append(f"{et} < ?")
            params.append(self.to_ms)
        if self.incident_id:
            out.append("d.incident_id = ?")
            params.append(self.incident_id)
        for dim, values in (("substance", self.substances), ("route_country", self.countries)):
            if values:
                marks = ",".join("?" * len(values))
                cond = (f"EXISTS (SELECT 1 FROM analyst_facts f WHERE f.state = d.state AND f.report_id = d.report_id "
                        f"AND f.dim = '{dim}' AND f.bucket IN ({marks}))")
                if dim == "route_country":  # as the page's country filter: the reporting state counts too
                    cond = f"(d.reporter_state IN ({marks}) OR {cond})"
                    params += list(values)
                out.append(cond)
                params += list(values)
        if self.unacknowledged:
            out.append("d.direction = 'received' AND NOT EXISTS (SELECT 1 FROM feed_acks a WHERE "
                       "a.recipient = d.state AND a.report_id = d.report_id AND a.version = d.version)")
        return "".join(f" AND {c}" for c in out), params


def _row(r: Mapping[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stored document (``body``: its body already parsed, when the caller has it)."""
    out = dict(r)
    out["body"] = orjson.loads(r["body"]) if body is None else body
    out["version"] = int(r["version"])
    out["event_time"] = int(r["event_time"])
    out["routed_at"] = int(r["routed_at"])
    return out


def _check_state(state: str) -> str:
    if not STATE.match(state):
        raise BadRequest(f"state: {state!r} is not a state code")
    return state


class AnalystStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        feed_database(db)  # the feed tables its filters read (SQLite: the feed file, attached read-only)
        db.migrate(DDL)
        if db.dialect == "postgresql":
            db.migrate(PG_DDL)
        self._ready: set[str] = set()
        self._terms_known: dict[str, set[str]] = {}

    # -- per-state text tables (SQLite) -------------------------------------------------------------
    def _fts(self, state: str) -> str:
        return f"analyst_fts_{_check_state(state).lower()}"

    def _terms(self, state: str) -> str:
        return f"analyst_terms_{_check_state(state).lower()}"

    def _ensure(self, state: str) -> None:
        """The state's FTS5 tables, created in the writing transaction — every batch (``IF NOT
        EXISTS`` is cheap): a process-wide "done" flag would outlive a rolled-back batch."""
        if self.db.dialect != "sqlite":
            return
        cols = ", ".join(qry.WEIGHTS)
        self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {self._fts(state)} USING fts5({cols}, "
                        "tokenize = 'unicode61 remove_diacritics 0')")
        self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {self._terms(state)} USING fts5(term, "
                        "tokenize = 'trigram')")
        self._ready.add(state)

    def _has_index(self, state: str) -> bool:
        if self.db.dialect != "sqlite" or state in self._ready:
            return True
        row = self.db.one("SELECT 1 AS x FROM sqlite_master WHERE name = ?", (self._fts(state),))
        if row:
            self._ready.add(state)
        return bool(row)

    # -- writing (the sink projection) --------------------------------------------------------------
    @staticmethod
    def _wanted_docno(d: Doc) -> int:
        """The number a new document asks for: its routing time (ms) and 12 bits of its report id, so
        that the order of numbers — the ranking's tie-break and the search snapshot — is a fact of the
        documents, not of the order in which the sink happened to read two topics."""
        return d.routed_at * 4096 + int(hashlib.sha256(d.report_id.encode()).hexdigest()[:3], 16)

    def _docnos(self, state: str, docs: Sequence[Doc]) -> list[int]:
        """Numbers for new documents of one state, in order: each takes the first number from its wanted
        one on that no document holds yet (the same millisecond and the same 12 bits: the next number).
        The numbers already held are read per block of :data:`DOCNO_BLOCK` numbers (one query per block
        the batch touches), never one query per probe."""
        taken: set[int] = set()
        loaded: set[int] = set()

        def held(n: int) -> bool:
            block = n // DOCNO_BLOCK
            if block not in loaded:
                loaded.add(block)
                taken.update(int(r["docno"]) for r in self.db.query(
                    "SELECT docno FROM analyst_docs WHERE state = ? AND docno >= ? AND docno < ?",
                    (state, block * DOCNO_BLOCK, (block + 1) * DOCNO_BLOCK)))
            return n in taken

        out: list[int] = []
        for d in docs:
            n = self._wanted_docno(d)
            while held(n):
                n += 1
            taken.add(n)
            out.append(n)
        return out

    def apply(self, docs: Sequence[Doc]) -> None:
        """Add a batch of documents (idempotent; in one transaction).

        The outcome is that of applying the documents one by one in order (a document replaces the
        state's document of its report only when it is a higher version, or the same version sent by
        the state itself); the writes are done in bulk: per state one lookup of the documents held,
        one ``executemany`` per table, the statistics as summed deltas, each touched incident once."""
        if not docs:
            return
        by_state: dict[str, list[Doc]] = {}
        for d in docs:
            by_state.setdefault(_check_state(d.state), []).append(d)
        with self.db.transaction():
            touched: set[tuple[str, str]] = set()
            parsed: dict[tuple[str, str], dict[str, Any]] = {}
            for state, group in by_state.items():
                self._ensure(state)
                touched |= self._apply_state(state, group, parsed)
            self._refresh_incidents(touched, parsed)

    def _in(self, sql: str, head: Sequence[Any], values: Iterable[Any]) -> list[dict[str, Any]]:
        """``sql`` with ``{marks}`` filled for each chunk of ``values`` (``head`` parameters first)."""
        vals = list(dict.fromkeys(values))
        out: list[dict[str, Any]] = []
        for i in range(0, len(vals), CHUNK):
            chunk = vals[i:i + CHUNK]
            out += self.db.query(sql.format(marks=",".join("?" * len(chunk))), (*head, *chunk))
        return out

    def _apply_state(self, state: str, docs: Sequence[Doc],
                     parsed: dict[tuple[str, str], dict[str, Any]]) -> set[tuple[str, str]]:
        self.db.executemany(
            "INSERT INTO analyst_versions (state, source_id, report_id, version, direction, incident_id, kind, agency, "
            "delivery, event_time, routed_at, recipients) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (state, source_id) DO NOTHING",
            [(d.state, d.source_id, d.report_id, d.version, d.direction, d.incident_id, d.kind, d.agency, d.delivery,
              d.event_time, d.routed_at, orjson.dumps(
                  [r["recipient"] for r in d.body.get("recipients") or []] if d.direction == SENT else []).decode())
             for d in docs])
        held = {r["report_id"]: r for r in self._in(
            "SELECT report_id, docno, version, incident_id, direction FROM analyst_docs WHERE state = ? AND "
            "report_id IN ({marks})", (state,), (d.report_id for d in docs))}
        # the documents one by one, in memory: (version, sent by the state) decides what replaces what
        now: dict[str, tuple[int, bool, str]] = {
            rid: (int(r["version"]), r["direction"] == SENT, r["incident_id"]) for rid, r in held.items()}
        final: dict[str, Doc] = {}  # report → its document after the batch (first applied first)
        applied: list[Doc] = []
        touched: set[tuple[str, str]] = set()
        for d in docs:
            cur = now.get(d.report_id)
            touched.add((state, cur[2] if cur else d.incident_id))
            rank = (d.version, d.direction == SENT)
            if cur is not None and rank <= cur[:2]:
                continue  # an older version, a replay or a share of a version already held
            now[d.report_id] = (*rank, d.incident_id)
            final[d.report_id] = d
            applied.append(d)
            touched.add((state, d.incident_id))
        if not final:
            return touched
        fresh = [d for rid, d in final.items() if rid not in held]
        number = {rid: int(r["docno"]) for rid, r in held.items()}
        first: dict[str, Doc] = {}  # a new report's number comes from the first of its documents held (stable across versions)
        for d in applied:
            first.setdefault(d.report_id, d)
        new_firsts = [first[d.report_id] for d in fresh]
        number |= dict(zip((d.report_id for d in new_firsts), self._docnos(state, new_firsts), strict=True))
        self._write_docs(state, list(final.values()), number, replaced=[rid for rid in final if rid in held])
        # the stored body of a document written from JSON text is that text parsed: no need to parse it again
        parsed.update({(state, rid): d.body for rid, d in final.items() if d.body_json is not None})
        self._move_facts(state, list(final.values()), [rid for rid in final if rid in held])
        self._add_terms(state, applied)
        return touched

    def _write_docs(self, state: str, docs: Sequence[Doc], number: Mapping[str, int], replaced: Sequence[str]) -> None:
        values = [(d.state, d.report_id, number[d.report_id], d.version, d.direction, d.source_id, d.incident_id,
                   d.kind, d.tlp, d.handling_code, d.agency, d.reporter_state, d.event_time, d.routed_at, d.delivery,
                   d.body_json if d.body_json is not None else orjson.dumps(d.body).decode()) for d in docs]
        updates = ", ".join(f"{c} = excluded.{c}" for c in DOC_COLUMNS[3:])
        marks = ", ".join("?" * len(DOC_COLUMNS))
        if self.db.dialect == "sqlite":
            self.db.executemany(f"INSERT INTO analyst_docs ({', '.join(DOC_COLUMNS)}) VALUES ({marks}) "
                                f"ON CONFLICT (state, report_id) DO UPDATE SET {updates}", values)
            table = self._fts(state)
            cols = list(qry.WEIGHTS)
            if replaced:
                self.db.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(number[rid],) for rid in replaced])
            self.db.executemany(
                f"INSERT INTO {table} (rowid, {', '.join(cols)}) VALUES (?, {', '.join('?' * len(cols))})",
                [(number[d.report_id], *(d.fields[c] for c in cols)) for d in docs])
        else:  # the weighted tsvector is written with the row
            tsv = ("setweight(to_tsvector('simple', ?), 'A') || setweight(to_tsvector('simple', ?), 'B') || "
                   "setweight(to_tsvector('simple', ?), 'C') || setweight(to_tsvector('simple', ?), 'D')")
            self.db.executemany(
                f"INSERT INTO analyst_docs ({', '.join(DOC_COLUMNS)}, tsv) VALUES ({marks}, {tsv}) "
                f"ON CONFLICT (state, report_id) DO UPDATE SET {updates}, tsv = excluded.tsv",
                [(*v, d.fields["ids"], d.fields["names"], f"{d.fields['subs']} {d.fields['places']}", d.fields["text"])
                 for v, d in zip(values, docs, strict=True)])

    def _add_terms(self, state: str, docs: Sequence[Doc]) -> None:
        known = self._terms_known.setdefault(state, set())
        if len(known) > TERMS_CACHE:
            known.clear()  # a cache of this process only: the table below is the vocabulary
        new = [t for t in dict.fromkeys(t for d in docs for t in d.name_terms) if t not in known]
        if not new:
            return
        stored = {r["term"] for r in self._in("SELECT term FROM analyst_name_terms WHERE state = ? AND term IN "
                                              "({marks})", (state,), new)}
        # remembered only once seen stored by an earlier batch (committed): a term added now could still
        # be rolled back with the sink's batch, and a cache must never hide a missing row
        known.update(stored)
        added = [t for t in new if t not in stored]
        if not added:
            return
        self.db.executemany("INSERT INTO analyst_name_terms (state, term) VALUES (?, ?) "
                            "ON CONFLICT (state, term) DO NOTHING", [(state, t) for t in added])
        if self.db.dialect == "sqlite":
            self.db.executemany(f"INSERT INTO {self._terms(state)} (term) VALUES (?)", [(t,) for t in added])

    def _move_facts(self, state: str, docs: Sequence[Doc], replaced: Sequence[str]) -> None:
        """Each document's contribution to the statistics replaces its report's earlier one: the
        differences are summed per (dimension, bucket, day) and written as one upsert each."""
        old: dict[str, list[tuple[str, str, int, int]]] = {}
        for o in self._in("SELECT report_id, dim, bucket, day, mg FROM analyst_facts WHERE state = ? AND report_id "
                          "IN ({marks})", (state,), replaced):
            old.setdefault(o["report_id"], []).append((o["dim"], o["bucket"], int(o["day"]), int(o["mg"])))
        delta: dict[tuple[str, int, str], list[int]] = {}
        gone: list[str] = []
        emptied: set[tuple[str, int, str]] = set()
        facts: list[tuple[Any, ...]] = []
        for d in docs:
            day = d.event_time // DAY_MS
            new = [(dim, bucket, day, round(kg * 1_000_000)) for dim, bucket, kg in d.facts]
            was = old.get(d.report_id, [])
            if sorted(was) == sorted(new):
                continue
            for dim, bucket, dday, mg in was:
                acc = delta.setdefault((dim, dday, bucket), [0, 0])
                acc[0] -= 1
                acc[1] -= mg
                emptied.add((dim, dday, bucket))
            if was:
                gone.append(d.report_id)
            for dim, bucket, dday, mg in new:
                acc = delta.setdefault((dim, dday, bucket), [0, 0])
                acc[0] += 1
                acc[1] += mg
                facts.append((state, d.report_id, dim, bucket, dday, mg))
        if gone:
            self.db.executemany("DELETE FROM analyst_facts WHERE state = ? AND report_id = ?",
                                [(state, rid) for rid in gone])
        if facts and self.db.dialect == "postgresql":  # plain new rows: COPY (about 10x cheaper than binds)
            with self.db.connection().cursor() as cur, cur.copy(
                    "COPY analyst_facts (state, report_id, dim, bucket, day, mg) FROM STDIN") as copy:
                for row in facts:
                    copy.write_row(row)
        elif facts:
            self.db.executemany("INSERT INTO analyst_facts (state, report_id, dim, bucket, day, mg) "
                                "VALUES (?, ?, ?, ?, ?, ?)", facts)
        changes = [(state, dim, bucket, day, n, mg) for (dim, day, bucket), (n, mg) in sorted(delta.items())
                   if n or mg]
        if changes:
            self.db.executemany(
                "INSERT INTO analyst_stats (state, dim, bucket, day, reports, mg) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (state, dim, day, bucket) DO UPDATE SET reports = analyst_stats.reports + "
                "excluded.reports, mg = analyst_stats.mg + excluded.mg", changes)
        if emptied:  # buckets the reports left, now empty
            self.db.executemany("DELETE FROM analyst_stats WHERE state = ? AND dim = ? AND day = ? AND bucket = ? "
                                "AND reports <= 0", [(state, dim, day, bucket) for dim, day, bucket in sorted(emptied)])

    def _refresh_incidents(self, touched: Iterable[tuple[str, str]],
                           parsed: Mapping[tuple[str, str], dict[str, Any]]) -> None:
        """Summaries of the touched incidents, from the state's documents of each (per state: one read
        of their documents, one of their versions, one of the summaries stored)."""
        by_state: dict[str, list[str]] = {}
        for state, incident_id in sorted(set(touched)):
            by_state.setdefault(state, []).append(incident_id)
        for state, incidents in by_state.items():
            rows: dict[str, list[dict[str, Any]]] = {i: [] for i in incidents}
            for r in self._in(f"SELECT {_SELECT_DOC} FROM analyst_docs d WHERE d.state = ? AND d.incident_id IN "
                              "({marks})", (state,), incidents):
                rows[r["incident_id"]].append(_row(r, parsed.get((state, r["report_id"]))))
            versions = {r["report_id"]: (int(r["n"]), r["last_at"]) for r in self._in(
                "SELECT report_id, COUNT(*) AS n, MAX(routed_at) AS last_at FROM analyst_versions WHERE state = ? AND "
                "report_id IN ({marks}) GROUP BY report_id", (state,),
                (r["report_id"] for rs in rows.values() for r in rs))}
            stored = {r["incident_id"]: r["summary"] for r in self._in(
                "SELECT incident_id, summary FROM analyst_incidents WHERE state = ? AND incident_id IN ({marks})",
                (state,), incidents)}
            gone: list[tuple[str, str]] = []
            upserts: list[tuple[str, str, str, int, str]] = []
            for incident_id in incidents:
                docs = rows[incident_id]
                if not docs:
                    gone.append((state, incident_id))
                    continue
                vs = [versions[r["report_id"]] for r in docs if r["report_id"] in versions]
                lasts = [int(m) for _n, m in vs if m is not None]
                last_at = max(lasts) if lasts else max(r["routed_at"] for r in docs)
                summary = inc.summary(incident_id, docs) | {"versions": sum(n for n, _m in vs),
                                                            "last_activity": inc.iso(last_at)}
                text = orjson.dumps(summary, option=orjson.OPT_SORT_KEYS).decode()
                if stored.get(incident_id) != text:
                    upserts.append((state, incident_id, label(incident_id), last_at, text))
            if gone:
                self.db.executemany("DELETE FROM analyst_incidents WHERE state = ? AND incident_id = ?", gone)
            if upserts:
                self.db.executemany(
                    "INSERT INTO analyst_incidents (state, incident_id, label, last_at, summary) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (state, incident_id) DO UPDATE SET last_at = excluded.last_at, "
                    "summary = excluded.summary", upserts)

    # -- reading ------------------------------------------------------------------------------------
    def cursors(self, source_ids: Iterable[str]) -> dict[str, int]:
        """Feed cursors (``seq``) of received documents, by item id."""
        ids = sorted(set(source_ids))
        out: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for r in self.db.query(f"SELECT item_id, seq FROM feed_items WHERE item_id IN ({','.join('?' * len(chunk))})",
                                   chunk):
                out[r["item_id"]] = int(r["seq"])
        return out

    def acks(self, state: str, report_ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = sorted(set(report_ids))
        if not ids:
            return []
        return [dict(r, version=int(r["version"]), acked_at=int(r["acked_at"])) for r in self.db.query(
            f"SELECT report_id, version, actor, acked_at FROM feed_acks WHERE recipient = ? AND report_id IN "
            f"({','.join('?' * len(ids))}) ORDER BY acked_at, report_id, version", (state, *ids))]

    def views(self, state: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Result views: the feed view (cursor, item, acknowledgement) of received documents, the
        receipt of sent ones, both with the incident label."""
        cursors = self.cursors(r["source_id"] for r in rows if r["direction"] == RECEIVED)
        acks = {(a["report_id"], a["version"]): a for a in self.acks(state, [r["report_id"] for r in rows])}
        out = []
        for r in rows:
            a = acks.get((r["report_id"], r["version"])) if r["direction"] == RECEIVED else None
            out.append({"direction": r["direction"], "cursor": cursors.get(r["source_id"]),
                        ("item_id" if r["direction"] == RECEIVED else "receipt_id"): r["source_id"],
                        "report_id": r["report_id"], "version": r["version"], "incident_id": r["incident_id"],
                        "incident_label": label(r["incident_id"]), "delivery": r["delivery"], "item": r["body"],
                        "acknowledged": {"by": a["actor"], "at": inc.iso(a["acked_at"])} if a else None})
        return out

    def report(self, state: str, report_id: str) -> dict[str, Any] | None:
        """The result view of one report this state holds (received or sent), or None — the same None
        for a report of another state's feed as for one that does not exist."""
        rows = [_row(r) for r in self.db.query(
            f"SELECT {_SELECT_DOC} FROM analyst_docs d WHERE d.state = ? AND d.report_id = ?", (state, report_id))]
        return self.views(state, rows)[0] if rows else None

    def _neighbours(self, state: str, forms: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for form in set(forms):
            if self.db.dialect == "sqlite":
                grams = sorted({form[i:i + 3] for i in range(len(form) - 2)})
                if not grams:
                    continue
                expr = " OR ".join(qry._q(g) for g in grams)
                cands = [r["term"] for r in self.db.query(
                    f"SELECT term FROM {self._terms(state)} WHERE {self._terms(state)} MATCH ? ORDER BY rank, term "
                    "LIMIT 100", (expr,))]
            else:
                cands = [r["term"] for r in self.db.query(
                    "SELECT term FROM analyst_name_terms WHERE state = ? AND term %% ? ORDER BY similarity(term, ?) "
                    "DESC, term LIMIT 100", (state, form, form))]
            scored = sorted(((fuzz.ratio(form, c), c) for c in cands if c != form), key=lambda x: (-x[0], x[1]))
            out[form] = [c for s, c in scored if s >= FUZZY_MIN][:FUZZY_MAX]
        return out

    def search(self, state: str, q: str, filters: Filters, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        """Ranked documents of ``state`` matching ``q`` and the filters; ``next`` continues.

        A query matching more than :data:`WINDOW` documents is ranked among its newest WINDOW
        matches (``window`` in the answer says so): relevance among thousands of matches of a common
        word costs a full pass and says little; the newest matches are what an officer looks for."""
        rows, floor, nxt, parsed = self._search(state, q, filters, limit, cursor)
        views = self.views(state, rows)
        for v in views:  # why it matched: the fields and the words around the match
            v["why"] = explain(parsed, v["item"]["report"])
        return {"state": state, "q": q, "results": views, "window": WINDOW if floor else None, "next": nxt}

    def search_batches(self, state: str, q: str, filters: Filters, size: int = 500) -> Iterator[list[dict[str, Any]]]:
        """Every document the pages of :meth:`search` list (in their order), in batches: an export of a search."""
        cursor: str | None = None
        while True:
            rows, _floor, cursor, _parsed = self._search(state, q, filters, size, cursor)
            if rows:
                yield rows
            if not cursor:
                return

    def _search(self, state: str, q: str, filters: Filters, limit: int,
                cursor: str | None) -> tuple[list[dict[str, Any]], int, str | None, qry.Parsed]:
        """(documents of one search page, the window's floor, the next page's cursor, the query read)."""
        offset, snapshot, floor = _parse_cursor(cursor)
        first = snapshot is None
        if snapshot is None:  # later pages leave out what arrived after the first page
            top = self.db.one("SELECT MAX(docno) AS n FROM analyst_docs WHERE state = ?", (state,))
            snapshot = int(top["n"]) if top and top["n"] is not None else 0
        parsed = qry.parse(q)
        where, params = filters.sql()
        rows: list[dict[str, Any]] = []
        if parsed.empty:
            rows = self.db.query(f"SELECT {_SELECT_DOC} FROM analyst_docs d WHERE d.state = ? AND d.docno <= ?{where} "
                                 f"ORDER BY {_NEWEST} LIMIT ? OFFSET ?", (state, snapshot, *params, limit + 1, offset))
        elif self._has_index(state):
            parsed = qry.with_fuzzy(parsed, self._neighbours(state, [f for w in parsed.words for f in w.name_forms]))
            if self.db.dialect == "sqlite":
                fts = self._fts(state)
                expr = qry.fts5(parsed, kinds=list(filters.kinds), tlps=list(filters.tlps),
                                directions=list(filters.directions))
                weights = ", ".join(str(w) for w in qry.WEIGHTS.values())
                rank = f"bm25({fts}, {weights}), {fts}.rowid DESC"  # ties: the later routed first
                # event times are at most 1 h ahead of routing: a 'from' bounds the document numbers too
                lower = max(0, (filters.from_ms - 3_600_000) * 4096) if filters.from_ms is not None else 0
                if first:
                    probe = self.db.one(f"SELECT rowid AS n FROM {fts} WHERE {fts} MATCH ? AND rowid <= ? AND "
                                        "rowid >= ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                                        (expr, snapshot, lower, WINDOW - 1))
                    floor = max(lower, int(probe["n"]) if probe else 0)
                if filters.in_index:
                    # kind, TLP and direction are facets inside the index: rank in the index alone
                    hits = [int(r["docno"]) for r in self.db.query(
                        f"SELECT rowid AS docno FROM {fts} WHERE {fts} MATCH ? AND rowid <= ? AND rowid >= ? "
                        f"ORDER BY {rank} LIMIT ? OFFSET ?", (expr, snapshot, floor, limit + 1, offset))]
                else:
                    # never join the FTS table (SQLite may then run the MATCH once per document): rank the
                    # window's matches, then keep those the other filters accept
                    ranked = [int(r["docno"]) for r in self.db.query(
                        f"SELECT rowid AS docno FROM {fts} WHERE {fts} MATCH ? AND rowid <= ? AND rowid >= ? "
                        f"ORDER BY {rank}", (expr, snapshot, floor))]
                    ok: set[int] = set()
                    by_number, by_params = filters.sql(time_index=False)
                    for i in range(0, len(ranked), 500):
                        chunk = ranked[i:i + 500]
                        ok |= {int(r["docno"]) for r in self.db.query(
                            f"SELECT d.docno FROM analyst_docs d WHERE d.state = ? AND d.docno IN "
                            f"({','.join('?' * len(chunk))}){by_number}", (state, *chunk, *by_params))}
                    hits = [n for n in ranked if n in ok][offset:offset + limit + 1]
                by_no = {int(r["docno"]): r for r in self.db.query(
                    f"SELECT {_SELECT_DOC} FROM analyst_docs d WHERE d.state = ? AND d.docno IN "
                    f"({','.join('?' * len(hits))})", (state, *hits))} if hits else {}
                rows = [by_no[n] for n in hits if n in by_no]
            else:
                tsq = qry.tsquery(parsed)
                matched = f"FROM analyst_docs d, CAST(? AS tsquery) q WHERE d.state = ? AND d.tsv @@ q AND d.docno <= ?{where}"
                if first:
                    probe = self.db.one(f"SELECT d.docno AS n {matched} ORDER BY d.docno DESC LIMIT 1 OFFSET ?",
                                        (tsq, state, snapshot, *params, WINDOW - 1))
                    floor = int(probe["n"]) if probe else 0
                rows = self.db.query(
                    f"SELECT {_SELECT_DOC} {matched} AND d.docno >= ? ORDER BY ts_rank(d.tsv, q) DESC, d.docno DESC "
                    "LIMIT ? OFFSET ?", (tsq, state, snapshot, *params, floor, limit + 1, offset))
        more = len(rows) > limit
        return ([_row(r) for r in rows[:limit]], floor, f"{offset + limit}.{snapshot}.{floor}" if more else None,
                parsed)

    def incidents(self, state: str, after: str | None = None, limit: int = 50) -> dict[str, Any]:
        """Incidents, the one with the newest routed version first; ``next_after`` continues with older ones."""
        at, after_id = 2**62, ""
        if after:
            m = re.fullmatch(r"(\d{1,15}):(.{1,200})", after)
            if not m:
                raise BadRequest(f"after: {after!r} is not an incident cursor (use next_after of a page)")
            at, after_id = int(m.group(1)), m.group(2)
        rows = self.db.query(
            "SELECT incident_id, label, last_at, summary FROM analyst_incidents WHERE state = ? AND "
            "(last_at < ? OR (last_at = ? AND incident_id < ?)) ORDER BY last_at DESC, incident_id DESC LIMIT ?",
            (state, at, at, after_id if after else "\uffff", limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        out = [orjson.loads(r["summary"]) | {"cursor": f"{int(r['last_at'])}:{r['incident_id']}"} for r in rows]
        return {"state": state, "incidents": out, "next_after": out[-1]["cursor"] if more else None}

    def find_incident(self, state: str, key: str) -> str | None:
        """The incident id of ``key`` (an incident id, or a label) in this state, or None."""
        row = self.db.one("SELECT incident_id FROM analyst_incidents WHERE state = ? AND incident_id = ?", (state, key))
        if row:
            return str(row["incident_id"])
        lbl = parse_label(key)
        if not lbl:
            return None
        found = [r["incident_id"] for r in self.db.query(
            "SELECT incident_id FROM analyst_incidents WHERE state = ? AND label = ? ORDER BY incident_id", (state, lbl))]
        if len(found) > 1:
            raise Ambiguous(found)
        return found[0] if found else None

    def incident(self, state: str, key: str) -> dict[str, Any] | None:
        incident_id = self.find_incident(state, key)
        if incident_id is None:
            return None
        rows = [_row(r) for r in self.db.query(
            f"SELECT {_SELECT_DOC} FROM analyst_docs d WHERE d.state = ? AND d.incident_id = ?", (state, incident_id))]
        if not rows:
            return None
        versions = [dict(v, version=int(v["version"]), routed_at=int(v["routed_at"]),
                         recipients=orjson.loads(v["recipients"])) for v in self.db.query(
            "SELECT source_id, report_id, version, direction, kind, agency, delivery, routed_at, recipients FROM "
            f"analyst_versions WHERE state = ? AND report_id IN ({','.join('?' * len(rows))})",
            (state, *(r["report_id"] for r in rows)))]
        acks = self.acks(state, [r["report_id"] for r in rows if r["direction"] == RECEIVED])
        cursors = self.cursors(r["source_id"] for r in rows if r["direction"] == RECEIVED)
        return {"state": state, **inc.detail(incident_id, rows, versions, acks, cursors)}

    def stats(self, state: str, by: str, from_ms: int | None = None, to_ms: int | None = None,
              filters: Filters | None = None) -> dict[str, Any]:
        """Reports and kilograms per bucket of one dimension, for event days in [from, to); ``filters``
        (kind, TLP, direction, substance, country, unacknowledged; their times are ignored) narrow the
        reports counted — then summed from the reports' facts rather than the kept sums."""
        if by not in DIMENSIONS:
            raise BadRequest(f"by: {by!r} is not one of {', '.join(DIMENSIONS)}")
        lo = from_ms // DAY_MS if from_ms is not None else -(2**40)
        hi = (to_ms - 1) // DAY_MS if to_ms is not None else 2**40
        narrow = Filters(kinds=filters.kinds, tlps=filters.tlps, directions=filters.directions,
                         unacknowledged=filters.unacknowledged, substances=filters.substances,
                         countries=filters.countries) if filters else Filters()
        where, params = narrow.sql()

        def sums(dim: str) -> list[dict[str, Any]]:
            if where:
                return self.db.query(
                    "SELECT fa.bucket AS bucket, COUNT(*) AS reports, SUM(fa.mg) AS mg FROM analyst_facts fa JOIN "
                    "analyst_docs d ON d.state = fa.state AND d.report_id = fa.report_id WHERE fa.state = ? AND "
                    f"fa.dim = ? AND fa.day >= ? AND fa.day <= ?{where} GROUP BY fa.bucket",
                    (state, dim, lo, hi, *params))
            return self.db.query(
                "SELECT bucket, SUM(reports) AS reports, SUM(mg) AS mg FROM analyst_stats WHERE state = ? AND dim = ? "
                "AND day >= ? AND day <= ? GROUP BY bucket", (state, dim, lo, hi))

        buckets = [{"key": r["bucket"], "reports": int(r["reports"]), "kg": round(int(r["mg"]) / 1e6, 3)}
                   for r in sums(by) if int(r["reports"]) > 0]
        buckets.sort(key=(lambda b: b["key"]) if by == "month" else (lambda b: (-b["reports"], -b["kg"], b["key"])))
        months = sums("month")
        total = {"reports": sum(int(r["reports"]) for r in months), "kg": round(sum(int(r["mg"]) for r in months) / 1e6, 3)}
        return {"state": state, "by": by, "from": inc.iso(lo * DAY_MS) if from_ms is not None else None,
                "to": inc.iso((hi + 1) * DAY_MS) if to_ms is not None else None, "buckets": buckets, "total": total}

    def batches(self, state: str, filters: Filters, size: int = 500) -> Iterator[list[dict[str, Any]]]:
        """Every document of ``state`` matching the filters, oldest event first, in batches."""
        where, params = filters.sql()
        last: tuple[int, str] = (-(2**62), "")
        while True:
            rows = self.db.query(
                f"SELECT {_SELECT_DOC} FROM analyst_docs d WHERE d.state = ? AND (d.event_time > ? OR "
                f"(d.event_time = ? AND d.report_id > ?)){where} ORDER BY d.event_time, d.report_id LIMIT ?",
                (state, last[0], last[0], last[1], *params, size))
            if not rows:
                return
            last = (int(rows[-1]["event_time"]), str(rows[-1]["report_id"]))
            yield [_row(r) for r in rows]


def _parse_cursor(cursor: str | None) -> tuple[int, int | None, int]:
    """(offset, snapshot: the highest document number of the first page's time, floor of the window)."""
    if not cursor:
        return 0, None, 0
    m = re.fullmatch(r"(\d{1,9})\.(\d{1,19})(?:\.(\d{1,19}))?", cursor)
    if not m:
        raise BadRequest(f"cursor: {cursor!r} is not a cursor of this search (use the 'next' value of a result page)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
