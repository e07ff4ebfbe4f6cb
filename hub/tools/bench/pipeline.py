"""Pipeline figures: sustained end-to-end throughput and latency at a fixed offered load.

Both drive real ``hub worker`` processes on a fresh broker (see :mod:`hub.tools.bench.procs`):

* throughput: the intake topic is pre-loaded with N reports, then the workers start; the rate is
  N over the span from the first intake record taken to the last report processed (feed items and
  audit events acknowledged), read from the marks the workers export
  (``hub_pipeline_mark_timestamp_seconds``: wall time of each agent's first batch and latest batch
  end), so the workers' start-up and group join are excluded, the figure does not depend on how
  often the bench polls, and the bench process does no decoding while the pipeline runs; worker CPU
  per report likewise from ``hub_pipeline_mark_cpu_seconds`` (process CPU at the same moments;
  ``cpu_ms_per_report_incl_startup`` is /proc from the workers' /healthz to the end); the Kafka records the
  workers produced (by topic class) and their Avro writer calls (by type) per report come from their
  counters too (``hub_pipeline_records_produced_total``, ``hub_pipeline_avro_encodes_total``);
* latency: one worker runs; reports are produced at a fixed rate; a consumer on every feed topic
  takes, for each report, its first feed item; latency = the feed record's timestamp (set by the
  worker's producer) minus the moment the bench handed the report to its producer.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from hub.domain.codec import REPORT, codec
from hub.platform.kafka import io as kafka
from hub.platform.kafka.topics import INTAKE, ensure_topics, feed
from hub.platform.settings import Settings
from hub.tools.bench.procs import Cluster, cluster, cpu_seconds, scrape, wait_http
from hub.tools.bench.workload import intake_records

Progress = Callable[[str], None]
PROCESSED = ("hub_end_to_end_latency_seconds_count", "hub_reports_duplicate_total")
# what one report costs, counted by the workers themselves (hub/pipeline/shell/output.py, feedcodec.Encoder)
RECORDS = ("hub_pipeline_records_produced_total", "topic")
ENCODES = ("hub_pipeline_avro_encodes_total", "type")
_LABELLED = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} ([0-9.eE+-]+)$')


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """Samples of metric ``name`` in a Prometheus text page, summed per value of ``label``."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _LABELLED.match(line)
        if not m or m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        key = labels.get(label, "")
        out[key] = out.get(key, 0.0) + float(m.group(3))
    return out


def per_report(ports: Sequence[int], metric: tuple[str, str], n: int) -> dict[str, Any]:
    """``metric`` summed over the workers, per report: the total and by label value."""
    total: dict[str, float] = {}
    for port in ports:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
        except httpx.HTTPError:
            continue
        for k, v in by_label(text, *metric).items():
            total[k] = total.get(k, 0.0) + v
    return {"total": round(sum(total.values()) / max(1, n), 2),
            "by": {k: round(v / max(1, n), 2) for k, v in sorted(total.items())}}


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


async def _preload(settings: Settings, records: Sequence[tuple[bytes, bytes, list]]) -> None:
    prod = kafka.producer(settings)
    await prod.start()
    try:
        futures = [await prod.send(INTAKE, v, key=k, headers=h) for k, v, h in records]
        await asyncio.gather(*futures)
    finally:
        await prod.stop()


MARK_TIME, MARK_CPU = "hub_pipeline_mark_timestamp_seconds", "hub_pipeline_mark_cpu_seconds"
_MARK = re.compile(r'^(hub_pipeline_mark_(?:timestamp|cpu)_seconds)\{([^}]*)\} ([0-9.eE+-]+)$')


def marks(text: str) -> dict[tuple[str, str, str], float]:
    """The workers' progress marks on one /metrics page: (metric, agent, mark) -> value."""
    out = {}
    for line in text.splitlines():
        m = _MARK.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            out[(m.group(1), labels.get("agent", ""), labels.get("mark", ""))] = float(m.group(3))
    return out


