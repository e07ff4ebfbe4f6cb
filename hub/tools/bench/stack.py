"""Whole-hub figures: what an officer sees, how fast the sink stores, and a backfill of the region's history.

Every section runs real processes on a fresh broker (see :mod:`hub.tools.bench.procs`):

* **sse** — latency intake → item seen by an SSE subscriber: `hub worker`, `hub sink` and `hub gateway`
  run; one real SSE client per recipient state (officer tokens, ``GET /v1/feeds/{state}``) is connected
  before the clock starts; reports are produced to ``hub.intake`` at a fixed offered rate (as the
  gateway would produce them); a report's latency is the moment its first feed item was parsed from
  any SSE stream minus the moment the bench handed the report to its producer (one clock: same host).
  The sink and the gateway run with debug lines on; :mod:`hub.tools.bench.trace` joins them into the
  feed record → SSE time by step (sink fetch, writer gate, transaction, wake-up, page read, DELIVERED
  audit, send), p50/p99 of each.
* **sink** — the sink alone: ``hub.feed.*`` pre-loaded with feed items and ``hub.audit`` with AuditBatch
  records (the stage events of each report), then `hub sink` starts; rate = rows stored per second,
  from the first stored row to the last (read from the database the sink writes).
* **fanout** — one `hub gateway` holding 500 SSE streams (spread over every state's feed) while reports
  arrive at 100/s: gateway memory per open stream (RSS with the streams open minus before), latency
  intake → item seen over every (stream, item) delivery, gateway CPU per delivery.
* **backfill** — N reports (default 204,013: the region's seizure history by end-2018) through the
  whole hub: NDJSON batches of 1,000 to ``POST /v1/reports/batch`` → worker → sink → feed and audit
  stores. The reports are generated (and written to disk) before the clock starts; the time runs from
  the first request to the moment every accepted report was processed by the worker and every feed
  item it routed was stored. Peak RSS (VmHWM) of every process, broker included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from hub.domain.codec import AUDIT_BATCH, FEED_ITEM, REPORT, codec
from hub.platform.db import Database, feed_path
from hub.platform.kafka import io as kafka
from hub.platform.kafka.topics import AUDIT, INTAKE, ensure_topics, feed
from hub.platform.settings import Settings
from hub.tools.bench import trace
from hub.tools.bench.pipeline import PROCESSED, percentile
from hub.tools.bench.procs import Cluster, Proc, cluster, cpu_seconds, scrape, wait_http
from hub.tools.bench.workload import Item, generate, intake_records

Progress = Callable[[str], None]
BACKFILL_REPORTS = 204_013  # the region's seizure history by end-2018 (issue 11)


# --------------------------------------------------------------------------- shared helpers
def _say(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


def _start_sink(c: Cluster, name: str = "sink", projections: Sequence[str] = (), **env: str) -> Proc:
    from hub.platform.kafka.embedded import free_port

    port = free_port()
    only = [a for p in projections for a in ("--projection", p)]
    return c.start_hub(name, "sink", "--port", str(port), "--group", f"bench-sink-{uuid.uuid4().hex[:6]}", *only,
                       port=port, **env)


def _start_sinks(c: Cluster, split: bool, **env: str) -> list[Proc]:
    """The bench's sink processes, the one storing the feed first: one ``hub sink``, or (``split``)
    ``hub sink --projection feeds`` beside one with the other projections."""
    if not split:
        return [_start_sink(c, **env)]
    from hub.projections.registry import NAMES

    return [_start_sink(c, "sink-feeds", ["feeds"], **env),
            _start_sink(c, "sink", [n for n in NAMES if n != "feeds"], **env)]


def _profile(c: Cluster, *procs: Proc) -> None:
    """``hub bench --profile DIR``: sample these processes with py-spy (DIR/<run>/<process>.txt)."""
    out = os.environ.get("HUB_BENCH_PROFILE")
    if out:
        for p in procs:
            c.profile(p, Path(out) / c.workdir.name)


def _wait_sink(sink: Proc, timeout: float = 60.0) -> None:
    assert sink.port is not None
    wait_http(f"http://127.0.0.1:{sink.port}/metrics", sink, timeout=timeout)


def _count(db_path: str, sql: str) -> int:
    """One number from the main SQLite file, read-only, with its feed file attached (``feed``)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        con.execute("ATTACH DATABASE ? AS feed", (f"file:{feed_path(db_path)}?mode=ro",))
        return int(con.execute(sql).fetchone()[0] or 0)
    except sqlite3.OperationalError:  # tables not there yet
        return 0
    finally:
        con.close()


