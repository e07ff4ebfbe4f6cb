"""REST ingest figures: requests/s and latency of ``POST /v1/reports`` and ``/v1/reports/batch``.

A real ``hub gateway`` process on a fresh broker; agencies and keys are registered in its database
the way ``hub agency add``/``key`` do. The load comes from an aiohttp client in the bench process with a
fixed number of concurrent connections; every report is new (unique source_ref), so each request
does the full work: auth, validation, ledger lookup, produce with acks=all, ledger write, audit.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from hub.directory.agencies import Directory
from hub.platform.db import Database
from hub.platform.kafka.topics import ensure_topics
from hub.platform.settings import Settings
from hub.tools.bench.pipeline import percentile
from hub.tools.bench.procs import cluster, cpu_seconds, wait_http

Progress = Callable[[str], None]


def _keys(settings: Settings, agencies: set[tuple[str, str]]) -> dict[str, str]:
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    directory = Directory(Database(settings.db_url))
    out = {}
    for code, state in sorted(agencies):
        directory.add(code, state, f"{code} (bench)")
        out[code] = directory.issue_key(code)
    return out


async def _drive(url: str, jobs: Sequence[tuple[str, bytes, str]], concurrency: int, expect: int,
                 progress: Progress | None, label: str) -> dict[str, Any]:
    """POST every (token, body, content type) with ``concurrency`` clients; time each request."""
    lat: list[float] = []
    statuses: dict[int, int] = {}
    nxt = 0
    conn = aiohttp.TCPConnector(limit=concurrency)

    async with aiohttp.ClientSession(connector=conn) as session:
        async def client() -> None:
            nonlocal nxt
            while nxt < len(jobs):
                token, body, ctype = jobs[nxt]
                nxt += 1
                t = time.perf_counter()
                async with session.post(url, data=body, headers={
                        "Authorization": f"Bearer {token}", "Content-Type": ctype}) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                lat.append((time.perf_counter() - t) * 1000)
                if progress and len(lat) % 200 == 0:
                    progress(f"REST {label}: {len(lat)}/{len(jobs)} requests")

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        secs = time.perf_counter() - t0
    return {
        "requests": len(jobs), "concurrency": concurrency, "seconds": round(secs, 3),
        "requests_per_s": round(len(jobs) / secs, 1), "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "all_accepted": statuses.get(expect, 0) == len(jobs),
        "p50_ms": round(percentile(lat, 50) or 0, 2), "p95_ms": round(percentile(lat, 95) or 0, 2),
        "p99_ms": round(percentile(lat, 99) or 0, 2),
    }


def rest(base: Settings, workdir: Path, items: Sequence[Any], *, single: int, batches: int, batch_size: int,
         concurrency: int, bootstrap: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Single-report and batch ingest against one gateway process (no worker: ingest is measured alone)."""
    if len(items) < single + batch_size:
        raise ValueError(f"REST bench needs at least {single + batch_size} reports, got {len(items)}")
    with cluster(base, workdir, bootstrap=bootstrap) as c:
        asyncio.run(ensure_topics(c.settings))
        keys = _keys(c.settings, {(it.agency, it.state) for it in items})
        gw = c.start_gateway()
        wait_http(f"http://127.0.0.1:{gw.port}/readyz", gw, timeout=60)
        if os.environ.get("HUB_BENCH_PROFILE"):
            c.profile(gw, Path(os.environ["HUB_BENCH_PROFILE"]) / c.workdir.name)
        base_url = f"http://127.0.0.1:{gw.port}"
        jobs = [(keys[it.agency], orjson.dumps(it.body), "application/json") for it in items[:single]]
        cpu0 = cpu_seconds(gw.pid) or 0.0
        out: dict[str, Any] = {"single": asyncio.run(_drive(f"{base_url}/v1/reports", jobs, concurrency, 202,
                                                            progress, "single"))}
        cpu1 = cpu_seconds(gw.pid) or 0.0
        out["single"]["gateway_cpu_ms_per_request"] = round(1000 * (cpu1 - cpu0) / max(1, len(jobs)), 3)
        by_agency: dict[str, list[Any]] = {}
        for it in items[single:]:
            by_agency.setdefault(it.agency, []).append(it)
        bjobs = []
        for agency, group in by_agency.items():  # the key decides the reporter: one agency per batch
            for i in range(0, len(group), batch_size):  # full batches, then each agency's remainder
                chunk = group[i:i + batch_size]
                nd = b"\n".join(orjson.dumps(it.body) for it in chunk)
                bjobs.append((keys[agency], nd, "application/x-ndjson", len(chunk)))
        bjobs.sort(key=lambda j: -j[3])  # the fullest batches first (stable: agency order otherwise)
        bjobs = bjobs[:batches]
        batch = asyncio.run(_drive(f"{base_url}/v1/reports/batch", [j[:3] for j in bjobs],
                                   max(1, concurrency // 8), 202, progress, "batch"))
        reports = sum(j[3] for j in bjobs)
        batch["gateway_cpu_ms_per_report"] = round(1000 * ((cpu_seconds(gw.pid) or 0.0) - cpu1) / max(1, reports), 3)
        batch["reports"] = reports
        batch["reports_per_s"] = round(reports / batch["seconds"], 1) if batch["seconds"] else None
        batch["batch_size"] = round(reports / max(1, len(bjobs)), 1)
        out["batch"] = batch
        c.sample()
        out["peak_rss_mb"] = {p.name: round(p.peak_mb or 0, 1) for p in c.procs}
    return out
