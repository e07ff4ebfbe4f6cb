"""A deterministic scenario for the end-to-end test, with its own ground truth.

Expected recipients and delivery kinds are written out literally per template (from SPEC §4/§5),
never computed by the routing code under test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stdnum import iso6346

from hub.domain.codec import REPORT, codec
from tests.factories import report

MEMBERS = ["KZ", "KG", "TJ", "TM", "UZ", "AZ", "RU"]
PARTNERS = ["AF", "GE", "AM", "IR", "PK", "TR", "CN"]
AGENCY = {"KZ": "KZ-CUSTOMS", "UZ": "UZ-CUSTOMS", "TJ": "TJ-DCA", "RU": "RU-FCS"}
DAY = timedelta(days=1)


@dataclass
class Scenario:
    wave1: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value)
    wave2: list[tuple[bytes, bytes]] = field(default_factory=list)
    # recipient -> {item_id: delivery}
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    # (report_id, version) -> expected recipients of that version
    routed: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    routed_wave1: int = 0
    correlated: set[tuple[str, int]] = field(default_factory=set)
    duplicates: set[tuple[str, int]] = field(default_factory=set)
    stale: set[tuple[str, int]] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)  # report ids rejected by validation
    undecodable: list[bytes] = field(default_factory=list)
    same_incident: list[list[str]] = field(default_factory=list)  # item_ids that share an incident
    distinct_incident: list[tuple[str, str]] = field(default_factory=list)
    # (item of a recipient that may not see the incident's first report, an item of that incident):
    # per-view incidents (decide()) give them different ids; the old worker gave one global id
    own_incident: list[tuple[str, str]] = field(default_factory=list)
    # item_id -> report ids that must / must not appear in also_reported_by
    also_by: dict[str, set[str]] = field(default_factory=dict)
    partner_items: set[str] = field(default_factory=set)

    def expect(self, r: dict[str, Any], deliveries: dict[str, str]) -> None:
        for rec, kind in deliveries.items():
            item_id = f"{r['report_id']}:{r['version']}:{rec}"
            self.items.setdefault(rec, {})[item_id] = kind
            if rec in PARTNERS:
                self.partner_items.add(item_id)
        self.routed[(r["report_id"], r["version"])] = set(deliveries)


def container(n: int) -> str:
    base = f"HUBU{n:06d}"
    return base + iso6346.calc_check_digit(base)


def build(now: datetime | None = None) -> Scenario:
    rnd = random.Random(42)
    now = now or datetime.now(UTC)
    sc = Scenario()
    enc = codec().encode
    seq = 0

    def rep(state: str, tlp: str, addressees: list[str], route: list[str], loc: str, *, ref: str | None = None,
            version: int = 1, conveyance: dict | None = None, event_time: datetime | None = None,
            **kw: Any) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        ref = ref or f"E2E-{state}-{seq:05d}"
        agency = AGENCY[state]
        return report(agency, state, source_ref=ref, version=version, tlp=tlp, addressees=addressees,
                      route=[{"country": c, "place": None} for c in route],
                      location={"country": loc, "place": None, "unlocode": None, "lat": None, "lon": None},
                      conveyance=conveyance or {"mode": "ROAD", "container_numbers": [], "transport_document": None,
                                                "vehicle_plate": f"SOLO{seq:05d}", "wagon_number": None,
                                                "flight": None},
                      event_time=int((event_time or now - timedelta(hours=2)).timestamp() * 1000),
                      received_at=int(now.timestamp() * 1000), trace_id=f"trace-{seq}", **kw)

    def msg(r: dict[str, Any]) -> tuple[bytes, bytes]:
        return (f"{r['agency']}:{r['source_ref']}".encode(), enc(REPORT, r))

    # --- solo reports over every TLP (expected recipients written out from the §5 table)
    templates = [
        ("KZ", "RED", ["UZ", "CARICC"], ["AF", "TJ"], "KZ", {"UZ", "CARICC"}),
        ("UZ", "AMBER_STRICT", ["KZ", "AF"], ["AF"], "UZ", {"KZ", "AF"}),
        ("KZ", "AMBER", [], ["AF", "TJ", "UZ"], "KZ", {"TJ", "UZ", "CARICC"}),
        ("TJ", "AMBER", ["GE"], ["CN"], "RU", {"GE", "RU", "CARICC"}),
        ("RU", "GREEN", ["TR"], ["AF"], "RU", {"KZ", "KG", "TJ", "TM", "UZ", "AZ", "TR", "CARICC"}),
        ("KZ", "CLEAR", [], [], "KZ", {"KG", "TJ", "TM", "UZ", "AZ", "RU", "AF", "GE", "AM", "IR", "PK", "TR", "CN",
                                        "CARICC"}),
    ]
    solo_msgs = []
    for _ in range(25):
        for state, tlp, addr, route, loc, expected in templates:
            r = rep(state, tlp, addr, route, loc)
            sc.expect(r, dict.fromkeys(expected, "NEW"))
            solo_msgs.append(msg(r))
    sc.wave1 += solo_msgs

    # --- updates: TJ AMBER, v1 route AF-UZ -> {UZ, CARICC}
    for i in range(20):
        ref = f"E2E-UPD-{i:03d}"
        v1 = rep("TJ", "AMBER", [], ["AF", "UZ"], "TJ", ref=ref, version=1)
        sc.expect(v1, {"UZ": "NEW", "CARICC": "NEW"})
        sc.wave1.append(msg(v1))
        if i % 2 == 0:  # v2 adds KZ to the route: UPDATE to earlier recipients, NEW to KZ
            v2 = rep("TJ", "AMBER", [], ["AF", "UZ", "KZ"], "TJ", ref=ref, version=2, conveyance=v1["conveyance"])
            sc.expect(v2, {"UZ": "UPDATE", "CARICC": "UPDATE", "KZ": "NEW"})
        else:  # v2 tightened to RED for KZ only: earlier recipients get nothing more
            v2 = rep("TJ", "RED", ["KZ"], ["AF", "UZ"], "TJ", ref=ref, version=2, conveyance=v1["conveyance"])
            sc.expect(v2, {"KZ": "NEW"})
        sc.wave2.append(msg(v2))
        if i < 5:  # the same v1 again -> exact duplicate
            sc.wave2.append(msg(v1))
            sc.duplicates.add((v1["report_id"], 1))

    # --- stale versions: RU AMBER on KZ: v1, v3 accepted, then v2 (never accepted) is stale
    for i in range(10):
        ref = f"E2E-STALE-{i:03d}"
        v1 = rep("RU", "AMBER", [], ["KZ"], "RU", ref=ref, version=1)
        v3 = rep("RU", "AMBER", [], ["KZ"], "RU", ref=ref, version=3, conveyance=v1["conveyance"])
        v2 = rep("RU", "AMBER", [], ["KZ"], "RU", ref=ref, version=2, conveyance=v1["conveyance"])
        sc.expect(v1, {"KZ": "NEW", "CARICC": "NEW"})
        sc.expect(v3, {"KZ": "UPDATE", "CARICC": "UPDATE"})
        sc.wave1 += [msg(v1), msg(v3)]
        sc.wave2.append(msg(v2))
        sc.stale.add((v2["report_id"], 2))

    # --- cross-agency correlations: KZ first (AMBER via UZ), UZ second 3 days later (AMBER via KZ, TJ)
    for i in range(20):
        t1 = now - 5 * DAY
        if i % 2 == 0:
            num = container(1000 + i)
            c1 = {"mode": "SEA", "container_numbers": [f"{num[:4]} {num[4:10]}-{num[10]}"],
                  "transport_document": None, "vehicle_plate": None, "wagon_number": None, "flight": None}
            c2 = dict(c1, container_numbers=[num.lower()])
        else:  # plates with Cyrillic look-alikes on one side
            c1 = {"mode": "ROAD", "container_numbers": [], "transport_document": None,
                  "vehicle_plate": f"01 А {100 + i} ВС", "wagon_number": None, "flight": None}
            c2 = dict(c1, vehicle_plate=f"01A{100 + i}BC")
        first = rep("KZ", "AMBER", [], ["UZ"], "KZ", conveyance=c1, event_time=t1)
        second = rep("UZ", "AMBER", [], ["KZ", "TJ"], "UZ", conveyance=c2, event_time=t1 + 3 * DAY)
        sc.expect(first, {"UZ": "NEW", "CARICC": "NEW"})
        # KZ reported the incident, CARICC received it -> CORRELATED; TJ is new to it
        sc.expect(second, {"KZ": "CORRELATED", "CARICC": "CORRELATED", "TJ": "NEW"})
        sc.correlated.add((second["report_id"], 1))
        sc.wave1.append(msg(first))
        sc.wave2.append(msg(second))
        f_ids = [f"{first['report_id']}:1:{x}" for x in ("UZ", "CARICC")]
        s_ids = [f"{second['report_id']}:1:{x}" for x in ("KZ", "CARICC")]
        sc.same_incident.append(f_ids + s_ids)
        # TJ may not see `first`: in TJ's view `second` opened its own incident (SPEC §5)
        sc.own_incident.append((f"{second['report_id']}:1:TJ", f_ids[0]))
        # no leak: TJ never was allowed to receive `first`, so it must not see it referenced
        sc.also_by[f"{second['report_id']}:1:KZ"] = {first["report_id"]}
        sc.also_by[f"{second['report_id']}:1:CARICC"] = {first["report_id"]}
        sc.also_by[f"{second['report_id']}:1:TJ"] = set()

    # --- near misses: same container, 10 days apart -> separate incidents
    for i in range(5):
        num = container(5000 + i)
        cv = {"mode": "SEA", "container_numbers": [num], "transport_document": None, "vehicle_plate": None,
              "wagon_number": None, "flight": None}
        first = rep("KZ", "AMBER", [], ["UZ"], "KZ", conveyance=cv, event_time=now - 12 * DAY)
        second = rep("UZ", "AMBER", [], ["KZ", "TJ"], "UZ", conveyance=cv, event_time=now - 2 * DAY)
        sc.expect(first, {"UZ": "NEW", "CARICC": "NEW"})
        sc.expect(second, {"KZ": "NEW", "CARICC": "NEW", "TJ": "NEW"})
        sc.wave1.append(msg(first))
        sc.wave2.append(msg(second))
        sc.distinct_incident.append((f"{first['report_id']}:1:CARICC", f"{second['report_id']}:1:CARICC"))

    # --- exact duplicates of solo reports, re-sent byte for byte
    for key, value in rnd.sample(solo_msgs, 20):
        sc.wave2.append((key, value))
        d = codec().decode(value, expect=REPORT)
        sc.duplicates.add((d["report_id"], 1))

    # --- bad input: undecodable bytes and reports failing the rules
    garbage = [b"", b"{\"kind\": \"SEIZURE\"}", b"\xc3\x01" + b"\x00" * 8 + b"xx", b"\x00\x00\x00\x00\x01abc",
               bytes(range(256)), b"not avro at all", b"\xc3\x01", "отчёт".encode()]
    for i, g in enumerate(garbage):
        sc.wave1.append((f"BAD:{i}".encode(), g))
        sc.undecodable.append(g)
    for _ in range(7):
        bad = rep("KZ", "AMBER", [], ["UZ"], "KZ", substances=[])  # SEIZURE without substances
        sc.wave1.append(msg(bad))
        sc.invalid.add(bad["report_id"])

    rnd.shuffle(sc.wave2)  # order only matters within one report (one key -> one partition)
    sc.routed_wave1 = sum(1 for k, v in sc.routed.items() if k not in {
        (codec().decode(val, expect=REPORT)["report_id"], codec().decode(val, expect=REPORT)["version"])
        for _k, val in sc.wave2})
    return sc