# feed items the analyst index holds (its own projection: it may lag the feed store)
INDEXED_ITEMS = "SELECT COUNT(*) FROM analyst_versions WHERE direction = 'received'"
# projections whose last fetch found nothing more waiting (hub.projections.progress)
CAUGHT_UP = ("SELECT (SELECT COUNT(*) FROM main.projection_progress WHERE backlog = 0) "
             "+ (SELECT COUNT(*) FROM feed.projection_progress WHERE backlog = 0)")  # feeds: in the feed file


def _db_path(settings: Settings) -> str:
    return settings.db_url.removeprefix("sqlite:///")


def _processed(ports: Sequence[int]) -> float:
    total = 0.0
    for port in ports:
        try:
            total += sum(scrape(port, PROCESSED).values())
        except Exception:
            continue
    return total


def _routed(ports: Sequence[int]) -> float:
    total = 0.0
    for port in ports:
        try:
            total += scrape(port, ("hub_reports_routed_total",))["hub_reports_routed_total"]
        except Exception:
            continue
    return total


def _peaks(c: Cluster) -> dict[str, float]:
    c.sample()
    out = {p.name: round(p.peak_mb or 0, 1) for p in c.procs}
    if c.broker:
        out["broker"] = round(c.broker_peak_mb() or 0, 1)
    return out


def _officers(settings: Settings) -> dict[str, str]:
    """One officer token per recipient (registered in the hub database, like `hub officer add`)."""
    from hub.directory.officers import Officers

    db = Database(settings.db_url)
    try:
        o = Officers(db, settings)
        return {r: o.add(f"bench-{r.lower()}-{uuid.uuid4().hex[:6]}", r) for r in settings.recipients}
    finally:
        db.close()


def _agency_keys(settings: Settings, agencies: set[tuple[str, str]]) -> dict[str, str]:
    from hub.tools.bench.rest import _keys

    return _keys(settings, agencies)


async def _paced_send(prod: Any, c: Any, records: Sequence[Any], items: Sequence[Item], rate: float,
                      sent: dict[str, float], tick: Callable[[int], Any]) -> float:
    """Send ``records`` to the intake at ``rate`` per second, each report stamped with its send time
    (``received_at`` and ``sent[report_id]``); ``tick(i)`` once a second of records. Waits for every
    acknowledgement; returns the rate actually offered."""
    t0 = time.perf_counter()
    futures = []
    for i, (k, _v, h) in enumerate(records):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        rep = dict(items[i].report)
        now_ms = time.time() * 1000
        rep["received_at"] = int(now_ms)
        sent[rep["report_id"]] = now_ms
        futures.append(await prod.send(INTAKE, c.encode(REPORT, rep), key=k, headers=h))
        if i % max(1, int(rate)) == 0:
            tick(i)
    offered = len(records) / max(1e-9, time.perf_counter() - t0)
    await asyncio.gather(*futures)
    return offered


