"""The persisted form of the decision core's state (the ``reports`` table) stays byte-compatible.

``tests/pipeline/data/state_rows.json`` holds the rows that the code *before* the named records of
issue 18 (commit 31afa01: positional tuples in memory) persisted for :func:`scenario`. A worker
restarted on newer code rebuilds its State from such rows, and writes the same bytes for the same
decisions, so the golden rows are both loaded and compared with what the current code writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.pipeline.core.decide import decide
from hub.pipeline.core.state import REPORTS, State
from tests.factories import report
from tests.pipeline.decide_support import T0, Runner, report_input, share_input

GOLDEN = Path(__file__).parent / "data" / "state_rows.json"
DAY = 24 * 3600 * 1000


def _conv(**kw: Any) -> dict[str, Any]:
    return {"mode": "ROAD", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
            "wagon_number": None, "flight": None} | kw


def _rep(state: str, agency: str, ref: str, tlp: str, addressees: list[str], **kw: Any) -> dict[str, Any]:
    kw.setdefault("conveyance", _conv(vehicle_plate=f"P-{ref}"))
    return report(agency, state, source_ref=ref, tlp=tlp, addressees=addressees, route=[],
                  location={"country": state, "place": None, "unlocode": None, "lat": None, "lon": None},
                  event_time=T0 - DAY, **kw)


def _share(r: dict[str, Any], to: list[str], request: str) -> dict[str, Any]:
    return {"provenance": {"request_id": request, "requested_by": "officer:ge-1", "requested_state": "UZ",
                           "requested_at": T0 - 10, "granted_by": "agency:KZ-CUSTOMS", "granted_at": T0 - 5,
                           "conditions": None},
            "report_id": r["report_id"], "version": r["version"], "to_states": to, "report": r}


def scenario() -> Runner:
    """Versions, correlation in some views only, party names, and shares: every part of a record."""
    run = Runner()
    box = _conv(container_numbers=["CSQU3054383"], vehicle_plate="01 A 123 BC")
    karimov = [{"role": "DRIVER", "name": "Karimov Aziz", "country": "UZ", "identifier": None},
               {"role": "SHIPPER", "name": "Vostok Tranzit LLC", "country": "RU", "identifier": None}]
    secret = _rep("KZ", "KZ-CUSTOMS", "FMT-1", "RED", ["UZ"], conveyance=box, parties=karimov)
    run.step(secret)
    tj = _rep("TJ", "TJ-DCA", "FMT-2", "AMBER", ["UZ", "GE"], conveyance=box)
    run.step(tj)
    run.step(share_input(_share(secret, ["TJ", "GE"], "REQ-FMT-1"), run.seq))
    run.step(dict(secret, version=2, addressees=["UZ", "TJ"]))
    run.step(_rep("RU", "RU-FCS", "FMT-3", "GREEN", [], conveyance=_conv(transport_document="CMR-77"),
                  parties=[dict(karimov[0], name="Aziz Karimov")]))
    run.step(_rep("UZ", "UZ-CUSTOMS", "FMT-4", "CLEAR", [], conveyance=_conv(transport_document="CMR-77")))
    return run


def _golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


def test_rows_persisted_by_the_older_code_load_and_serialize_to_the_same_bytes() -> None:
    golden = _golden()
    assert len(golden) == 4
    st = State.rebuild({REPORTS: golden.items()})
    assert set(st.reports) == set(golden)
    for rid, row in golden.items():
        assert json.dumps(st.get(REPORTS, rid)) == json.dumps(row)
    shared = [row for row in golden.values() if row.get("g")]
    assert shared and any(len(row["v"]) == 2 for row in golden.values())  # the golden covers shares and updates
    assert any(o is not None for row in golden.values() for o, _views in row["i"])  # and joined incidents


def test_the_current_code_persists_the_same_rows_for_the_same_inputs() -> None:
    run = scenario()
    golden = _golden()
    assert list(run.persisted[REPORTS]) == list(golden)
    for rid, row in golden.items():
        assert json.dumps(run.persisted[REPORTS][rid]) == json.dumps(row)


def test_a_state_rebuilt_from_the_older_rows_decides_like_the_live_one() -> None:
    run = scenario()
    old = State.rebuild({REPORTS: _golden().items()})
    assert {k: old.key_reports(k) for k in old.keys} == {k: run.state.key_reports(k) for k in run.state.keys}
    probe = _rep("KG", "KG-DCS", "FMT-5", "GREEN", [], conveyance=_conv(container_numbers=["CSQU3054383"]),
                 parties=[{"role": "DRIVER", "name": "Aziz Karimov", "country": "UZ", "identifier": None}])
    ctx = run.ctx.at(run.seq, T0 + run.seq * 1000)
    live, again = decide(report_input(probe, run.seq), run.state, ctx), decide(report_input(probe, run.seq), old, ctx)
    assert live.verdict == "NEW" and not live.error
    assert any(it["delivery"] == "CORRELATED" for it in live.feed_items)
    assert any(it["enrichment"]["entity_links"] for it in live.feed_items)
    assert live.feed_items == again.feed_items and live.audit == again.audit and live.writes == again.writes


def test_the_state_knows_the_highest_sequencer_position_it_holds() -> None:
    """The worker numbers a new input above ``State.last_seq`` (hub.intake offsets restart at 0 when the
    two-hop layout's hub.pipeline.validated positions are in the rows): live, rebuilt and old rows agree."""
    golden = _golden()
    seqs = [v[5] for row in golden.values() for v in row["v"]] + [g[0] for row in golden.values()
                                                                   for g in row.get("g") or ()]
    run = scenario()
    old = State.rebuild({REPORTS: golden.items()})
    assert old.last_seq == run.state.last_seq == run.rebuilt().last_seq == max(seqs) > 0
    assert State().last_seq == -1
    run.seq = 0  # a new input numbered below the rows (what an unraised hub.intake offset would be)
    before = run.state.last_seq
    run.step(_rep("KG", "KG-DCS", "FMT-9", "GREEN", [], conveyance=_conv(transport_document="CMR-9")))
    assert run.state.last_seq == before  # a position below it is not "after" the rows: the shell raises it
