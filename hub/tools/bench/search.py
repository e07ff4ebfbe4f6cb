"""``hub bench`` section ``search``: the analyst search over a store of N feed items (SPEC §14).

The store is filled the way ``hub sink`` fills it — :class:`~hub.feeds.store.FeedStore` then the
analyst projection, 500 items per transaction — from simulated reports routed with the real
§5 rules (:func:`hub.pipeline.core.route.recipients`) into every recipient's feed; the reporting
state's receipts too. Then searches drawn from the stored data are timed one by one, as a gateway
thread runs them (:meth:`AnalystStore.search`, fuzzy name lookup included): identifiers written
another way, names in the other script or misspelt, substances in Russian/English, places,
narrative words, with and without filters, for the centre (the largest feed), member states and a
partner. Also timed: the incident list, one incident, a statistic. The target: p95 ≤ 50 ms over
200,000 stored items.

The database is a fresh SQLite file in the work directory, or — when ``HUB_DATABASE_URL`` is a
``postgresql://`` URL — that database (use a throw-away one).
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.analyst.projection import AnalystProjection
from hub.analyst.store import AnalystStore, Filters
from hub.feeds.store import FeedStore
from hub.pipeline.core.enrich import latin, substance_totals
from hub.pipeline.core.route import recipients, redact
from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.sink import Sorted
from hub.tools.bench import workload

Progress = Callable[[str], None]
BATCH = 500


def _items(reports: list[dict[str, Any]], settings: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items, receipts = [], []
    for rep in reports:
        rid = rep["report_id"]
        incident = "I-" + hashlib.sha256(rid.encode()).hexdigest()[:20]
        who = recipients(rep, settings)
        enrichment = {"risk_score": 50, "risk_reasons": [], "containers": [], "hs_description": None,
                      "substance_totals": substance_totals(rep.get("substances") or []),
                      "party_names": [{"name": p["name"], "latin": latin(p["name"])} for p in rep.get("parties") or []],
                      "entity_links": [], "prior_reports": [], "watchlist_hits": [], "also_reported_by": []}
        for state, reason in who.items():
            partner = state in settings.partners
            items.append({"item_id": f"{rid}:{rep['version']}:{state}", "recipient": state, "delivery": "NEW",
                          "incident_id": incident, "report": redact(rep) if partner else rep, "enrichment": enrichment,
                          "routing": {"recipients": sorted(who), "reason": reason, "redacted": partner},
                          "routed_at": rep["received_at"], "provenance": None})
        receipts.append({"receipt_id": f"{rid}:{rep['version']}", "report_id": rid, "version": rep["version"],
                         "agency": rep["agency"], "state": rep["reporter_state"], "incident_id": incident, "report": rep,
                         "recipients": [{"recipient": s, "delivery": "NEW", "reason": r, "redacted": False}
                                        for s, r in who.items()], "routed_at": rep["received_at"]})
    return items, receipts


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    i = rng.randrange(2, len(word) - 1)
    return word[:i] + word[i + 1:]  # one letter dropped


def queries(reports: list[dict[str, Any]], n: int, seed: int = 3) -> list[tuple[str, str, Filters]]:
    """(kind of query, text, filters) drawn from the data."""
    rng = random.Random(seed)
    words = ["heroin", "героин", "гашиш", "hashish", "opium", "опий", "tramadol", "precursor", "ангидрид",
             "cannabis", "марихуана", "mephedrone"]
    places = ["Khorgos", "Nizhniy Panj", "Termez", "Хоргос", "Afghanistan", "Казахстан", "Turkmenbashi", "Dostuk"]
    text = ["inspection", "soap bars", "false floor", "fruit boxes", "досмотре обнаружено", "сокрытие", "fuel tank",
            "officers found"]
    filters = [Filters(), Filters(kinds=("SEIZURE",)), Filters(tlps=("AMBER", "GREEN")),
               Filters(from_ms=min(r["event_time"] for r in reports), to_ms=max(r["event_time"] for r in reports))]
    out: list[tuple[str, str, Filters]] = []
    while len(out) < n:
        r = rng.choice(reports)
        conv = r.get("conveyance") or {}
        parties = r.get("parties") or []
        kind = rng.choice(("container", "plate", "name", "fuzzy", "substance", "place", "text", "combined"))
        if kind == "container" and conv.get("container_numbers"):
            c = rng.choice(conv["container_numbers"])
            q = f"{c[:4]} {c[4:10]}-{c[10:]}"
        elif kind == "plate" and conv.get("vehicle_plate"):
            q = conv["vehicle_plate"].lower()
        elif kind in ("name", "fuzzy") and parties:
            name = latin(rng.choice(parties)["name"])
            q = " ".join(_typo(w, rng) for w in name.split()) if kind == "fuzzy" else name
        elif kind == "substance":
            q = rng.choice(words)
        elif kind == "place":
            q = rng.choice(places)
        elif kind == "text":
            q = rng.choice(text)
        elif kind == "combined":
            q = f"{rng.choice(words)} {rng.choice(places)}"
        else:
            continue
        out.append((kind, q, rng.choice(filters)))
    return out


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))], 2)


def search(base: Settings, work: Path, *, items: int, queries_n: int, progress: Progress | None = None) -> dict[str, Any]:
    say = progress or (lambda _m: None)
    work.mkdir(parents=True, exist_ok=True)
    url = base.db_url if base.db_url.startswith(("postgresql://", "postgres://")) else f"sqlite:///{work / 'search.db'}"
    db = Database(url)
    feeds, projection = FeedStore(db), AnalystProjection(db, base)
    store: AnalystStore = projection.store
    # about four recipients per report: draw reports until the feed items reach the target
    reports: list[dict[str, Any]] = []
    all_items: list[dict[str, Any]] = []
    all_receipts: list[dict[str, Any]] = []
    seed = 100_000
    while len(all_items) < items:
        # the simulator is fastest in small scenarios: 1,000 reports per seed (seeds far apart: unique refs)
        need = min(1000, max(50, (items - len(all_items)) // 3))
        batch = [it.report for it in workload.generate(need, seed=seed, settings=base)]
        seed += 1000
        its, recs = _items(batch, base)
        reports += batch
        all_items += its
        all_receipts += recs
        if len(reports) % 10_000 < len(batch):
            say(f"search: {len(reports):,} reports, {len(all_items):,} feed items generated")
    all_items = all_items[:items]
    started = time.perf_counter()
    receipt_of = {r["report_id"]: r for r in all_receipts}
    for i in range(0, len(all_items), BATCH):
        chunk = all_items[i:i + BATCH]
        recs = [receipt_of.pop(rid) for rid in dict.fromkeys(it["report"]["report_id"] for it in chunk)
                if rid in receipt_of]  # each report's receipt with its first feed items
        feeds.add(chunk)
        projection.apply(Sorted(feed_items=chunk, receipts=recs))
        if i and i % 20_000 == 0:
            say(f"search: indexed {i:,}/{len(all_items):,} items ({i / (time.perf_counter() - started):,.0f}/s)")
    index_s = time.perf_counter() - started
    states: dict[str, int] = {}
    for it in all_items:
        states[it["recipient"]] = states.get(it["recipient"], 0) + 1
    asked = ["CARICC", "KZ", "TJ", "UZ", "AF"]
    qs = queries(reports, queries_n)
    say(f"search: {len(qs)} searches")
    times: list[float] = []
    cpu: list[float] = []  # CPU time of the search (on a busy machine, wall time also counts waiting for a core)
    by_kind: dict[str, list[float]] = {}
    hits = 0
    for n, (kind, q, f) in enumerate(qs):
        state = asked[n % len(asked)]
        t0, c0 = time.perf_counter(), time.process_time()
        page = store.search(state, q, f, limit=20)
        ms = (time.perf_counter() - t0) * 1000
        cpu.append((time.process_time() - c0) * 1000)
        times.append(ms)
        by_kind.setdefault(kind, []).append(ms)
        hits += bool(page["results"])
    other: dict[str, list[float]] = {"incidents": [], "incident": [], "stats": []}
    for n in range(max(10, queries_n // 10)):
        state = asked[n % len(asked)]
        t0 = time.perf_counter()
        page = store.incidents(state, limit=50)
        other["incidents"].append((time.perf_counter() - t0) * 1000)
        if page["incidents"]:
            t0 = time.perf_counter()
            store.incident(state, page["incidents"][n % len(page["incidents"])]["incident_id"])
            other["incident"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        store.stats(state, ("substance", "month", "crossing_point", "route_country", "agency")[n % 5])
        other["stats"].append((time.perf_counter() - t0) * 1000)
    size = (work / "search.db").stat().st_size / 2**20 if url.startswith("sqlite") else None
    db.close()
    return {
        "database": db.dialect, "items": len(all_items), "reports": len(reports), "largest_feed": max(states.values()),
        "feeds": dict(sorted(states.items())), "index_items_per_s": round(len(all_items) / index_s, 1),
        "searches": len(times), "with_results": hits, "p50_ms": _pct(times, 50), "p95_ms": _pct(times, 95),
        "p99_ms": _pct(times, 99), "max_ms": round(max(times), 2), "mean_ms": round(statistics.fmean(times), 2),
        "cpu_p50_ms": _pct(cpu, 50), "cpu_p95_ms": _pct(cpu, 95),
        "p95_by_kind_ms": {k: _pct(v, 95) for k, v in sorted(by_kind.items())},
        "other_p95_ms": {k: _pct(v, 95) for k, v in other.items() if v},
        "db_mb": round(size, 1) if size is not None else None,
    }
