"""``hub bench``: drive the real pipeline, gateway and stores and print/record the figures."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hub.platform.settings import Settings


def _ints(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(x.replace("_", "")) for x in value.split(",") if x.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected a comma list of integers, got {value!r}") from exc


def _floats(value: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in value.split(",") if x.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected a comma list of numbers, got {value!r}", param_hint=option) from exc


@click.command("bench")
@click.option("--smoke", is_flag=True, help="tiny sizes: proves every section works in well under a minute.")
@click.option("--reports", type=int, help="reports for the throughput runs (default 20000).")
@click.option("--workers", "workers", help="worker counts for the throughput runs, comma list (default 1,2).")
@click.option("--rate", "rates", help="offered loads of the latency runs, reports/s, comma list (default 1000,100).")
@click.option("--latency-seconds", type=float, help="length of each latency run (default 10).")
@click.option("--rest-requests", type=int, help="single-report requests in the REST run (default 3000).")
@click.option("--rest-concurrency", type=int, help="concurrent REST clients (default 32).")
@click.option("--dedup-keys", help="dedup-state sizes to measure, comma list (default 1000000,10000000).")
@click.option("--partitions", type=int, help="partitions of the hub topics (default 4).")
@click.option("--sse-rate", "sse_rates", help="offered loads of the SSE latency runs (intake → item seen by an SSE "
              "subscriber), reports/s, comma list (default 1000,100).")
@click.option("--sink-reports", type=int, help="reports whose feed items and audit events the sink run stores "
              "(default 20000).")
@click.option("--sink-split", is_flag=True, help="run the sink and SSE sections with two sink processes: `hub sink "
              "--projection feeds` (the feed projection alone) beside one with the other projections.")
@click.option("--backfill-reports", type=int, help="reports of the backfill run through the whole hub "
              "(default 204013, the region's seizure history by end-2018).")
@click.option("--only", help="comma list of sections to run: reference,throughput,latency,rest,sse,sink,fanout,backfill,"
              "dedup,search,pages.")
@click.option("--fanout-streams", type=int, help="SSE streams the fan-out run holds on one gateway (default 500).")
@click.option("--search-items", type=int, help="stored feed items of the search run (default 200000).")
@click.option("--page-items", type=int, help="feed items the officer page loads in the pages run (default 10000).")
@click.option("--bootstrap", help="use this Kafka instead of a fresh embedded broker per run "
              "(topics must be empty: use a throw-away cluster).")
@click.option("--kafka", "fresh_kafka", is_flag=True, help="a fresh, throw-away Apache Kafka (hub kafka's, "
              "single-node KRaft) per run instead of the embedded broker.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="JSON results file "
              "(default bench-results/bench-<time>.json).")
@click.option("--write-md", "write_md", type=click.Path(dir_okay=False),
              help="also write the table into this Markdown file (e.g. BENCHMARKS.md), between the bench markers.")
@click.option("--profile", "profile", type=click.Path(file_okay=False),
              help="sample every worker with py-spy (collapsed stacks in this directory; slows the run).")
@click.pass_obj
def bench(settings: Settings, smoke: bool, reports: int | None, workers: str | None, rates: str | None,
          latency_seconds: float | None, rest_requests: int | None, rest_concurrency: int | None,
          dedup_keys: str | None, partitions: int | None, sse_rates: str | None, sink_reports: int | None,
          backfill_reports: int | None, only: str | None, search_items: int | None, bootstrap: str | None,
          out: str | None, write_md: str | None, profile: str | None, fresh_kafka: bool,
          fanout_streams: int | None, sink_split: bool, page_items: int | None) -> None:
    """Benchmark the hub on this machine and print a table (JSON in bench-results/).

    Sections: the two reference points (codec floor; raw aiokafka pass-through), end-to-end pipeline
    throughput with 1 and 2 `hub worker` processes, intake→feed latency at a fixed offered load, REST
    ingest (single and batch) against a `hub gateway`, intake→SSE-subscriber latency (worker + sink +
    gateway + one real SSE client per state; the sink + gateway part by step, from their debug lines), the sink's storage rate (feed items, audit events and
    indexed items per second, each projection to its own end), one gateway holding 500 SSE streams
    under the 100/s load (memory per stream, latency per delivery), a backfill of 204,013 reports through the whole hub (REST batches → worker → sink → stores:
    time and peak RSS of every process), dedup-state size for 1M/10M keys, the analyst search over
    200,000 stored feed items, the officer page in headless Chromium with 10,000 items in its feed
    (time to first items; main-thread time of one live item, from Chromium's performance trace), and
    the peak RSS of every process. Each run uses a fresh embedded broker
    unless --kafka (a fresh Apache Kafka per run) or --bootstrap is given.
    Regenerate BENCHMARKS.md's table with: hub bench --write-md BENCHMARKS.md
    """
    from dataclasses import replace

    from hub.tools.bench import report
    from hub.tools.bench.run import RUNNABLE, Plan, run

    if fresh_kafka and bootstrap:
        raise click.BadParameter("give --kafka or --bootstrap, not both", param_hint="--kafka")
    if fresh_kafka:
        from hub.tools.bench.procs import FRESH_KAFKA

        bootstrap = FRESH_KAFKA
    plan = Plan.smoke() if smoke else Plan()
    # the plan's fields the options change (an option left out, or 0, keeps the plan's value)
    given: dict[str, tuple[Any, Callable[[Any], Any] | None]] = {
        "reports": (reports, None), "workers": (workers, _ints),
        "latency_rates": (rates, lambda v: _floats(v, "--rate")), "latency_seconds": (latency_seconds, None),
        "rest_single": (rest_requests, None), "rest_concurrency": (rest_concurrency, None),
        "dedup_keys": (dedup_keys, _ints), "partitions": (partitions, None),
        "sse_rates": (sse_rates, lambda v: _floats(v, "--sse-rate")), "sink_reports": (sink_reports, None),
        "backfill_reports": (backfill_reports, None), "search_items": (search_items, None),
        "fanout_streams": (fanout_streams, None), "page_items": (page_items, None)}
    changes = {field: parse(value) if parse else value for field, (value, parse) in given.items() if value}
    plan = replace(plan, **changes, **({"sink_split": True} if sink_split else {}))
    sections = [s.strip() for s in only.split(",")] if only else None
    for s in sections or []:
        if s not in RUNNABLE:
            raise click.BadParameter(f"unknown section {s!r}; choose from {', '.join(RUNNABLE)}", param_hint="--only")
    if profile:
        os.environ["HUB_BENCH_PROFILE"] = str(Path(profile).resolve())
    outdir = Path("bench-results")
    outdir.mkdir(exist_ok=True)
    tty = sys.stderr.isatty()
    started = time.monotonic()

    def progress(msg: str) -> None:
        line = f"[{time.monotonic() - started:6.1f}s] {msg}"
        if tty:
            click.echo(f"\r\033[K{line}", nl=False, err=True)
        else:
            click.echo(line, err=True)

    res = run(plan, settings, outdir, bootstrap=bootstrap, progress=progress, only=sections)
    if tty:
        click.echo("", err=True)
    path = Path(out) if out else outdir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    _table(report.rows(res), res)
    click.echo(f"\nresults: {path}")
    if write_md:
        report.write_md(Path(write_md), res)
        click.echo(f"table written to {write_md}")


def _table(rows: list[tuple[str, str, str, str]], res: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    m = res["machine"]
    t = Table(title=f"hub bench — {m['nproc']} CPU {m['cpu']}, {m['ram_mb']:,} MB, commit {m['commit']}, "
                    f"{m['date']}")
    for col in ("figure", "value", "target", "load"):
        t.add_column(col)
    for r in rows:
        t.add_row(*r)
    Console(width=max(120, Console().width)).print(t)


commands = [bench]
