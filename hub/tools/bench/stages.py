"""Per-stage cost of the pipeline's pure functions: ``python -m hub.tools.bench.stages [--decide N] [--hostile]``.

Measures µs per report with timeit on realistic reports (a SEIZURE with a container, a plate, two
parties in Cyrillic, two substances; a CLEAR one routed to 14 recipients), excluding Kafka I/O.

``--state-size TOTAL``: the memory of the decision core's State after TOTAL reports (a backfill:
20,000 simulator reports, then copies with fresh ids and identifiers), measured as the growth of
the process's RSS, and the time and RSS of ``State.rebuild`` from the persisted rows.

``--decide N``: the decision core on N simulator reports (hub.tools.bench.workload, as the gateway
produces them): each report through ``decide()`` + ``State.apply`` in sequence; CPU time per report
over the second half (the state warm). ``--hostile``: after that, one report with 500 distinct
parties (finding 10 of issue 12), and the report after it.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.domain.codec import FEED_ITEM, REPORT, codec
from hub.domain.report import report_id
from hub.pipeline.core import correlate, enrich
from hub.pipeline.core.decide import dedup_verdict
from hub.pipeline.core.validate import Message, validate
from hub.platform import settings as settings_mod

BENCH_ID_KEY = b"bench-id-key-not-a-secret"  # ids of synthetic reports only


def sample(i: int = 0, tlp: str = "CLEAR") -> dict[str, Any]:
    now = datetime.now(UTC)
    ref = f"BENCH-{i:06d}"
    return {
        "report_id": report_id(BENCH_ID_KEY, "KZ-CUSTOMS", ref), "kind": "SEIZURE", "agency": "KZ-CUSTOMS",
        "reporter_state": "KZ", "source_ref": ref, "version": 1,
        "event_time": int((now - timedelta(hours=2)).timestamp() * 1000), "received_at": int(now.timestamp() * 1000),
        "tlp": tlp, "addressees": [],
        "location": {"country": "KZ", "place": "Khorgos", "unlocode": "KZKHG", "lat": None, "lon": None},
        "route": [{"country": c, "place": None} for c in ("AF", "TJ", "UZ", "KZ")],
        "conveyance": {"mode": "ROAD", "container_numbers": ["CSQU3054383"], "transport_document": "CMR-2231",
                       "vehicle_plate": "01 А 123 ВС", "wagon_number": None, "flight": None},
        "goods": {"description": "dried apricots", "hs_code": "081310", "declared_weight_kg": 18000.0},
        "parties": [{"role": "DRIVER", "name": "Рахимов Фаррух", "country": "TJ", "identifier": "TJ1234567"},
                    {"role": "SHIPPER", "name": "ООО Восток Транзит", "country": "RU", "identifier": None}],
        "substances": [{"type": "HEROIN", "name": "героин", "quantity": 12.5, "unit": "KG", "concealment": "CARGO",
                        "concealment_detail": "false floor of fruit boxes"},
                       {"type": "TRAMADOL", "name": None, "quantity": 3000, "unit": "TABLETS",
                        "concealment": "CARGO", "concealment_detail": None}],
        "risk_indicators": ["route via AF"], "narrative": "Heroin in a false floor of fruit boxes." * 5,
        "handling_code": "H1", "handling_note": None, "evaluation": {"source": "B", "information": 2},
        "trace_id": "t-bench",
    }


def measure(fn: Callable[[], Any], number: int) -> float:
    """Best of 3 runs, µs per call."""
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def run(number: int = 300) -> dict[str, float]:
    s = settings_mod.load({})
    r = sample()
    raw = codec().encode(REPORT, r)
    msg = Message("hub.intake", 0, 1, b"k", raw, [("trace_id", b"t")])
    now = datetime.now(UTC)
    names = ["Karimov Bakhtiyor", "Rahimov Farruh", "Nurlan Seitkali", "Vostok Tranzit LLC", "Ivanov Petr"]
    candidates = [{"name": f"{names[i % 5]} {i}", "report_id": f"R-{i}"} for i in range(50)]
    data = enrich.refdata()
    pool = [c["name"] for c in candidates]
    items = _feed_items(r, s)
    enc = codec().encode
    return {
        "validate (decode + rules)": measure(lambda: validate(msg, settings=s, now=now), number),
        "dedup (classify)": measure(lambda: dedup_verdict(r["version"], ()), number * 10),
        "correlate (keys)": measure(lambda: correlate.correlation_keys(r), number),
        "enrich (own parts + risk; names scored against 50 candidates)": measure(
            lambda: (enrich.risk_parts(r, totals=(own := enrich.own_parts(r, data))["substance_totals"],
                                       hits=own["watchlist_hits"], data=data),
                     [enrich.scored_names(p["name"], pool) for p in r["parties"]]), number // 3),
        "encode 14 feed items (Avro)": measure(lambda: [enc(FEED_ITEM, it) for it in items], number // 3),
    }


def _feed_items(r: dict[str, Any], s: Any) -> list[dict[str, Any]]:
    """The feed items decide() makes for ``r`` on an empty state (CLEAR: 14 recipients)."""
    from hub.pipeline.core.decide import Context, ReportInput, decide
    from hub.pipeline.core.state import State

    msg = Message("hub.pipeline.validated", 0, 0, r["report_id"].encode(), b"", [])
    ctx = Context(s, enrich.refdata(), BENCH_ID_KEY, seq=0, now_ms=r["received_at"])
    return decide(ReportInput(r, msg), State(), ctx).feed_items


def decide_workload(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` simulator reports in their Avro form (timestamps in ms), processing times increasing."""
    from hub.tools.bench.workload import generate

    s = settings_mod.load({}, id_key=BENCH_ID_KEY.decode(), audit_key=BENCH_ID_KEY.decode())
    return [it.report for it in generate(n, seed=seed, settings=s)]


