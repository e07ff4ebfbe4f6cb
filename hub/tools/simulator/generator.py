"""Deterministic generator of simulated reports (pure: seed and clock in, list of reports out).

A scenario mixes new SEIZUREs and ALERTs from the agencies of :mod:`hub.tools.simulator.world`, updates
(version 2 after a lab weighing), the same seizure reported by a second agency (sharing the container
number or the vehicle plate, possibly written in the other script), every TLP level, and a small share
of deliberately bad inputs (``SimEvent.expect_valid`` is False for those).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stdnum import iso6346

from hub.domain.identifiers import compact
from hub.tools.simulator.world import (
    AGENCIES,
    COMPANIES,
    CROSSINGS,
    GOODS,
    OWNER_CODES,
    PEOPLE,
    PLATE_FORMATS,
    RISK_INDICATORS,
    ROUTES,
    SUBSTANCES,
    SimAgency,
)

TLP_WEIGHTS = (("CLEAR", 5), ("GREEN", 25), ("AMBER", 45), ("AMBER_STRICT", 15), ("RED", 10))
MEMBERS = ("KZ", "KG", "TJ", "TM", "UZ", "AZ", "RU")
LATIN_LOOKALIKES = "ABEKMHOPCTYX"
CYRILLIC_LOOKALIKES = "АВЕКМНОРСТУХ"


@dataclass(frozen=True)
class SimEvent:
    agency: str
    body: dict[str, Any]
    note: str  # new | alert | update | also-reported | bad:<what>
    expect_valid: bool = True


def container_number(rng: random.Random) -> str:
    base = rng.choice(OWNER_CODES) + f"{rng.randrange(1_000_000):06d}"
    return base + iso6346.calc_check_digit(base)


def plate(rng: random.Random, country: str) -> str:
    fmt = PLATE_FORMATS.get(country, "### @@@")
    letters = CYRILLIC_LOOKALIKES if country == "RU" else LATIN_LOOKALIKES
    return "".join(str(rng.randrange(10)) if ch == "#" else rng.choice(letters) if ch == "@" else ch for ch in fmt)


def other_script(text: str) -> str:
    """The same plate written with look-alike letters of the other script (as a neighbour would)."""
    table = str.maketrans(LATIN_LOOKALIKES + CYRILLIC_LOOKALIKES, CYRILLIC_LOOKALIKES + LATIN_LOOKALIKES)
    return text.translate(table)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class _Scenario:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.seq: dict[str, int] = {}
        self.sent: list[SimEvent] = []  # valid new reports (for updates and also-reported)
        self.tag = f"{seed & 0xFFFF:04X}"

    def ref(self, agency: SimAgency) -> str:
        self.seq[agency.code] = self.seq.get(agency.code, 0) + 1
        return f"{agency.code}-{self.now.year}-{self.tag}-{self.seq[agency.code]:05d}"

    def tlp_and_addressees(self, agency: SimAgency, route: tuple[str, ...]) -> tuple[str, list[str]]:
        rng = self.rng
        tlp = rng.choices([t for t, _ in TLP_WEIGHTS], [w for _, w in TLP_WEIGHTS])[0]
        addressees: list[str] = []
        if tlp in ("RED", "AMBER_STRICT"):
            neighbours = [c for c in route if c in MEMBERS and c != agency.state] or ["CARICC"]
            addressees = sorted(set(rng.sample(neighbours, k=min(len(neighbours), rng.randint(1, 2)))) | {"CARICC"})
        elif tlp == "AMBER" and rng.random() < 0.2:
            addressees = [rng.choice(("AF", "CN", "IR", "PK", "TR", "GE"))]
        return tlp, addressees

    def base(self, agency: SimAgency, kind: str) -> dict[str, Any]:
        rng = self.rng
        post = CROSSINGS[rng.choice(agency.posts)]
        mode = rng.choice(post.modes)
        fits = [r for r in ROUTES if post.country in r] or [(post.facing, post.country)]
        route = rng.choice(fits)
        tlp, addressees = self.tlp_and_addressees(agency, route)
        event_time = self.now - timedelta(minutes=rng.randint(5, 3 * 24 * 60))
        conveyance: dict[str, Any] = {"mode": mode}
        if mode in ("SEA", "RAIL") or (mode == "ROAD" and rng.random() < 0.5):
            conveyance["container_numbers"] = [container_number(rng) for _ in range(rng.choice((1, 1, 1, 2)))]
        if mode == "ROAD":
            conveyance["vehicle_plate"] = plate(rng, rng.choice((route[0], post.country, post.facing)))
            conveyance["transport_document"] = f"CMR {rng.randrange(10**6, 10**7)}"
        elif mode == "RAIL":
            conveyance["wagon_number"] = f"{rng.randrange(10**7, 10**8)}"
            conveyance["transport_document"] = f"SMGS {rng.randrange(10**7, 10**8)}"
        elif mode == "SEA":
            conveyance["transport_document"] = f"B/L CSP{rng.randrange(10**6, 10**7)}"
        elif mode == "AIR":
            conveyance["flight"] = rng.choice(("KC 921", "ZM 111", "SU 1883", "HY 603", "FZ 1731"))
        elif mode == "POSTAL":
            conveyance["transport_document"] = f"EMS E{rng.randrange(10**8, 10**9)}CN"
        goods_desc, hs = rng.choice(GOODS)
        people = rng.sample(PEOPLE, k=rng.randint(1, 2))
        company = rng.choice(COMPANIES)
        parties = [{"role": "DRIVER" if mode == "ROAD" else "COURIER" if mode in ("AIR", "PEDESTRIAN") else "SUSPECT",
                    "name": people[0][0], "country": people[0][1],
                    **({"identifier": f"{people[0][1]}{rng.randrange(10**6, 10**7)}"} if rng.random() < 0.6 else {})},
                   {"role": "SHIPPER", "name": company[0], "country": company[1]}]
        if len(people) > 1:
            parties.append({"role": "CONSIGNEE", "name": people[1][0], "country": people[1][1]})
        body: dict[str, Any] = {
            "kind": kind,
            "source_ref": self.ref(agency),
            "version": 1,
            "event_time": _iso(event_time),
            "tlp": tlp,
            "location": {"country": post.country, "place": post.place, "lat": post.lat, "lon": post.lon},
            "route": [{"country": c} for c in route],
            "conveyance": conveyance,
            "goods": {"description": goods_desc, "hs_code": hs,
                      "declared_weight_kg": float(rng.randrange(200, 24_000))},
            "parties": parties,
            "handling_code": rng.choices(("H0", "H1", "H2", "H3"), (50, 30, 15, 5))[0],
            "evaluation": {"source": rng.choice("ABCX"), "information": rng.randint(1, 4)},
        }
        if addressees:
            body["addressees"] = addressees
        if body["handling_code"] == "H3":
            body["handling_note"] = "operational: controlled delivery under way, contact the reporting officer first"
        return body

    def seizure(self, agency: SimAgency) -> SimEvent:
        rng = self.rng
        body = self.base(agency, "SEIZURE")
        weights = {"customs": (6, 1, 2, 2, 1, 2, 2, 3), "drugs": (6, 2, 3, 2, 2, 2, 2, 1)}.get(
            agency.kind, (7, 3, 2, 2, 2, 1, 1, 1))
        stype = rng.choices(list(SUBSTANCES), weights)[0]
        unit, (lo, hi), names, concealments = SUBSTANCES[stype]
        concealment, detail = rng.choice(concealments)
        if body["conveyance"]["mode"] == "POSTAL":
            concealment = "POSTAL"
        qty = round(rng.uniform(lo, hi), 0 if unit == "TABLETS" else 2)
        body["substances"] = [{"type": stype, "name": rng.choice(names), "quantity": qty, "unit": unit,
                               "concealment": concealment, "concealment_detail": detail}]
        lang_ru = rng.random() < 0.5
        body["narrative"] = (
            f"При досмотре обнаружено {qty:g} {unit.lower()} ({names[1] if len(names) > 1 else names[0]}), "
            f"сокрытие: {detail}. Возбуждено уголовное дело." if lang_ru else
            f"During inspection officers found {qty:g} {unit.lower()} of {names[0]} ({detail}). "
            "Criminal case opened; suspects detained.")
        return SimEvent(agency.code, body, "new")

    def alert(self, agency: SimAgency) -> SimEvent:
        body = self.base(agency, "ALERT")
        body["risk_indicators"] = self.rng.sample(RISK_INDICATORS, k=self.rng.randint(1, 3))
        body["narrative"] = "Pre-arrival profiling flagged this consignment; inspection requested at destination."
        return SimEvent(agency.code, body, "alert")

    def update(self) -> SimEvent | None:
        seizures = [e for e in self.sent if e.body["kind"] == "SEIZURE" and e.body["version"] == 1]
        if not seizures:
            return None
        prev = self.rng.choice(seizures)
        body = {**prev.body, "version": 2, "substances": [dict(s) for s in prev.body["substances"]]}
        s = body["substances"][0]
        s["quantity"] = round(s["quantity"] * self.rng.uniform(0.9, 1.05), 2)
        body["narrative"] = (prev.body.get("narrative") or "") + " UPDATE: quantity confirmed by laboratory weighing."
        self.sent = [e for e in self.sent if e is not prev]
        return SimEvent(prev.agency, body, "update")

    def also_reported(self) -> SimEvent | None:
        """The same consignment reported by an agency on the other side (shared container or plate)."""
        rng = self.rng
        cands = [e for e in self.sent if e.body.get("conveyance", {}).get("container_numbers")
                 or e.body.get("conveyance", {}).get("vehicle_plate")]
        if not cands:
            return None
        prev = rng.choice(cands)
        prev_state = next(a.state for a in AGENCIES if a.code == prev.agency)
        others = [a for a in AGENCIES if a.state != prev_state] or list(AGENCIES)
        agency = rng.choice(others)
        body = self.base(agency, prev.body["kind"])
        conv = dict(body["conveyance"])
        pconv = prev.body["conveyance"]
        conv["mode"] = pconv["mode"]
        if pconv.get("container_numbers"):
            n = compact(pconv["container_numbers"][0])
            conv["container_numbers"] = [f"{n[:4]} {n[4:10]}-{n[10]}"]  # another formatting, same number
        if pconv.get("vehicle_plate"):
            conv["vehicle_plate"] = other_script(pconv["vehicle_plate"])
        body["conveyance"] = conv
        ev = datetime.fromisoformat(prev.body["event_time"].replace("Z", "+00:00"))
        body["event_time"] = _iso(min(self.now, ev + timedelta(hours=rng.randint(1, 72))))
        if prev.body["kind"] == "SEIZURE":
            body["substances"] = prev.body["substances"]
        else:
            body["risk_indicators"] = prev.body["risk_indicators"]
        body["narrative"] = "Follow-up on a consignment also seen at a neighbouring crossing."
        return SimEvent(agency.code, body, "also-reported")

    def bad(self, agency: SimAgency) -> SimEvent:
        rng = self.rng
        ev = self.seizure(agency)
        body = dict(ev.body)
        what = rng.choice(("check-digit", "no-substance", "future", "unknown-field", "bad-country"))
        if what == "check-digit":
            n = container_number(rng)
            body["conveyance"] = {**body["conveyance"], "container_numbers": [n[:10] + str((int(n[10]) + 1) % 10)]}
        elif what == "no-substance":
            body["substances"] = []
        elif what == "future":
            body["event_time"] = _iso(self.now + timedelta(days=2))
        elif what == "unknown-field":
            body["colour"] = "red"
        else:
            body["location"] = {**body["location"], "country": "XX"}
        return SimEvent(agency.code, body, f"bad:{what}", expect_valid=False)

    def next(self) -> SimEvent:
        rng = self.rng
        r = rng.random()
        ev: SimEvent | None = None
        if r < 0.03:
            ev = self.bad(rng.choice(AGENCIES))
        elif r < 0.10:
            ev = self.update()
        elif r < 0.20:
            ev = self.also_reported()
        elif r < 0.42:
            ev = self.alert(rng.choice(AGENCIES))
        if ev is None:
            ev = self.seizure(rng.choice(AGENCIES))
        if ev.expect_valid and ev.note != "update":
            self.sent.append(ev)
        return ev


def iter_events(seed: int, now: datetime | None = None) -> Iterator[SimEvent]:
    """An endless stream of simulated reports; with ``now`` None each one is stamped with the live clock."""
    scenario = _Scenario(seed, (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0))
    while True:
        if now is None:
            scenario.now = datetime.now(UTC).replace(microsecond=0)
        yield scenario.next()


def generate_events(seed: int, count: int, now: datetime | None = None) -> list[SimEvent]:
    """``count`` simulated reports; the same seed and ``now`` give the same list."""
    scenario = _Scenario(seed, (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0))
    return [scenario.next() for _ in range(count)]


def generate(seed: int, count: int, now: datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``count`` (agency code, JSON report body) pairs -- deterministic for a given seed and ``now``."""
    return [(e.agency, e.body) for e in generate_events(seed, count, now)]