def span(pages: Sequence[dict[tuple[str, str, str], float]]) -> tuple[float | None, float | None]:
    """(wall seconds, worker CPU seconds) of the pipeline's work, from the workers' marks: wall = the
    latest ``last_done`` of any agent minus the earliest ``first_input``; CPU = the sum over workers
    of their process CPU between their own first and last mark. Start-up, group join and table
    recovery come before the first input and are excluded; so is the bench's own polling."""
    firsts = [v for p in pages for (n, _a, mk), v in p.items() if n == MARK_TIME and mk == "first_input"]
    lasts = [v for p in pages for (n, _a, mk), v in p.items() if n == MARK_TIME and mk == "last_done"]
    wall = max(lasts) - min(firsts) if firsts and lasts else None
    cpu = 0.0
    seen = False
    for p in pages:
        c0 = [v for (n, _a, mk), v in p.items() if n == MARK_CPU and mk == "first_input"]
        c1 = [v for (n, _a, mk), v in p.items() if n == MARK_CPU and mk == "last_done"]
        if c0 and c1:
            cpu += max(c1) - min(c0)
            seen = True
    return wall, (cpu if seen else None)


def _pages(ports: Sequence[int]) -> list[dict[tuple[str, str, str], float]]:
    out = []
    for port in ports:
        try:
            out.append(marks(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text))
        except httpx.HTTPError:
            continue
    return out


def _processed(ports: Sequence[int]) -> float:
    total = 0.0
    for port in ports:
        try:
            got = scrape(port, PROCESSED)
        except Exception:  # a worker busy starting up; count it next time
            continue
        total += sum(got.values())
    return total


def _start_workers(c: Cluster, count: int, **env: str) -> list[Any]:
    workers = [c.start_worker(i + 1, **env) for i in range(count)]
    for w in workers:
        wait_http(f"http://127.0.0.1:{w.port}/healthz", w, timeout=90)
    profile = os.environ.get("HUB_BENCH_PROFILE")
    if profile:
        for w in workers:
            c.profile(w, Path(profile) / c.workdir.name)
    return workers


def throughput(base: Settings, workdir: Path, items: Sequence[Any], *, workers: int, bootstrap: str | None = None,
               timeout: float = 600.0, progress: Progress | None = None, env: dict[str, str] | None = None
               ) -> dict[str, Any]:
    """Drain N pre-loaded reports through ``workers`` worker processes; reports/s end to end."""
    records = intake_records(items)
    n = len(records)
    with cluster(base, workdir, bootstrap=bootstrap) as c:
        asyncio.run(ensure_topics(c.settings))
        t = time.perf_counter()
        asyncio.run(_preload(c.settings, records))
        preload_s = time.perf_counter() - t
        ws = _start_workers(c, workers, **(env or {}))
        ports = [w.port for w in ws]
        cpu0 = {w.name: cpu_seconds(w.pid) or 0.0 for w in ws}
        bcpu0 = cpu_seconds(c.broker.proc.pid) if c.broker and c.broker.proc else None
        done = 0.0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = _processed(ports)
            c.sample()
            if progress:
                progress(f"throughput, {workers} worker(s): {int(done)}/{n} reports")
            if done >= n:
                break
            time.sleep(0.25)
        secs, work_cpu = span(_pages(ports))
        counts = {"feed_items": 0.0}
        for port in ports:
            try:
                got = scrape(port, ("hub_reports_routed_total",))
                counts["feed_items"] += got["hub_reports_routed_total"]
            except Exception:
                pass
        records = per_report(ports, RECORDS, n)
        encodes = per_report(ports, ENCODES, n)
        cpu = {w.name: round((cpu_seconds(w.pid) or 0.0) - cpu0[w.name], 2) for w in ws}
        broker_cpu = (round(cpu_seconds(c.broker.proc.pid) - bcpu0, 2)
                      if bcpu0 is not None and c.broker and c.broker.proc else None)
        c.sample()
        peak = {p.name: round(p.peak_mb or 0, 1) for p in c.procs}
        if c.broker:
            peak["broker"] = round(c.broker_peak_mb() or 0, 1)
    return {
        "workers": workers, "reports": n, "processed": int(done), "complete": done >= n,
        "seconds": round(secs, 3) if secs is not None else None,
        "reports_per_s": round(done / secs, 1) if secs else None,
        "preload_seconds": round(preload_s, 2), "feed_items_per_report": round(counts["feed_items"] / max(1, n), 2),
        "records_per_report": records, "avro_writes_per_report": encodes,
        "cpu_seconds": cpu, "broker_cpu_seconds": broker_cpu,
        "cpu_ms_per_report": round(1000 * work_cpu / max(1, n), 3) if work_cpu is not None else None,
        "cpu_ms_per_report_incl_startup": round(1000 * sum(cpu.values()) / max(1, n), 3),
        "peak_rss_mb": peak,
    }