def run_decide(reports: list[dict[str, Any]]) -> tuple[dict[str, float], Any, Any]:
    """decide() + State.apply over ``reports`` in order. Returns (figures, state, context)."""
    import time

    from hub.pipeline.core.decide import Context, ReportInput, decide
    from hub.pipeline.core.state import State
    from hub.pipeline.core.validate import Message

    s = settings_mod.load({}, id_key=BENCH_ID_KEY.decode(), audit_key=BENCH_ID_KEY.decode())
    ctx = Context(s, enrich.refdata(), BENCH_ID_KEY)
    st = State()
    half = len(reports) // 2
    cpu = {"decide": 0.0, "apply": 0.0}
    items = 0
    for i, r in enumerate(reports):
        inp = ReportInput(r, Message("hub.pipeline.validated", 0, i, r["report_id"].encode(), b""))
        t0 = time.process_time()
        d = decide(inp, st, ctx.at(i, r["received_at"]))
        t1 = time.process_time()
        st.apply(d.writes)
        t2 = time.process_time()
        if d.error:
            raise RuntimeError(d.error)
        if i >= half:
            cpu["decide"] += t1 - t0
            cpu["apply"] += t2 - t1
            items += len(d.feed_items)
    n = max(1, len(reports) - half)
    return ({"decide() µs/report (CPU, warm state)": cpu["decide"] / n * 1e6,
             "State.apply µs/report": cpu["apply"] / n * 1e6,
             "feed items/report": items / n}, st, ctx)


def hostile_report(i: int, parties: int = 500) -> dict[str, Any]:
    """A report with ``parties`` distinct party names (Latin and Cyrillic, some near the cast)."""
    r = sample(10**6 + i, tlp="GREEN")
    first = ["Karimov", "Рахимов", "Ivanov", "Nazarov", "Юсупов", "Mammadov", "Alimov", "Kurbanov"]
    r["parties"] = [{"role": "OTHER", "name": f"{first[j % len(first)]} {chr(65 + j % 26)}{j:04d} Trans",
                     "country": "KZ", "identifier": None} for j in range(parties)]
    return r


def run_hostile(st: Any, ctx: Any, start: int, parties: int = 500) -> dict[str, float]:
    """CPU ms of decide() for one hostile report, and of a normal report right after it."""
    import time

    from hub.pipeline.core.decide import ReportInput, decide
    from hub.pipeline.core.validate import Message

    out = {}
    for label, r in ((f"hostile report ({parties} parties) ms", hostile_report(start, parties)),
                     ("next normal report ms", sample(10**6 + start + 1))):
        inp = ReportInput(r, Message("hub.pipeline.validated", 0, start, r["report_id"].encode(), b""))
        t0 = time.process_time()
        d = decide(inp, st, ctx.at(start, r["received_at"]))
        out[label] = (time.process_time() - t0) * 1e3
        st.apply(d.writes)
        out[label.replace(" ms", " entity links (max per item)")] = max(
            (len(it["enrichment"]["entity_links"]) for it in d.feed_items), default=0)
        start += 1
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _variant(r: dict[str, Any], c: int) -> dict[str, Any]:
    """Copy ``c`` of a report: its own source_ref/report id, identifiers and event time."""
    if c == 0:
        return r
    from stdnum import iso6346

    ref = f"{r['source_ref']}~{c}"
    conv = dict(r["conveyance"] or {})
    cont = []
    for raw in conv.get("container_numbers") or []:
        k = "".join(ch for ch in raw.upper() if ch.isalnum())
        if len(k) == 11:
            serial = f"{(int(k[4:10]) + c * 7919) % 10**6:06d}" if k[4:10].isdigit() else k[4:10]
            base = k[:4] + serial
            cont.append(base + iso6346.calc_check_digit(base))
        else:
            cont.append(raw)
    conv["container_numbers"] = cont
    for f in ("vehicle_plate", "transport_document", "wagon_number"):
        if conv.get(f):
            conv[f] = f"{conv[f]}{c}"
    return dict(r, source_ref=ref, report_id=report_id(BENCH_ID_KEY, r["agency"], ref), conveyance=conv,
                event_time=r["event_time"] - c * 30 * 24 * 3600 * 1000)