# --------------------------------------------------------------------------- (a) SSE latency
@contextlib.asynccontextmanager
async def _stream(session: aiohttp.ClientSession, url: str, token: str,
                  ready: asyncio.Event) -> AsyncIterator[aiohttp.StreamReader]:
    """An open SSE stream's lines (``ready`` set once the gateway answered 200)."""
    async with session.get(url, headers={"Authorization": f"Bearer {token}"},
                           timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
        if resp.status != 200:
            raise RuntimeError(f"SSE {url}: {resp.status} {await resp.text()}")
        ready.set()
        yield resp.content


async def _sse_reader(session: aiohttp.ClientSession, url: str, token: str, first: dict[str, float],
                      ready: asyncio.Event, stop: asyncio.Event,
                      where: dict[str, tuple[str, int]] | None = None, state: str = "") -> None:
    """Remember when each report was first seen (and, in ``where``, the state and cursor of that event)."""
    async with _stream(session, url, token, ready) as lines:
        async for raw in lines:
            if stop.is_set():
                return
            if raw.startswith(b"data: "):
                seen = time.time() * 1000
                ev = orjson.loads(raw[6:])
                rid = ev.get("report_id")
                if rid and rid not in first:
                    first[rid] = seen
                    if where is not None:
                        where[rid] = (state, int(ev["cursor"]))


async def _sse_run(settings: Settings, base: str, tokens: dict[str, str], items: Sequence[Item], rate: float,
                   worker_ports: Sequence[int], progress: Progress | None,
                   keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """``keep``: filled with each report's feed record time (``routed``), when the bench's own consumer
    of the feed topics got it (``probe``), its first sighting on a stream (``first``) and the (state,
    cursor) of that event (``where``), for :mod:`hub.tools.bench.trace`."""
    c = codec()
    records = intake_records(items)
    sent: dict[str, float] = {}
    first: dict[str, float] = {}
    where: dict[str, tuple[str, int]] = {}
    probe: dict[str, float] = {}
    routed: dict[str, float] = {}  # first feed record (its broker timestamp): where the pipeline's part ends
    stop = asyncio.Event()
    t0_ms = time.time() * 1000  # the start of the measured window (set again after the warm-up)
    prod = kafka.producer(settings)
    await prod.start()
    cons = kafka.consumer(settings, *(feed(r) for r in settings.recipients),
                          group_id=f"bench-sse-{uuid.uuid4().hex[:8]}", max_poll_records=5000)
    await cons.start()

    async def collect() -> None:
        while not stop.is_set():
            for msgs in (await cons.getmany(timeout_ms=100, max_records=5000)).values():
                for m in msgs:
                    for hk, hv in m.headers or ():
                        if hk == "item_id":
                            rid = hv.decode().split(":", 1)[0]
                            if rid not in routed:
                                routed[rid] = float(m.timestamp)
                                probe[rid] = time.time() * 1000
                            break

    collector = asyncio.create_task(collect())
    conn = aiohttp.TCPConnector(limit=len(tokens) + 4)
    async with aiohttp.ClientSession(connector=conn) as session:
        readies = [asyncio.Event() for _ in tokens]
        readers = [asyncio.create_task(_sse_reader(session, f"{base}/v1/feeds/{state}", tok, first, ev, stop,
                                                   where, state))
                   for (state, tok), ev in zip(tokens.items(), readies, strict=True)]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 30)
            await asyncio.sleep(4.0)  # warm-up: the worker's group join and first fetches are not measured
            t0_ms = time.time() * 1000
            offered = await _paced_send(prod, c, records, items, rate, sent, lambda i: progress and progress(
                f"SSE latency at {rate:g}/s: {i}/{len(records)} sent, {len(first)} seen"))
            deadline = time.monotonic() + 30
            last_seen, stable_since = -1, time.monotonic()
            while time.monotonic() < deadline:
                done = _processed(worker_ports) >= len(records)
                if len(first) != last_seen:
                    last_seen, stable_since = len(first), time.monotonic()
                if done and time.monotonic() - stable_since > 2.0:
                    break
                await asyncio.sleep(0.2)
            processed = _processed(worker_ports)
        finally:
            stop.set()
            for t in readers:
                t.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await collector
            await cons.stop()
            await prod.stop()
    lat = [first[r] - sent[r] for r in sent if r in first]
    pipeline_part = [routed[r] - sent[r] for r in sent if r in first and r in routed]
    serving_part = [first[r] - routed[r] for r in sent if r in first and r in routed]
    if keep is not None:
        keep.update(routed=routed, probe=probe, first=first, where=where, t0_ms=t0_ms)
    return {
        "offered_per_s": round(offered, 1), "reports": len(records), "processed": int(processed),
        "saturated": processed < len(records), "seen_by_subscribers": len(lat), "subscribers": len(tokens),
        # reports that produced a feed record at all (a duplicate or an unrouted report has none to see)
        "routed_reports": sum(1 for r in sent if r in routed),
        "p50_ms": _r(percentile(lat, 50)), "p95_ms": _r(percentile(lat, 95)), "p99_ms": _r(percentile(lat, 99)),
        "max_ms": _r(max(lat) if lat else None),
        # the two parts of it: intake → feed record (worker), feed record → SSE event (sink + gateway)
        "pipeline_p50_ms": _r(percentile(pipeline_part, 50)), "pipeline_p99_ms": _r(percentile(pipeline_part, 99)),
        "serving_p50_ms": _r(percentile(serving_part, 50)), "serving_p99_ms": _r(percentile(serving_part, 99)),
    }


def _r(v: float | None) -> float | None:
    return round(v, 1) if v is not None else None


def sse_latency(base: Settings, workdir: Path, items: Sequence[Item], *, rate: float, bootstrap: str | None = None,
                progress: Progress | None = None, split: bool = False) -> dict[str, Any]:
    """Intake → first feed item seen by an SSE subscriber, at ``rate`` reports/s offered (1 worker;
    ``split``: the feed projection in a sink process of its own beside one with the others)."""
    debug = {"HUB_LOG_LEVEL": "DEBUG"}  # the worker's, sink's and gateway's trace lines (hub.tools.bench.trace)
    with cluster(base, workdir, bootstrap=bootstrap) as c:
        asyncio.run(ensure_topics(c.settings))
        tokens = _officers(c.settings)
        sinks = _start_sinks(c, split, **debug)
        sink = sinks[0]  # the trace's lines: the feed's process
        gw = c.start_gateway(**debug)
        worker = c.start_worker(1, **debug)
        for s in sinks:
            _wait_sink(s)
        wait_http(f"http://127.0.0.1:{gw.port}/readyz", gw, timeout=60)
        wait_http(f"http://127.0.0.1:{worker.port}/healthz", worker, timeout=90)
        _profile(c, *sinks, gw, worker)
        _say(progress, f"SSE latency at {rate:g}/s: {len(tokens)} subscribers connecting")
        keep: dict[str, Any] = {}
        out = asyncio.run(_sse_run(c.settings, f"http://127.0.0.1:{gw.port}", tokens, items, rate,
                                   [worker.port or 0], progress, keep))
        out["peak_rss_mb"] = _peaks(c)
    out["breakdown"] = trace.breakdown(trace.moments(
        keep["routed"], keep["first"], keep["where"], trace.lines(_text(sink.log_path), "projection batch"),
        trace.lines(_text(gw.log_path), "feed page sent")), probe=(keep["routed"], keep["probe"]))
    # the worker's part by step; only the batches of the measured window (after the warm-up)
    t0 = keep["t0_ms"]
    out["worker_breakdown"] = trace.worker_breakdown(
        d for d in trace.lines(_text(worker.log_path), "checkpoint") if float(d.get("taken_ms") or 0) >= t0)
    out["rate"] = rate
    out["sink_processes"] = len(sinks)
    return out


def _text(path: Path | None) -> str:
    return path.read_text(errors="replace") if path and path.exists() else ""


# --------------------------------------------------------------------------- (d) fan-out
def _rss_mb(pid: int) -> float | None:
    """Current resident memory (VmRSS) of a process, MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


_RID = b'"report_id":"'


async def _fan_reader(session: aiohttp.ClientSession, url: str, token: str, seen: dict[str, float],
                      ready: asyncio.Event, stop: asyncio.Event) -> None:
    """One stream: the first moment it saw each report (a cheap scan: 500 of these share the bench's core)."""
    async with _stream(session, url, token, ready) as lines:
        async for raw in lines:
            if stop.is_set():
                return
            if raw.startswith(b"data: "):
                i = raw.find(_RID)
                if i >= 0:
                    j = raw.find(b'"', i + len(_RID))
                    seen.setdefault(raw[i + len(_RID):j].decode(), time.time() * 1000)


async def _fan_run(settings: Settings, base: str, streams: Sequence[tuple[str, str]], items: Sequence[Item],
                   rate: float, gw: Proc, worker_ports: Sequence[int], progress: Progress | None) -> dict[str, Any]:
    c = codec()
    records = intake_records(items)
    sent: dict[str, float] = {}
    stop = asyncio.Event()
    seen: list[dict[str, float]] = [{} for _ in streams]
    prod = kafka.producer(settings)
    await prod.start()
    conn = aiohttp.TCPConnector(limit=len(streams) + 4)
    rss_before = _rss_mb(gw.pid)
    async with aiohttp.ClientSession(connector=conn) as session:
        readies = [asyncio.Event() for _ in streams]
        readers = []
        for n, ((state, tok), ev) in enumerate(zip(streams, readies, strict=True)):
            readers.append(asyncio.create_task(_fan_reader(session, f"{base}/v1/feeds/{state}", tok, seen[n], ev,
                                                           stop)))
            if n % 50 == 49:
                await asyncio.sleep(0.05)  # connect in waves (the gateway's accept queue)
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 120)
            _say(progress, f"fan-out: {len(streams)} streams open")
            await asyncio.sleep(4.0)  # settle; the worker's group join and first fetches are not measured
            rss_open = _rss_mb(gw.pid)
            cpu0 = cpu_seconds(gw.pid) or 0.0
            offered = await _paced_send(prod, c, records, items, rate, sent, lambda i: progress and progress(
                f"fan-out at {rate:g}/s: {i}/{len(records)} sent, {sum(len(x) for x in seen):,} deliveries seen"))
            deadline = time.monotonic() + 30
            last, stable_since = -1, time.monotonic()
            while time.monotonic() < deadline:
                total = sum(len(x) for x in seen)
                if total != last:
                    last, stable_since = total, time.monotonic()
                if _processed(worker_ports) >= len(records) and time.monotonic() - stable_since > 2.0:
                    break
                await asyncio.sleep(0.2)
            cpu = (cpu_seconds(gw.pid) or 0.0) - cpu0
            rss_end = _rss_mb(gw.pid)
        finally:
            stop.set()
            for t in readers:
                t.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await prod.stop()
    lat = [t - sent[r] for x in seen for r, t in x.items() if r in sent]
    # every stream of a state must see what any stream of that state saw
    by_state: dict[str, set[str]] = {}
    for (state, _tok), x in zip(streams, seen, strict=True):
        by_state.setdefault(state, set()).update(r for r in x if r in sent)
    expected = sum(len(by_state[state]) for state, _tok in streams)
    per_stream = ((rss_open - rss_before) / len(streams)) if rss_open and rss_before else None
    return {"streams": len(streams), "offered_per_s": round(offered, 1), "reports": len(records),
            "deliveries": len(lat), "deliveries_expected": expected,
            "p50_ms": _r(percentile(lat, 50)), "p95_ms": _r(percentile(lat, 95)), "p99_ms": _r(percentile(lat, 99)),
            "max_ms": _r(max(lat) if lat else None),
            "gateway_rss_mb": {"before_streams": _r(rss_before), "streams_open": _r(rss_open), "end": _r(rss_end)},
            "kb_per_stream": round(per_stream * 1024, 1) if per_stream is not None else None,
            "gateway_cpu_seconds": round(cpu, 2),
            "gateway_cpu_ms_per_delivery": round(1000 * cpu / len(lat), 3) if lat else None}


def fanout(base: Settings, workdir: Path, items: Sequence[Item], *, streams: int = 500, rate: float = 100.0,
           bootstrap: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """One gateway holding ``streams`` SSE streams (spread over every state's feed) while reports arrive
    at ``rate``/s: memory per stream, latency intake → item seen over every (stream, item) delivery."""
    with cluster(base, workdir, bootstrap=bootstrap) as c:
        asyncio.run(ensure_topics(c.settings))
        tokens = _officers(c.settings)
        states = sorted(tokens)
        plan = [(states[n % len(states)], tokens[states[n % len(states)]]) for n in range(streams)]
        sink = _start_sink(c)
        gw = c.start_gateway()
        worker = c.start_worker(1)
        _wait_sink(sink)
        wait_http(f"http://127.0.0.1:{gw.port}/readyz", gw, timeout=60)
        wait_http(f"http://127.0.0.1:{worker.port}/healthz", worker, timeout=90)
        _profile(c, sink, gw, worker)
        _say(progress, f"fan-out: {streams} SSE streams connecting")
        out = asyncio.run(_fan_run(c.settings, f"http://127.0.0.1:{gw.port}", plan, items, rate, gw,
                                   [worker.port or 0], progress))
        out["peak_rss_mb"] = _peaks(c)
    out["rate"] = rate
    return out


# --------------------------------------------------------------------------- (b) sink throughput
STAGES_PER_REPORT = ("VALIDATED", "CORRELATED", "ENRICHED", "ROUTED")


def feed_items_of(item: Item, recipients: Sequence[str]) -> list[dict[str, Any]]:
    """Feed items (Avro form) of one report for ``recipients`` (a plausible enrichment; pure)."""
    r = item.report
    return [{
        "item_id": f"{r['report_id']}:{r['version']}:{rcp}", "recipient": rcp, "delivery": "NEW",
        "incident_id": f"I-{r['report_id'][2:]}", "report": r,
        "enrichment": {"risk_score": 40, "risk_reasons": ["bench"], "containers": [], "hs_description": None,
                       "substance_totals": [], "party_names": [], "entity_links": [], "prior_reports": [],
                       "watchlist_hits": [], "also_reported_by": []},
        "routing": {"recipients": list(recipients), "reason": "bench", "redacted": False},
        "routed_at": r["received_at"],
    } for rcp in recipients]


def audit_batch_of(item: Item) -> dict[str, Any]:
    from hub.domain.audit_events import audit_event

    r = item.report
    return {"events": [audit_event(s, report_id=r["report_id"], version=r["version"], agency=r["agency"],
                                   state=r["reporter_state"], actor="bench", trace_id=r["trace_id"],
                                   occurred_at=r["received_at"]) for s in STAGES_PER_REPORT]}


async def _preload_sink(settings: Settings, items: Sequence[Item]) -> tuple[int, int]:
    c = codec()
    prod = kafka.producer(settings)
    await prod.start()
    n_items = n_events = 0
    try:
        futures = []
        for it in items:
            recipients = (it.state, settings.centre)
            for fi in feed_items_of(it, recipients):
                futures.append(await prod.send(feed(fi["recipient"]), c.encode(FEED_ITEM, fi),
                                               key=fi["incident_id"].encode()))
                n_items += 1
            batch = audit_batch_of(it)
            futures.append(await prod.send(AUDIT, c.encode(AUDIT_BATCH, batch), key=it.report["report_id"].encode()))
            n_events += len(batch["events"])
        await asyncio.gather(*futures)
    finally:
        await prod.stop()
    return n_items, n_events


def sink_throughput(base: Settings, workdir: Path, items: Sequence[Item], *, bootstrap: str | None = None,
                    timeout: float = 600.0, progress: Progress | None = None, split: bool = False) -> dict[str, Any]:
    """Feed items and audit events stored per second by one `hub sink` draining pre-loaded topics
    (``split``: two, ``hub sink --projection feeds`` beside one with the other projections; the CPU
    is then the sum of both, and the feed's own process's CPU is reported apart)."""
    with cluster(base, workdir, bootstrap=bootstrap) as c:
        asyncio.run(ensure_topics(c.settings))
        Database(c.settings.db_url).close()
        _say(progress, f"sink: pre-loading {len(items)} reports' feed items and audit events")
        n_items, n_events = asyncio.run(_preload_sink(c.settings, items))
        db = _db_path(c.settings)
        sinks = _start_sinks(c, split)
        _profile(c, *sinks)
        start = first = None
        cpu_start: float | None = None
        feeds_cpu_start: float | None = None
        feeds_cpu: float | None = None  # split: the feed process's CPU when it had every item
        stored_items = stored_events = indexed = 0
        done_at: dict[str, float] = {}  # when each projection had everything (each is its own consumer)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.perf_counter()
            cpus = [cpu_seconds(p.pid) for p in sinks]
            cpu_now = None if None in cpus else sum(x for x in cpus if x is not None)
            stored_items = _count(db, "SELECT COUNT(*) FROM feed_items")
            stored_events = _count(db, "SELECT COUNT(*) FROM audit_log")
            indexed = _count(db, INDEXED_ITEMS)
            c.sample()
            if first is None:
                if stored_items + stored_events > 0:
                    first = stored_items + stored_events
                else:  # the last poll that saw nothing stored (a conservative start; start-up CPU excluded)
                    start, cpu_start, feeds_cpu_start = now, cpu_now, cpus[0]
            for name, got, want in (("feeds", stored_items, n_items), ("audit", stored_events, n_events),
                                    ("analyst", indexed, n_items)):
                if got >= want and name not in done_at:
                    done_at[name] = now
            if split and "feeds" in done_at and feeds_cpu is None:
                feeds_cpu = cpus[0]
            _say(progress, f"sink: {stored_items}/{n_items} feed items ({indexed} indexed), "
                           f"{stored_events}/{n_events} audit events")
            if stored_items >= n_items and stored_events >= n_events and indexed >= n_items:
                break
            for p in sinks:
                if p.popen.poll() is not None:
                    raise RuntimeError(f"{p.name} exited; see {p.log_path}")
            time.sleep(0.05)
        end = time.perf_counter()
        cpus = [cpu_seconds(p.pid) for p in sinks]
        cpu_end = None if None in cpus else sum(x for x in cpus if x is not None)
        peaks = _peaks(c)
    t0 = start or end
    secs = end - t0
    rows = stored_items + stored_events
    cpu = cpu_end - (cpu_start or 0.0) if cpu_end is not None else None

    def rate(name: str, n: int) -> float | None:
        t = done_at.get(name, end) - t0
        return round(n / t, 1) if t > 0 else None

    return {
        "reports": len(items), "feed_items": n_items, "audit_events": n_events, "stored_items": stored_items,
        "stored_events": stored_events, "indexed_items": indexed,
        "complete": stored_items >= n_items and stored_events >= n_events and indexed >= n_items,
        "seconds": round(secs, 3),
        # each projection's rate to its own completion (before issue 20 one transaction held all three)
        "items_per_s": rate("feeds", stored_items), "events_per_s": rate("audit", stored_events),
        "indexed_per_s": rate("analyst", indexed),
        "seconds_per_projection": {k: round(v - t0, 2) for k, v in done_at.items()},
        "rows_per_s": round(rows / secs, 1) if secs > 0 else None,
        # CPU of the sink from the last poll that saw nothing stored to the end (not its start-up)
        "sink_cpu_seconds": round(cpu, 2) if cpu is not None else None,
        "sink_cpu_ms_per_row": round(1000 * cpu / rows, 3) if cpu is not None and rows else None,
        "peak_rss_mb": peaks,
        "split": split,
        # split: CPU of the feed's own process to its end, per feed item
        "feeds_cpu_ms_per_item": (round(1000 * (feeds_cpu - (feeds_cpu_start or 0.0)) / stored_items, 3)
                                  if feeds_cpu is not None and stored_items else None),
    }


# --------------------------------------------------------------------------- (c) backfill
def _write_batches(base: Settings, total: int, batch: int, out: Path, progress: Progress | None,
                   chunk: int = 10_000) -> tuple[list[tuple[str, Path, int]], set[tuple[str, str]]]:
    """Generate ``total`` reports in chunks (bounded memory) as NDJSON files of ≤ ``batch`` reports of one
    agency each. Returns ([(agency, file, reports)], {(agency, state)})."""
    out.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, Path, int]] = []
    agencies: set[tuple[str, str]] = set()
    made, k = 0, 0
    while made < total:
        items = generate(min(chunk, total - made), seed=10_007 + 1_000 * k, settings=base)
        k += 1
        by_agency: dict[str, list[Item]] = {}
        for it in items[: total - made]:
            by_agency.setdefault(it.agency, []).append(it)
            agencies.add((it.agency, it.state))
        for agency, group in by_agency.items():
            for i in range(0, len(group), batch):
                part = group[i:i + batch]
                path = out / f"b{len(files):06d}.ndjson"
                path.write_bytes(b"\n".join(orjson.dumps(it.body) for it in part))
                files.append((agency, path, len(part)))
        made += len(items[: total - made])
        _say(progress, f"backfill: {made}/{total} reports generated")
    return files, agencies


