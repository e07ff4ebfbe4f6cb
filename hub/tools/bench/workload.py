"""Realistic reports for the benchmark: the connectors' simulator when it is installed, else a stand-in.

Everything here is pure (seed in, data out) except the final encoding, which uses the one codec.
The reports are turned into their Avro form with :func:`hub.domain.report.from_json` exactly as the
gateway does, so the pipeline sees what a real connector would send.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stdnum import iso6346

from hub.domain.report import ReportInvalid, from_json
from hub.domain.wire import intake_record
from hub.platform.keys import id_key
from hub.platform.settings import Settings


@dataclass(frozen=True)
class Item:
    """One report in both forms: the connector's JSON body and the Avro form the gateway produces."""

    agency: str
    state: str
    body: dict[str, Any]
    report: dict[str, Any]


def source() -> str:
    """Which generator is in use (recorded in the results)."""
    try:
        import hub.tools.simulator  # noqa: F401
    except ImportError:
        return "hub.tools.bench.workload stand-in"
    return "hub.tools.simulator"


def _simulated(seed: int, count: int, now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    from hub.tools.simulator import AGENCIES, generate_events

    states = {a.code: a.state for a in AGENCIES}
    out = []
    n = 0
    while len(out) < count:
        # the simulator's scenario is deterministic per seed; a bigger count just draws more events
        events = generate_events(seed + n, min(max(count - len(out), 1) * 2, 50_000), now)
        for ev in events:
            if ev.expect_valid:
                body = dict(ev.body)
                body["source_ref"] = f"{body['source_ref']}-B{seed + n}"
                out.append((ev.agency, states[ev.agency], body))
        n += 1
    return out[:count]


# ----------------------------------------------------------------- stand-in (when hub.tools.simulator is absent)

_AGENCIES = (("KZ-CUSTOMS", "KZ"), ("KG-DCS", "KG"), ("TJ-DCA", "TJ"), ("UZ-CUSTOMS", "UZ"),
             ("TM-BORDER", "TM"), ("AZ-CUSTOMS", "AZ"), ("RU-FCS", "RU"))
_ROUTES = (("AF", "TJ", "KZ", "RU"), ("AF", "UZ", "KZ", "RU"), ("AF", "TM", "AZ", "GE"), ("IR", "TM", "UZ", "KZ"),
           ("PK", "AF", "TJ", "KG", "KZ"), ("CN", "KZ", "RU"), ("AF", "TJ", "KG", "CN"))
_TLP = ("CLEAR", "GREEN", "GREEN", "AMBER", "AMBER", "AMBER", "AMBER", "AMBER_STRICT", "RED")
_NAMES = ("Рахимов Фаррух", "Karimov Aziz", "Иванов Сергей Петрович", "Nazarov Bakhtiyor", "Sughd Fruit LLC",
          "Ташкент Логистик", "Alimov Rustam", "Юсупова Дилноза", "Silk Way Trans", "Kurbanov Jamshed")
_SUBST = (("HEROIN", "KG"), ("OPIUM", "KG"), ("HASHISH", "KG"), ("METHAMPHETAMINE", "G"), ("TRAMADOL", "TABLETS"))
_OWNERS = ("CSQU", "MSCU", "TGHU", "CMAU", "OOLU", "HLXU")


def _stand_in(seed: int, count: int, now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    rng = random.Random(seed)
    out = []
    containers: list[str] = []
    for i in range(count):
        agency, state = rng.choice(_AGENCIES)
        route = rng.choice(_ROUTES)
        if containers and rng.random() < 0.1:  # the same consignment reported again → correlation
            container = rng.choice(containers[-500:])
        else:
            base = rng.choice(_OWNERS) + f"{rng.randrange(1_000_000):06d}"
            container = base + iso6346.calc_check_digit(base)
            containers.append(container)
        kind = "SEIZURE" if rng.random() < 0.6 else "ALERT"
        body: dict[str, Any] = {
            "kind": kind, "source_ref": f"{agency}-B{seed}-{i:08d}", "version": 1,
            "event_time": (now - timedelta(minutes=rng.randrange(1, 6 * 24 * 60))).isoformat().replace("+00:00", "Z"),
            "tlp": rng.choice(_TLP),
            "location": {"country": state, "place": "border crossing"},
            "route": [{"country": c} for c in route],
            "conveyance": {"mode": rng.choice(("ROAD", "RAIL", "SEA")), "container_numbers": [container],
                           "vehicle_plate": f"{rng.randrange(100):02d} A {rng.randrange(1000):03d} BC"},
            "goods": {"description": "dried fruit", "hs_code": "081310", "declared_weight_kg": 18000},
            "parties": [{"role": "DRIVER", "name": rng.choice(_NAMES), "country": route[0],
                         "identifier": f"P{rng.randrange(10**7):07d}"},
                        {"role": "SHIPPER", "name": rng.choice(_NAMES), "country": route[0]}],
            "narrative": "Consignment inspected at the border; see the attached details.",
            "handling_code": rng.choice(("H0", "H1", "H2")),
            "evaluation": {"source": "B", "information": 2},
        }
        if kind == "SEIZURE":
            t, unit = rng.choice(_SUBST)
            body["substances"] = [{"type": t, "quantity": round(rng.uniform(0.5, 80), 1), "unit": unit,
                                   "concealment": "CARGO"}]
        else:
            body["risk_indicators"] = ["route through a high-risk transit country", "new consignee"]
        out.append((agency, state, body))
    return out


def generate(count: int, *, seed: int = 7, settings: Settings, now: datetime | None = None,
             trace_id: Callable[[int], str] | None = None) -> list[Item]:
    """``count`` valid reports (unique source refs per seed), in JSON and Avro form. ``trace_id``: the
    trace id of the i-th generated body (default a random uuid4 each); with it and ``now`` fixed the
    result is the same on every call."""
    now = now or datetime.now(UTC)
    raw = _simulated(seed, count, now) if source() == "hub.tools.simulator" else _stand_in(seed, count, now)
    items = []
    for i, (agency, state, body) in enumerate(raw):
        try:
            rep = from_json(body, agency=agency, state=state, settings=settings, now=now,
                            trace_id=trace_id(i) if trace_id else uuid.uuid4().hex, id_key=id_key(settings))
        except ReportInvalid:
            continue
        items.append(Item(agency, state, body, rep))
    return items


def intake_records(items: Sequence[Item]) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) of each report as the gateway produces it to hub.intake."""
    out = []
    for it in items:
        rec = intake_record(it.report)
        out.append((rec.key or b"", rec.value, rec.headers))
    return out
