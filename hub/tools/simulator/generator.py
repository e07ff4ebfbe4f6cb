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
    CARRY_LIMIT,
    COMPANIES,
    CROSSINGS,
    GOODS,
    LIQUID_ONLY,
    OWNER_CODES,
    PEOPLE,
    PLATE_FORMATS,
    POSTAL_DETAILS,
    RISK_INDICATORS,
    ROUTES,
    SOLID_ONLY,
    SUBSTANCES,
    Crossing,
    Hiding,
    Party,
    SimAgency,
    Variant,
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
    consignment: str = ""  # the consignment reported on (ground truth for tests, never sent)


UNITS_RU = {"KG": "кг", "G": "г", "L": "л", "TABLETS": "табл."}
UNITS_EN = {"KG": "kg", "G": "g", "L": "l", "TABLETS": "tablets"}
STATE_OF = {a.code: a.state for a in AGENCIES}
SPELLINGS: dict[str, list[Party]] = {}
for _p in PEOPLE + COMPANIES:
    SPELLINGS.setdefault(_p.who, []).append(_p)


def quantity_text(q: float) -> str:
    """A quantity as the officer writes it: every digit of the report's value, no exponent."""
    return f"{q:.2f}".rstrip("0").rstrip(".")


def narrative(variant: Variant, qty: float, detail: str, ru: bool) -> str:
    """The seizure narrative: names the substance of the report (in the report's language) and its quantity."""
    if ru:
        return (f"При досмотре обнаружено {quantity_text(qty)} {UNITS_RU[variant.unit]} ({variant.ru}), "
                f"сокрытие: {detail}. Возбуждено уголовное дело.")
    return (f"During inspection officers found {quantity_text(qty)} {UNITS_EN[variant.unit]} of {variant.en} "
            f"({detail}). Criminal case opened; suspects detained.")


def fits(h: Hiding, variant: Variant, mode: str) -> bool:
    """Can ``variant`` be hidden like ``h`` in a consignment moving by ``mode``?"""
    if mode not in h.modes:
        return False
    return not (h.detail in LIQUID_ONLY and variant.unit != "L") and not (h.detail in SOLID_ONLY and variant.unit == "L")


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


