"""Simulator: deterministic, realistic, valid where it claims to be; and `hub simulate` against a gateway."""

from __future__ import annotations

import collections
import re
import subprocess
from datetime import UTC, datetime

from hub.domain.identifiers import check_container, compact, plate_key
from hub.domain.report import ReportInvalid, from_json
from hub.tools.simulator import AGENCIES, generate, generate_events
from tests.conftest import HUB, hub_env, hub_settings
from tests.connectors.conftest import Gateway
from tests.connectors.intake import read_intake_sync

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STATE = {a.code: a.state for a in AGENCIES}


def test_same_seed_same_reports_other_seed_other_reports() -> None:
    assert generate(11, 50, NOW) == generate(11, 50, NOW)
    assert generate(11, 50, NOW) != generate(12, 50, NOW)


def test_reports_are_valid_exactly_when_expected() -> None:
    s = hub_settings()
    events = generate_events(5, 600, NOW)
    outcomes = collections.Counter()
    for ev in events:
        try:
            from_json(ev.body, agency=ev.agency, state=STATE[ev.agency], settings=s, now=NOW)
            valid = True
        except ReportInvalid:
            valid = False
        assert valid == ev.expect_valid, (ev.note, ev.body)
        outcomes[valid] += 1
    assert 0 < outcomes[False] < 0.08 * len(events)  # a small share of bad inputs


def test_scenario_has_the_caricc_features() -> None:
    events = generate_events(9, 800, NOW)
    bodies = [e.body for e in events]
    assert {b["tlp"] for b in bodies} == {"CLEAR", "GREEN", "AMBER", "AMBER_STRICT", "RED"}
    assert {b["kind"] for b in bodies} == {"ALERT", "SEIZURE"}
    assert any(b["version"] == 2 for b in bodies)
    types = {s["type"] for b in bodies for s in b.get("substances", [])}
    assert {"HEROIN", "OPIUM", "CANNABIS", "HASHISH", "NPS", "PRECURSOR", "TRAMADOL"} <= types
    places = " ".join(b["location"]["place"] for b in bodies)
    for place in ("Dostuk", "Khorgos", "Nizhniy Panj", "Termez"):
        assert place in places
    assert {a.kind for a in AGENCIES} == {"customs", "drugs", "border", "imt", "blo"}
    names = [p["name"] for b in bodies for p in b.get("parties", [])]
    assert any(re.search("[а-яА-Я]", n) for n in names) and any(re.fullmatch("[A-Za-z .,-]+", n) for n in names)
    valid = [e for e in events if e.expect_valid]
    for e in valid:
        for n in e.body.get("conveyance", {}).get("container_numbers", []):
            assert check_container(n).valid, n
    # the same consignment reported by agencies of two states: a shared container or plate
    holders: dict[str, set[str]] = collections.defaultdict(set)
    for e in valid:
        conv = e.body.get("conveyance", {})
        for n in conv.get("container_numbers", []):
            holders["C" + compact(n)].add(STATE[e.agency])
        if conv.get("vehicle_plate"):
            holders["P" + (plate_key(conv["vehicle_plate"]) or "")].add(STATE[e.agency])
    assert sum(1 for states in holders.values() if len(states) > 1) >= 10
    assert any(e.note == "also-reported" for e in valid)


def test_hub_simulate_sends_through_the_gateway(gateway: Gateway) -> None:
    r = subprocess.run([*HUB, "simulate", "--count", "40", "--rate", "200", "--seed", "4242", "--url", gateway.url],
                       env=hub_env(gateway.settings), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"published 40: accepted (\d+), duplicates (\d+), rejected (\d+) \(deliberately bad (\d+)\), "
                  r"pending 0, unexpected outcomes 0", r.stdout)
    assert m, r.stdout + r.stderr[-2000:]
    accepted, dups, rejected, bad = map(int, m.groups())
    assert rejected == bad and accepted + dups + rejected == 40
    tag = f"-{datetime.now(UTC).year}-{4242 & 0xFFFF:04X}-"  # the scenario's source_ref tag for this seed
    msgs = read_intake_sync(gateway.settings, lambda x: tag in (x["key"] or ""), accepted, timeout=30)
    assert len(msgs) == accepted
    assert {x["report"]["agency"] for x in msgs} <= set(STATE)