async def _post_all(url: str, jobs: Sequence[tuple[str, Path, int]], keys: dict[str, str], concurrency: int,
                    progress: Progress | None, c: Cluster) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    accepted = duplicates = rejected = 0
    nxt = 0
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def client() -> None:
            nonlocal nxt, accepted, duplicates, rejected
            while nxt < len(jobs):
                agency, path, _n = jobs[nxt]
                nxt += 1
                for attempt in range(5):
                    async with session.post(url, data=path.read_bytes(), headers={
                            "Authorization": f"Bearer {keys[agency]}", "Content-Type": "application/x-ndjson"},
                            timeout=aiohttp.ClientTimeout(total=300)) as resp:
                        body = await resp.read()
                        if resp.status == 503 and attempt < 4:  # the broker was busy: retry like the SDK
                            await asyncio.sleep(1 + attempt)
                            continue
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                        if resp.status == 202:
                            res = json.loads(body)
                            accepted += res["accepted"]
                            duplicates += res["duplicates"]
                            rejected += res["rejected"]
                        break
                if nxt % 20 == 0:
                    c.sample()
                    _say(progress, f"backfill: {nxt}/{len(jobs)} batches posted, {accepted} accepted")

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return {"statuses": {str(k): v for k, v in sorted(statuses.items())}, "accepted": accepted,
            "duplicates": duplicates, "rejected": rejected}