def state_size(total: int = 204_013, base: int = 20_000) -> dict[str, float]:
    """See the module docstring (``--state-size``)."""
    import gc
    import json
    import os
    import subprocess
    import sys
    import tempfile
    import time

    from hub.pipeline.core.decide import Context, ReportInput, decide
    from hub.pipeline.core.state import TABLES, State
    from hub.pipeline.core.validate import Message

    reports = decide_workload(base)
    s = settings_mod.load({}, id_key=BENCH_ID_KEY.decode(), audit_key=BENCH_ID_KEY.decode())
    ctx = Context(s, enrich.refdata(), BENCH_ID_KEY)
    gc.collect()
    rss0 = _rss_mb()
    st = State()
    t0 = time.process_time()
    start = reports[0]["received_at"]
    i = 0
    while i < total:
        for r in reports:
            if i >= total:
                break
            v = _variant(r, i // len(reports))
            d = decide(ReportInput(v, Message("hub.pipeline.validated", 0, i, b"", b"")), st,
                       ctx.at(i, start + i * 100))
            if d.error:
                raise RuntimeError(d.error)
            st.apply(d.writes)
            i += 1
    cpu = time.process_time() - t0
    gc.collect()
    rss1 = _rss_mb()
    sizes = st.sizes()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for k, v in st.items(TABLES[0]):
            f.write(json.dumps([k, v], separators=(",", ":")) + "\n")
        path = f.name
    persisted = os.path.getsize(path) / 1e6
    out = subprocess.run([sys.executable, "-m", "hub.tools.bench.stages", "--rebuild", path], check=True,
                         capture_output=True, text=True).stdout
    os.unlink(path)
    rebuilt = json.loads(out)
    return {"reports processed": float(total), "report records": float(sizes["reports"]),
            "correlation keys": float(sizes["correlation keys"]), "party names": float(sizes["party names"]),
            "State MB (RSS growth of the deciding process)": rss1 - rss0, "decide+apply CPU s": cpu,
            "persisted MB (JSON lines of the reports table)": persisted,
            "State MB (RSS growth, rebuilt in a fresh process)": rebuilt["rss_mb"],
            "State.rebuild CPU s": rebuilt["cpu_s"]}


def rebuild_size(path: str) -> dict[str, float]:
    """RSS growth and CPU of State.rebuild from a JSON-lines dump (run in a fresh process)."""
    import gc
    import json
    import time

    from hub.pipeline.core.state import TABLES, State

    def rows() -> Any:
        with open(path) as f:
            for line in f:
                k, v = json.loads(line)
                yield k, v

    gc.collect()
    rss0 = _rss_mb()
    t0 = time.process_time()
    st = State.rebuild({TABLES[0]: rows()})
    cpu = time.process_time() - t0
    gc.collect()
    return {"rss_mb": _rss_mb() - rss0, "cpu_s": cpu, "reports": float(len(st.reports))}


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hub.tools.bench.stages")
    ap.add_argument("--decide", type=int, default=0, metavar="N", help="decide() over N simulator reports")
    ap.add_argument("--hostile", action="store_true", help="then one report with 500 parties")
    ap.add_argument("--state-size", type=int, default=0, metavar="TOTAL", help="State memory after TOTAL reports")
    ap.add_argument("--rebuild", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rebuild:
        import json

        print(json.dumps(rebuild_size(args.rebuild)))
        return
    if args.state_size:
        for name, v in state_size(args.state_size).items():
            print(f"{name:50} {v:12.2f}")
        return
    if not args.decide:
        for name, us in run().items():
            print(f"{name:50} {us:9.2f} µs/report")
        return
    reports = decide_workload(args.decide)
    figures, st, ctx = run_decide(reports)
    for name, v in figures.items():
        print(f"{name:50} {v:9.2f}")
    if args.hostile:
        for name, v in run_hostile(st, ctx, len(reports)).items():
            print(f"{name:50} {v:9.2f}")


if __name__ == "__main__":
    main()
