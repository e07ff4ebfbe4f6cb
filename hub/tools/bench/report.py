"""The results as rows: one table for the terminal and the same table as Markdown for BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _ms3(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def _n(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        s = f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"
    else:
        s = f"{v:,}" if isinstance(v, int) else str(v)
    return f"{s}{unit}"


def _breakdown_rows(bd: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The sse section's feed record → SSE time by step (:mod:`hub.tools.bench.trace`), one row."""
    if not bd.get("reports"):
        return []
    return [(f"  feed record→SSE by step ({bd['reports']:,} reports traced), p50/p99 ms",
             " · ".join(f"{s['step']} {_n(s['p50_ms'])}/{_n(s['p99_ms'])}" for s in bd["steps"])
             + (f" (a bare consumer's fetch: {_n(bd['bare_fetch']['p50_ms'])}/{_n(bd['bare_fetch']['p99_ms'])})"
                if bd.get("bare_fetch") else ""), "", "")]


def _worker_rows(bd: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The sse section's intake record → feed record time in the worker, by step, one row."""
    if not bd.get("records"):
        return []
    return [(f"  worker by step ({bd['records']:,} intake records, {bd['batches']:,} batches), p50/p99 ms",
             " · ".join(f"{s['step']} {_n(s['p50_ms'])}/{_n(s['p99_ms'])}" for s in bd["steps"]), "", "")]


def rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, load) rows."""
    out: list[tuple[str, str, str, str]] = []
    tg = res.get("targets") or {}

    def target(name: str) -> str:
        t = tg.get(name) or {}
        if "target" not in t:
            return ""
        mark = {True: "met", False: "NOT met", None: "n/a"}[t.get("met")]
        from hub.tools.bench.run import LOWER_IS_BETTER

        op = "≤" if name in LOWER_IS_BETTER else "≥"
        v = t["target"]
        shown = f"{v:g}" if isinstance(v, float) and abs(v) < 1 else _n(v)  # 0.25, not 0.2
        return f"{op} {shown} ({mark})"

    ref = res.get("reference")
    if ref:
        out.append(("codec floor (decode+encode), reports/s", _n(ref["codec_floor_per_s"]), "", ref["load"]))
        out.append(("raw aiokafka pass-through, reports/s", _n(ref["passthrough_per_s"]), "", ref["load"]))
    best = max((t.get("reports_per_s") or 0 for t in res.get("throughput") or []), default=0)
    for t in res.get("throughput") or []:
        is_best = t.get("reports_per_s") == best
        note = "" if t["complete"] else f" (only {t['processed']}/{t['reports']})"
        out.append((f"pipeline end to end, {t['workers']} worker(s), reports/s",
                    _n(t["reports_per_s"]) + note, target("throughput_reports_per_s") if is_best else "", t["load"]))
        r = (res.get("ratios") or {}).get(f"{t['workers']}_worker")
        if r:
            out.append((f"  ratio to codec floor / to pass-through ({t['workers']} worker(s))",
                        f"{r['to_codec_floor']:.3f} / {r['to_passthrough']:.3f}",
                        target("ratio_to_codec_floor") if is_best else "", ""))
        out.append((f"  worker CPU per report ({t['workers']} worker(s))", _n(t["cpu_ms_per_report"], " ms"), "", ""))
        rec, enc = t.get("records_per_report"), t.get("avro_writes_per_report")
        if rec and enc:  # counted by the workers (hub_pipeline_records_produced_total / _avro_encodes_total)
            out.append((f"  Kafka records / Avro writes per report ({t['workers']} worker(s))",
                        f"{rec['total']} ({', '.join(f'{k} {v}' for k, v in rec['by'].items())}) / "
                        f"{enc['total']} ({', '.join(f'{k} {v}' for k, v in enc['by'].items())})", "", ""))
        out.append((f"  peak RSS ({t['workers']} worker(s))",
                    ", ".join(f"{k} {_n(v)} MB" for k, v in t["peak_rss_mb"].items()), "", ""))
    lats = res.get("latency") or []
    top = max((x["rate"] for x in lats), default=None)
    for lat in lats:
        sat = (f" — SATURATED: {lat['processed']:,}/{lat['reports']:,} processed 30 s after the last send"
               if lat.get("saturated") else "")
        out.append((f"latency intake→feed at {_n(lat['offered_per_s'])}/s offered, 1 worker, p50/p95/p99",
                    f"{_n(lat['p50_ms'])} / {_n(lat['p95_ms'])} / {_n(lat['p99_ms'])} ms{sat}",
                    target("latency_p99_ms") if lat["rate"] == top else "", lat["load"]))
    rs = res.get("rest")
    if rs:
        s, b = rs["single"], rs["batch"]
        bad = "" if s["all_accepted"] else f" (NOT all 202: {s['statuses']})"
        out.append((f"REST POST /v1/reports, {s['concurrency']} clients, req/s",
                    _n(s["requests_per_s"]) + bad, target("rest_requests_per_s"), rs["load"]))
        out.append(("  latency p50/p95/p99", f"{_n(s['p50_ms'])} / {_n(s['p95_ms'])} / {_n(s['p99_ms'])} ms", "", ""))
        out.append(("  gateway CPU per request", _n(s.get("gateway_cpu_ms_per_request"), " ms"),
                    target("rest_cpu_ms_per_request"), ""))
        bad = "" if b["all_accepted"] else f" (NOT all 202: {b['statuses']})"
        out.append((f"REST POST /v1/reports/batch ({_n(b['batch_size'])}/batch), req/s; reports/s",
                    f"{_n(b['requests_per_s'])}; {_n(b['reports_per_s'])}{bad}", target("rest_batch_reports_per_s"),
                    rs["load"]))
        out.append(("  latency p50/p95/p99", f"{_n(b['p50_ms'])} / {_n(b['p95_ms'])} / {_n(b['p99_ms'])} ms", "", ""))
        out.append(("  gateway CPU per report (batch)", _n(b.get("gateway_cpu_ms_per_report"), " ms"), "", ""))
        out.append(("  peak RSS", ", ".join(f"{k} {_n(v)} MB" for k, v in rs["peak_rss_mb"].items()), "", ""))
    for x in res.get("sse") or []:
        sat = (f" — SATURATED: {x['processed']:,}/{x['reports']:,} processed 30 s after the last send"
               if x.get("saturated") else "")
        name = f"sse_p99_ms_at_{int(x['rate'])}"
        out.append((f"latency intake→SSE subscriber at {_n(x['offered_per_s'])}/s offered, p50/p95/p99",
                    f"{_n(x['p50_ms'])} / {_n(x['p95_ms'])} / {_n(x['p99_ms'])} ms{sat}",
                    target(name) if name in tg else "", x["load"]))
        out.append(("  of which intake→feed record (worker) / feed record→SSE (sink+gateway), p50 | p99",
                    f"{_n(x.get('pipeline_p50_ms'))} / {_n(x.get('serving_p50_ms'))} | "
                    f"{_n(x.get('pipeline_p99_ms'))} / {_n(x.get('serving_p99_ms'))} ms", "", ""))
        out += _worker_rows(x.get("worker_breakdown") or {})
        out += _breakdown_rows(x.get("breakdown") or {})
        out.append((f"  seen by {x['subscribers']} SSE subscribers / routed / reports; peak RSS",
                    f"{x['seen_by_subscribers']:,}/{_n(x.get('routed_reports'))}/{x['reports']:,}; "
                    + ", ".join(f"{k} {_n(v)} MB" for k, v in x["peak_rss_mb"].items()), "", ""))
    sk = res.get("sink")
    if sk:
        note = "" if sk["complete"] else f" (only {sk['stored_items']}/{sk['feed_items']} items)"
        split = " (feeds in its own process)" if sk.get("split") else ""
        out.append((f"sink: feed items / audit events / indexed items stored per s (each projection to its own end){split}",
                    f"{_n(sk['items_per_s'])} / {_n(sk['events_per_s'])} / {_n(sk.get('indexed_per_s'))}{note}",
                    target("sink_feed_items_per_s") if "sink_feed_items_per_s" in tg else "", sk["load"]))
        out.append(("  sink CPU (per row); peak RSS",
                    f"{_n(sk['sink_cpu_seconds'], ' s')} ({_ms3(sk.get('sink_cpu_ms_per_row'))} ms) for "
                    f"{sk['feed_items']:,} items (indexed) + {sk['audit_events']:,} events; "
                    f"sink {_n(sk['peak_rss_mb'].get('sink'))} MB"
                    + (f"; the feed process {_ms3(sk.get('feeds_cpu_ms_per_item'))} ms per item, "
                       f"{_n(sk['peak_rss_mb'].get('sink-feeds'))} MB" if sk.get("split") else ""), "", ""))
    fo = res.get("fanout")
    if fo:
        out.append((f"fan-out: {fo['streams']} SSE streams on one gateway at {_n(fo['offered_per_s'])}/s offered, "
                    "p50/p95/p99 per delivery",
                    f"{_n(fo['p50_ms'])} / {_n(fo['p95_ms'])} / {_n(fo['p99_ms'])} ms",
                    target("fanout_p99_ms"), fo["load"]))
        rss = fo["gateway_rss_mb"]
        out.append(("  memory per open stream; gateway RSS before / streams open / end",
                    f"{_n(fo.get('kb_per_stream'))} KB; {_n(rss.get('before_streams'))} / {_n(rss.get('streams_open'))} / "
                    f"{_n(rss.get('end'))} MB", "", ""))
        out.append(("  deliveries seen / expected; gateway CPU per delivery",
                    f"{fo['deliveries']:,}/{fo['deliveries_expected']:,}; "
                    f"{_ms3(fo.get('gateway_cpu_ms_per_delivery'))} ms", "", ""))
    bf = res.get("backfill")
    if bf:
        note = "" if bf["complete"] else f" (NOT complete: {bf['processed']:,} processed)"
        out.append((f"backfill: {bf['reports']:,} reports, REST batches of {bf['batch_size']:,} → stores, seconds",
                    f"{_n(bf['seconds'])}{note} ({_n(bf['reports_per_s'])} reports/s; ingest {_n(bf['ingest_seconds'])} s"
                    + (f"; feed store complete at {_n(bf['feeds_seconds'])} s" if bf.get("feeds_seconds") else "") + ")",
                    target("backfill_seconds"), bf["load"]))
        out.append(("  backfill peak RSS", ", ".join(f"{k} {_n(v)} MB" for k, v in bf["peak_rss_mb"].items()),
                    target("backfill_rss_mb"), ""))
    for d in res.get("dedup") or []:
        out.append((f"dedup state, {d['keys']:,} keys (rocksdict): peak RSS / on disk",
                    f"{_n(d['peak_rss_mb'])} MB / {_n(d['disk_mb'])} MB",
                    target("dedup_10m_rss_mb") if d["keys"] >= 10_000_000 else "", d["load"]))
    sr = res.get("search")
    if sr:
        out.append((f"analyst search over {sr['items']:,} stored items ({sr['database']}), p50/p95/p99",
                    f"{_n(sr['p50_ms'])} / {_n(sr['p95_ms'])} / {_n(sr['p99_ms'])} ms", target("search_p95_ms"),
                    sr["load"]))
        out.append(("  CPU time per search p50/p95", f"{_n(sr['cpu_p50_ms'])} / {_n(sr['cpu_p95_ms'])} ms", "", ""))
        out.append(("  p95 per kind of query", ", ".join(f"{k} {_n(v)}" for k, v in sr["p95_by_kind_ms"].items())
                    + " ms", "", ""))
        out.append(("  p95 incident list / one incident / a statistic",
                    " / ".join(_n(sr["other_p95_ms"].get(k)) for k in ("incidents", "incident", "stats")) + " ms",
                    "", ""))
        out.append(("  indexing through the projection, items/s", _n(sr["index_items_per_s"]), "", ""))
    out += _page_rows(res.get("pages"), target)
    return out


def _page_rows(pg: dict[str, Any] | None, target: Any) -> list[tuple[str, str, str, str]]:
    if not pg:
        return []
    return [
        (f"officer page (Chromium), {pg['items']:,} items in the feed: navigation → first items / all shown, "
         "median of 3 loads",
         f"{_n(pg['first_items_ms'])} / {_n(pg['all_items_ms'])} ms (slowest {_n(pg['first_items_max_ms'])}"
         f" / {_n(pg['all_items_max_ms'])} ms)", target("page_first_items_ms"), pg["load"]),
        (f"  one live item with {pg['rows_shown']:,} shown: main-thread CPU time arrival → its frame, "
         f"median / max of {pg['live_traced']} (wall time median / max)",
         f"{_n(pg['live_main_thread_cpu_median_ms'])} / {_n(pg['live_main_thread_cpu_max_ms'])} ms "
         f"({_n(pg['live_main_thread_median_ms'])} / {_n(pg['live_main_thread_max_ms'])} ms)",
         target("page_live_item_main_thread_ms"), ""),
        (f"  the same with the page's follow-ups ({pg.get('follow_up_s', 2.5):g} s after each item), median / max",
         f"{_n(pg['live_with_follow_ups_cpu_median_ms'])} / {_n(pg['live_with_follow_ups_cpu_max_ms'])} ms", "", ""),
    ]


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    head = (f"Run {m['date']}, commit `{m['commit']}`, {m['nproc']} CPU ({m['cpu']}), {m['ram_mb']:,} MB RAM, "
            f"Python {m['python']}; workload: {res['workload']}; broker: {res['bootstrap']}; "
            f"load average at start {m['load_at_start']}.\n\n")
    lines = ["| figure | value | target | load (1/5/15 min) |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(res)]
    return head + "\n".join(lines) + "\n"


def write_md(path: Path, res: dict[str, Any]) -> None:
    """Replace the generated block of ``path`` (between the bench markers), or append one."""
    block = f"{BEGIN}\n{markdown(res)}{END}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