async def _latency_run(settings: Settings, items: Sequence[Any], rate: float, ports: Sequence[int],
                       progress: Progress | None) -> dict[str, Any]:
    c = codec()
    records = intake_records(items)
    reps = [it.report for it in items]
    sent: dict[str, int] = {}
    first: dict[str, int] = {}
    topics = [feed(r) for r in settings.recipients]
    cons = kafka.consumer(settings, *topics, group_id=f"bench-lat-{uuid.uuid4().hex[:8]}", max_poll_records=5000)
    prod = kafka.producer(settings)
    await prod.start()
    await cons.start()
    stop = asyncio.Event()

    async def collect() -> None:
        while not stop.is_set():
            batch = await cons.getmany(timeout_ms=200, max_records=5000)
            for msgs in batch.values():
                for m in msgs:
                    rid = None
                    for k, v in m.headers or ():
                        if k == "item_id":
                            rid = v.decode().split(":", 1)[0]
                            break
                    if rid and rid not in first:
                        first[rid] = m.timestamp

    task = asyncio.create_task(collect())
    try:
        # warm-up: the consumer's group join and the worker's first fetches are not part of the figure
        await asyncio.sleep(4.0)
        tick = 0.01
        per_tick = rate * tick
        t0 = time.perf_counter()
        credit = 0.0
        i = 0
        futures = []
        while i < len(records):
            credit += per_tick
            while credit >= 1 and i < len(records):
                k, _v, h = records[i]
                rep = dict(reps[i])
                now_ms = int(time.time() * 1000)
                rep["received_at"] = now_ms
                sent[rep["report_id"]] = now_ms
                futures.append(await prod.send(INTAKE, c.encode(REPORT, rep), key=k, headers=h))
                i += 1
                credit -= 1
            if progress and i % max(1, int(rate)) == 0:
                progress(f"latency at {rate:g}/s: {i}/{len(records)} sent, {len(first)} routed")
            target = t0 + (i / rate)
            delay = target - time.perf_counter()
            await asyncio.sleep(max(0.0, min(delay, tick)) if delay > 0 else 0)
        offered = len(records) / (time.perf_counter() - t0)
        await asyncio.gather(*futures)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _processed(ports) < len(records):
            await asyncio.sleep(0.2)
        processed = _processed(ports)
        await asyncio.sleep(1.0)  # the last feed items reach the consumer
    finally:
        stop.set()
        await task
        await cons.stop()
        await prod.stop()
    lat = [first[r] - sent[r] for r in sent if r in first]
    # saturated: the worker had not processed everything 30 s after the last send, so the percentiles
    # only describe the reports that made it (the true tail is longer)
    return {
        "offered_per_s": round(offered, 1), "reports": len(records), "processed": int(processed),
        "saturated": processed < len(records), "with_feed_items": len(lat),
        "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95), "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else None,
    }


def latency(base: Settings, workdir: Path, items: Sequence[Any], *, rate: float, bootstrap: str | None = None,
            progress: Progress | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Ingest→feed-item latency percentiles at ``rate`` reports/s offered by one producer, one worker."""
    with cluster(base, workdir, bootstrap=bootstrap) as c:
        asyncio.run(ensure_topics(c.settings))
        ws = _start_workers(c, 1, **(env or {}))
        out = asyncio.run(_latency_run(c.settings, items, rate, [w.port for w in ws], progress))
        c.sample()
        out["peak_rss_mb"] = {p.name: round(p.peak_mb or 0, 1) for p in c.procs}
    out["rate"] = rate
    return out