def backfill(base: Settings, workdir: Path, *, reports: int = BACKFILL_REPORTS, batch: int = 1000,
             concurrency: int = 4, bootstrap: str | None = None, timeout: float = 3600.0,
             progress: Progress | None = None) -> dict[str, Any]:
    """``reports`` reports through the whole hub (REST batch → worker → sink → stores); time and peak RSS."""
    with cluster(base, workdir, bootstrap=bootstrap) as c:
        asyncio.run(ensure_topics(c.settings))
        gen_t = time.perf_counter()
        jobs, agencies = _write_batches(c.settings, reports, batch, workdir / "batches", progress)
        gen_s = time.perf_counter() - gen_t
        keys = _agency_keys(c.settings, agencies)
        sink = _start_sink(c)
        gw = c.start_gateway()
        worker = c.start_worker(1)
        _wait_sink(sink)
        wait_http(f"http://127.0.0.1:{gw.port}/readyz", gw, timeout=60)
        wait_http(f"http://127.0.0.1:{worker.port}/healthz", worker, timeout=90)
        _profile(c, sink, gw, worker)
        wport = [worker.port or 0]
        db = _db_path(c.settings)
        cpu0 = {p.name: cpu_seconds(p.pid) or 0.0 for p in c.procs}
        t0 = time.perf_counter()
        posted = asyncio.run(_post_all(f"http://127.0.0.1:{gw.port}/v1/reports/batch", jobs, keys, concurrency,
                                       progress, c))
        ingest_s = time.perf_counter() - t0
        processed_s = stored_s = feeds_s = None
        deadline = time.monotonic() + timeout
        target = posted["accepted"]
        processed = routed = 0.0
        items = indexed = 0
        while time.monotonic() < deadline:
            c.sample()
            processed = _processed(wport)
            items = _count(db, "SELECT COUNT(*) FROM feed_items")
            if processed_s is None and processed >= target:
                processed_s = time.perf_counter() - t0
            if processed_s is not None:
                routed = _routed(wport)
                if items >= routed:
                    if feeds_s is None:
                        feeds_s = time.perf_counter() - t0  # the officers' feed store is complete
                    indexed = _count(db, INDEXED_ITEMS)
                    # and the analyst index holds them, and every projection (audit too) has no backlog
                    if indexed >= routed and _count(db, CAUGHT_UP) >= 4:
                        stored_s = time.perf_counter() - t0
                        break
            _say(progress, f"backfill: {int(processed)}/{target} processed, {items} feed items stored")
            for p in (sink, gw, worker):
                if p.popen.poll() is not None:
                    raise RuntimeError(f"{p.name} exited; see {p.log_path}")
            time.sleep(0.5)
        cpu = {p.name: round((cpu_seconds(p.pid) or 0.0) - cpu0.get(p.name, 0.0), 1) for p in c.procs}
        audit = _count(db, "SELECT COUNT(*) FROM audit_log")
        peaks = _peaks(c)
    total_s = stored_s if stored_s is not None else None
    return {
        "reports": reports, "batches": len(jobs), "batch_size": batch, "concurrency": concurrency,
        "generate_seconds": round(gen_s, 1), **posted, "ingest_seconds": round(ingest_s, 1),
        "processed": int(processed), "processed_seconds": _r(processed_s), "feed_items": items,
        "routed": int(routed), "indexed_items": indexed, "audit_events": audit, "seconds": _r(total_s),
        "feeds_seconds": _r(feeds_s), "complete": stored_s is not None,
        "reports_per_s": round(target / total_s, 1) if total_s else None, "cpu_seconds": cpu,
        "peak_rss_mb": peaks,
    }