def _who(name: str) -> str | None:
    return next((p.who for p in PEOPLE + COMPANIES if p.name == name), None)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class _Scenario:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.seq: dict[str, int] = {}
        self.sent: list[SimEvent] = []  # valid new reports (for updates and also-reported)
        self.tag = f"{seed & 0xFFFF:04X}"
        self.containers: set[str] = set()  # a container number names one consignment
        self.consignments = 0
        self.reported: dict[str, int] = {}  # consignment -> reports of it (one follow-up each)

    def container(self) -> str:
        while True:
            n = container_number(self.rng)
            if n not in self.containers:
                self.containers.add(n)
                return n

    def parties(self, mode: str) -> list[dict[str, Any]]:
        """A driver/courier/suspect, a shipper and maybe a consignee: different people, one spelling each."""
        rng = self.rng
        whos = rng.sample(sorted({p.who for p in PEOPLE}), k=rng.randint(1, 2))
        people = [rng.choice(SPELLINGS[w]) for w in whos]
        company = rng.choice(COMPANIES)
        out = [{"role": "DRIVER" if mode == "ROAD" else "COURIER" if mode in ("AIR", "PEDESTRIAN") else "SUSPECT",
                "name": people[0].name, "country": people[0].country,
                **({"identifier": f"{people[0].country}{rng.randrange(10**6, 10**7)}"} if rng.random() < 0.6 else {})},
               {"role": "SHIPPER", "name": company.name, "country": company.country}]
        if len(people) > 1:
            out.append({"role": "CONSIGNEE", "name": people[1].name, "country": people[1].country})
        return out

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

    def base(self, agency: SimAgency, kind: str, post: Crossing | None = None,
             route: tuple[str, ...] | None = None) -> dict[str, Any]:
        rng = self.rng
        post = post or CROSSINGS[rng.choice(agency.posts)]
        mode = rng.choice(post.modes)
        if route is None:
            fits_post = [r for r in ROUTES if post.country in r] or [(post.facing, post.country)]
            route = rng.choice(fits_post)
        tlp, addressees = self.tlp_and_addressees(agency, route)
        event_time = self.now - timedelta(minutes=rng.randint(5, 3 * 24 * 60))
        conveyance: dict[str, Any] = {"mode": mode}
        if mode in ("SEA", "RAIL") or (mode == "ROAD" and rng.random() < 0.5):
            conveyance["container_numbers"] = [self.container() for _ in range(rng.choice((1, 1, 1, 2)))]
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
        parties = self.parties(mode)
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

    def consignment(self) -> str:
        self.consignments += 1
        return f"{self.tag}-C{self.consignments}"

    def substance(self, agency: SimAgency, mode: str) -> tuple[dict[str, Any], Variant]:
        """One seized substance that fits the conveyance: its form, where it was hidden (possible in
        that mode), a quantity a courier, a bag or a parcel can hold."""
        rng = self.rng
        weights = {"customs": (6, 1, 2, 2, 1, 2, 2, 3), "drugs": (6, 2, 3, 2, 2, 2, 2, 1)}.get(
            agency.kind, (7, 3, 2, 2, 2, 1, 1, 1))
        while True:
            stype = rng.choices(list(SUBSTANCES), weights)[0]
            variants, hidings = SUBSTANCES[stype]
            variant = rng.choice(variants)
            ways = [h for h in hidings if fits(h, variant, mode)]
            if mode == "POSTAL" and not ways:
                ways = [Hiding("POSTAL", d, ("POSTAL",)) for d in POSTAL_DETAILS]
            if ways:
                break
        hiding = rng.choice(ways)
        lo, hi = variant.low, variant.high
        cap = CARRY_LIMIT.get(hiding.concealment, {}).get(variant.unit)
        if cap is not None:
            hi = min(hi, cap)
            lo = min(lo, hi / 2)
        qty = round(rng.uniform(lo, hi), 0 if variant.unit == "TABLETS" else 2)
        return ({"type": stype, "name": variant.en, "quantity": qty, "unit": variant.unit,
                 "concealment": hiding.concealment, "concealment_detail": hiding.detail}, variant)

    def seize(self, body: dict[str, Any], agency: SimAgency) -> None:
        """Make ``body`` a seizure: one substance and a narrative (RU or EN) naming it."""
        sub, variant = self.substance(agency, body["conveyance"]["mode"])
        ru = self.rng.random() < 0.5
        if ru:
            sub["name"] = variant.ru
        body["substances"] = [sub]
        body["narrative"] = narrative(variant, sub["quantity"], sub["concealment_detail"], ru)

    def seizure(self, agency: SimAgency) -> SimEvent:
        body = self.base(agency, "SEIZURE")
        self.seize(body, agency)
        return SimEvent(agency.code, body, "new", consignment=self.consignment())

    def alert(self, agency: SimAgency) -> SimEvent:
        body = self.base(agency, "ALERT")
        body["risk_indicators"] = self.rng.sample(RISK_INDICATORS, k=self.rng.randint(1, 3))
        body["narrative"] = "Pre-arrival profiling flagged this consignment; inspection requested at destination."
        return SimEvent(agency.code, body, "alert", consignment=self.consignment())

    def update(self) -> SimEvent | None:
        """Version 2 of a seizure after the laboratory weighing (net weight: at most what was first reported)."""
        seizures = [e for e in self.sent if e.body["kind"] == "SEIZURE" and e.body["version"] == 1]
        if not seizures:
            return None
        prev = self.rng.choice(seizures)
        body = {**prev.body, "version": 2, "substances": [dict(s) for s in prev.body["substances"]]}
        s = body["substances"][0]
        s["quantity"] = round(s["quantity"] * self.rng.uniform(0.85, 1.0), 0 if s["unit"] == "TABLETS" else 2)
        units = UNITS_RU if prev.body["narrative"].startswith("При") else UNITS_EN
        word = "Лабораторное взвешивание" if units is UNITS_RU else "Laboratory weighing"
        body["narrative"] = (prev.body.get("narrative") or "") + f" UPDATE: {word}: {quantity_text(s['quantity'])} {units[s['unit']]}."
        self.sent = [e for e in self.sent if e is not prev]
        return SimEvent(prev.agency, body, "update", consignment=prev.consignment)

    def also_reported(self) -> SimEvent | None:
        """The same consignment reported by an agency of another state on its route (the shared
        container, plate, transport document or wagon written its own way). Times follow the route:
        upstream earlier, downstream later; nothing travels on after a seizure, so after a seizure
        only an upstream agency reports (an alert: it passed there), and a downstream agency may
        seize what an alert flagged. One follow-up per consignment."""
        rng = self.rng
        cands = [e for e in self.sent if self.reported.get(e.consignment, 0) == 1
                 and (e.body["conveyance"].get("container_numbers") or e.body["conveyance"].get("vehicle_plate"))]
        if not cands:
            return None
        prev = rng.choice(cands)
        route = tuple(p["country"] for p in prev.body["route"])
        here = route.index(prev.body["location"]["country"])
        mode = prev.body["conveyance"]["mode"]
        options = [(a, CROSSINGS[k]) for a in AGENCIES if a.state != STATE_OF[prev.agency] for k in a.posts
                   if mode in CROSSINGS[k].modes and CROSSINGS[k].country in route
                   and route.index(CROSSINGS[k].country) != here
                   and (prev.body["kind"] == "ALERT" or route.index(CROSSINGS[k].country) < here)]
        if not options:
            return None
        agency, post = rng.choice(options)
        downstream = route.index(post.country) > here
        kind = rng.choice(("SEIZURE", "SEIZURE", "ALERT")) if downstream else "ALERT"
        body = self.base(agency, kind, post=post, route=route)
        pconv = prev.body["conveyance"]
        conv = dict(pconv)
        if pconv.get("container_numbers"):
            conv["container_numbers"] = [f"{n[:4]} {n[4:10]}-{n[10]}" for n in map(compact, pconv["container_numbers"])]
        if pconv.get("vehicle_plate"):
            conv["vehicle_plate"] = other_script(pconv["vehicle_plate"])
        body["conveyance"] = conv
        body["goods"] = dict(prev.body["goods"])
        body["parties"] = [dict(p, name=rng.choice(SPELLINGS[who]).name) if (who := _who(p["name"])) else dict(p)
                           for p in prev.body["parties"]]
        ev = datetime.fromisoformat(prev.body["event_time"].replace("Z", "+00:00"))
        if downstream:
            t = min(ev + timedelta(hours=rng.randint(6, 72)), self.now - timedelta(minutes=1))
            body["event_time"] = _iso(t if t > ev else ev + (self.now - ev) / 2)
        else:
            body["event_time"] = _iso(ev - timedelta(hours=rng.randint(6, 72)))
        if kind == "SEIZURE":
            self.seize(body, agency)
        else:
            body["risk_indicators"] = rng.sample(RISK_INDICATORS, k=rng.randint(1, 3))
            body["narrative"] = ("Follow-up: this consignment was seized further along its route; it passed this "
                                 "crossing earlier." if prev.body["kind"] == "SEIZURE" else
                                 "Follow-up on a consignment also flagged at another crossing of its route.")
        return SimEvent(agency.code, body, "also-reported", consignment=prev.consignment)

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
            self.reported[ev.consignment] = self.reported.get(ev.consignment, 0) + 1
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
