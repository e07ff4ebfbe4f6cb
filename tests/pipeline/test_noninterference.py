"""Non-interference (SPEC §5) as a property of decide(), checked on hypothesis-generated scenarios.

A scenario is a sequence of report versions (every TLP, addressees, partners, updates that change
the TLP, duplicates and stale versions), shares of earlier versions (SPEC §13), correlations through
shared containers/plates/documents (formatting and look-alike variants), party names shared across
scripts and word orders, watchlist names, event times inside and outside the window, and processing
times that jump past the index retention. For every recipient R: decide() over the whole sequence
and over the sequence without the versions R may not see (see ``decide_support.visible_to``) give R
identical feed items and receipts, except ``routed_at``.

The number of scenarios and recipient comparisons is printed at the end of the module's run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.pipeline.core import enrich
from hub.pipeline.core.decide import Context
from tests.conftest import TEST_ID_KEY, hub_settings
from tests.factories import report
from tests.pipeline.decide_support import T0, check_noninterference, share_input

DAY = 24 * 3600 * 1000
STATES = {"KZ": "KZ-CUSTOMS", "UZ": "UZ-CUSTOMS", "TJ": "TJ-DCA", "RU": "RU-FCS", "KG": "KG-DCS",
          "AF": "AF-CNPA", "CN": "CN-GACC"}
TARGETS = ["KZ", "UZ", "TJ", "RU", "KG", "TM", "AF", "CN", "GE", "CARICC"]
TLPS = ["CLEAR", "GREEN", "AMBER", "AMBER_STRICT", "RED"]
CONTAINERS = [["CSQU3054383"], ["csqu 305438-3"], ["MSCU1234566"], ["TGHU1234569"]]  # two spellings of one
PLATES = ["01 А 123 ВС", "01A123BC", "777KZ02", "B 555 AX"]  # Cyrillic look-alikes fold onto the Latin one
DOCS = ["CMR-2231", "cmr 2231", "TIR-77/1"]
NAMES = ["Karimov Aziz", "Aziz Karimov", "Карімов Азіз", "Рахимов Фаррух", "Rakhimov Farrukh",
         "Sughd Fruit LLC", "Ivanov Petr", "Petr Ivanov", "Nurlan Seitkali", "Mammadov Elvin"]
COUNT = {"scenarios": 0, "recipients": 0, "inputs": 0}
STATS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    line = (f"non-interference: {COUNT['scenarios']} scenarios, {COUNT['inputs']} inputs, "
            f"{COUNT['recipients']} recipient comparisons (full vs filtered sequence); full runs: "
            + ", ".join(f"{k} {v}" for k, v in sorted(STATS.items())))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            tr.write_line("")
            tr.write_line(line)


@st.composite
def scenarios(draw: st.DrawFn, max_events: int = 22) -> tuple[list[tuple[Any, int]], int]:
    window_days = draw(st.sampled_from([7, 7, 3]))
    n = draw(st.integers(3, max_events))
    now = T0
    sent: list[dict[str, Any]] = []  # versions generated so far
    refs = 0
    events: list[tuple[Any, int]] = []
    for i in range(n):
        now += draw(st.sampled_from([1, 60_000, 3_600_000, DAY, 9 * DAY]))
        kind = draw(st.sampled_from(["report"] * 6 + ["update", "update", "share", "again"]))
        if kind == "again" and sent:
            prev = draw(st.sampled_from(sent))
            version = prev["version"] + draw(st.sampled_from([0, -1]))  # duplicate or (maybe) stale
            if version >= 1:
                events.append((dict(prev, version=version), now))
                continue
        if kind == "share" and sent:
            prev = draw(st.sampled_from(sent))
            to = draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=4, unique=True))
            cmd = {"provenance": {"request_id": f"Q-{i}", "requested_by": "officer", "requested_state": to[0],
                                  "requested_at": now - 5, "granted_by": "desk", "granted_at": now - 1,
                                  "conditions": draw(st.sampled_from([None, "no court use"]))},
                   "report_id": prev["report_id"], "version": prev["version"], "to_states": to, "report": prev}
            events.append((share_input(cmd, i), now))
            continue
        if kind == "update" and sent:
            prev = draw(st.sampled_from(sent))
            state, ref, version = prev["reporter_state"], prev["source_ref"], prev["version"] + draw(
                st.sampled_from([1, 1, 2]))
        else:
            refs += 1
            state, ref, version = draw(st.sampled_from(sorted(STATES))), f"NI-{refs:03d}", 1
        conveyance = {"mode": "ROAD", "container_numbers": draw(st.sampled_from([[], [], *CONTAINERS])),
                      "transport_document": draw(st.sampled_from([None, None, *DOCS])),
                      "vehicle_plate": draw(st.sampled_from([None, *PLATES])), "wagon_number": None, "flight": None}
        parties = [{"role": "DRIVER", "name": nm, "country": "UZ", "identifier": f"ID-{j}"}
                   for j, nm in enumerate(draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True)))]
        r = report(STATES[state], state, source_ref=ref, version=version,
                   kind=draw(st.sampled_from(["SEIZURE", "ALERT"])), tlp=draw(st.sampled_from(TLPS)),
                   addressees=draw(st.lists(st.sampled_from(TARGETS), max_size=3, unique=True)),
                   route=[{"country": c, "place": None} for c in draw(st.lists(st.sampled_from(TARGETS[:-1]),
                                                                               max_size=3))],
                   location={"country": draw(st.sampled_from(["KZ", "UZ", "TJ", "AF"])), "place": None,
                             "unlocode": None, "lat": None, "lon": None},
                   conveyance=conveyance, parties=parties,
                   event_time=T0 - draw(st.sampled_from([0, 1, 2, 5, 6, 9, 12, 300])) * DAY,
                   received_at=now, risk_indicators=["x"])
        sent.append(r)
        events.append((r, now))
    return events, window_days


def _check(events: list[tuple[Any, int]], window_days: int) -> None:
    ctx = Context(hub_settings(correlation_window_days=window_days), enrich.refdata(), TEST_ID_KEY)
    COUNT["scenarios"] += 1
    COUNT["inputs"] += len(events)
    COUNT["recipients"] += check_noninterference(events, ctx, stats=STATS)


SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
            "derandomize": True}


@settings(max_examples=250, **SETTINGS)  # type: ignore[arg-type]
@given(scenarios())
def test_what_a_recipient_receives_does_not_depend_on_reports_it_may_not_see(
        scenario: tuple[list[tuple[Any, int]], int]) -> None:
    _check(*scenario)


@pytest.mark.slow
@settings(max_examples=1500, **SETTINGS)  # type: ignore[arg-type]
@given(scenarios(max_events=40))
def test_non_interference_long_profile(scenario: tuple[list[tuple[Any, int]], int]) -> None:
    _check(*scenario)
