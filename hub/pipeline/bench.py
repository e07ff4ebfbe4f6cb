"""Per-stage cost of the pipeline's pure functions: ``python -m hub.pipeline.bench``.

Measures µs per report with timeit on realistic reports (a SEIZURE with a container, a plate, two
parties in Cyrillic, two substances; a CLEAR one routed to 14 recipients), excluding Kafka I/O.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hub import settings as settings_mod
from hub.codec import FEED_ITEM, REPORT, codec
from hub.pipeline import correlate, dedup, enrich, route
from hub.pipeline.validate import Message, validate
from hub.report import report_id

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
    index = {k: [correlate.index_entry(sample(j), f"I-{j}", j) for j in range(5)]
             for k in correlate.correlation_keys(r)}
    enr = enrich.enrich(r, matches=[], incident_reports=[], party_candidates=candidates)
    items = route.feed_items(r, enr, incident_id="I-1", settings=s, earlier_recipients=[], incident_holders=[],
                             allowed={}, routed_at=1)
    enc = codec().encode
    return {
        "validate (decode + rules)": measure(lambda: validate(msg, settings=s, now=now), number),
        "dedup (classify)": measure(lambda: dedup.classify(r, None), number * 10),
        "correlate (keys + find incident, 5 entries/key)": measure(
            lambda: correlate.find_incident(r, index, None), number),
        "enrich (50 name candidates, watchlists)": measure(
            lambda: enrich.enrich(r, matches=[], incident_reports=[], party_candidates=candidates), number // 3),
        "route (CLEAR: 14 feed items)": measure(
            lambda: route.feed_items(r, enr, incident_id="I-1", settings=s, earlier_recipients=[],
                                     incident_holders=[], allowed={}, routed_at=1), number),
        "encode 14 feed items (Avro)": measure(lambda: [enc(FEED_ITEM, it) for it in items], number // 3),
    }


def main() -> None:
    for name, us in run().items():
        print(f"{name:50} {us:9.2f} µs/report")


if __name__ == "__main__":
    main()
