"""decide(): every rule of the process stage as a pure function, without a broker (issue 11 item 1)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.pipeline.core import decide as decide_mod
from hub.pipeline.core import enrich
from hub.pipeline.core.decide import Count, decide
from hub.pipeline.core.state import MEMBER_CAP, TABLES, State
from tests.factories import report
from tests.pipeline.decide_support import T0, Runner, context, report_input

DAY = 24 * 3600 * 1000
AGENCY = {"KZ": "KZ-CUSTOMS", "UZ": "UZ-CUSTOMS", "TJ": "TJ-DCA", "RU": "RU-FCS", "AF": "AF-CNPA"}


def conv(**kw: Any) -> dict[str, Any]:
    return {"mode": "ROAD", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
            "wagon_number": None, "flight": None} | kw


_n = [0]


def rep(state: str, tlp: str, *, addressees: tuple[str, ...] = (), route: tuple[str, ...] = (),
        loc: str | None = None, ref: str | None = None, **kw: Any) -> dict[str, Any]:
    _n[0] += 1
    ref = ref or f"T-{state}-{_n[0]:05d}"
    kw.setdefault("conveyance", conv(vehicle_plate=f"SOLO{_n[0]:05d}"))
    kw.setdefault("event_time", T0 - 2 * 3600 * 1000)
    return report(AGENCY[state], state, source_ref=ref, tlp=tlp, addressees=list(addressees),
                  route=[{"country": c, "place": None} for c in route],
                  location={"country": loc or state, "place": None, "unlocode": None, "lat": None, "lon": None},
                  **kw)


def deliveries(d: decide_mod.Decision) -> dict[str, str]:
    return {it["recipient"]: it["delivery"] for it in d.feed_items}


# ---------------------------------------------------------------- routing table, one version at a time
ALL_MEMBERS = {"KZ", "KG", "TJ", "TM", "UZ", "AZ", "RU"}
ALL_PARTNERS = {"AF", "GE", "AM", "IR", "PK", "TR", "CN"}


@pytest.mark.parametrize(("state", "tlp", "addressees", "route", "loc", "expected"), [
    ("KZ", "RED", ("UZ", "CARICC"), ("AF", "TJ"), "KZ", {"UZ", "CARICC"}),
    ("UZ", "AMBER_STRICT", ("KZ", "AF"), ("AF",), "UZ", {"KZ", "AF"}),
    ("KZ", "AMBER", (), ("AF", "TJ", "UZ"), "KZ", {"TJ", "UZ", "CARICC"}),
    ("TJ", "AMBER", ("GE",), ("CN",), "RU", {"GE", "RU", "CARICC"}),
    ("RU", "GREEN", ("TR",), ("AF",), "RU", (ALL_MEMBERS - {"RU"}) | {"TR", "CARICC"}),
    ("KZ", "CLEAR", (), (), "KZ", (ALL_MEMBERS - {"KZ"}) | ALL_PARTNERS | {"CARICC"}),
    ("KZ", "RED", ("KZ",), (), "KZ", set()),  # addressed only to itself: routed to nobody
])
def test_a_new_report_is_routed_by_the_tlp_table(state: str, tlp: str, addressees: tuple[str, ...],
                                                 route: tuple[str, ...], loc: str, expected: set[str]) -> None:
    r = rep(state, tlp, addressees=addressees, route=route, loc=loc)
    d = Runner().step(r)
    assert d.verdict == "NEW"
    assert deliveries(d) == dict.fromkeys(sorted(expected), "NEW")
    assert [it["recipient"] for it in d.feed_items] == sorted(expected)  # recipient order
    for it in d.feed_items:
        assert it["item_id"] == f"{r['report_id']}:1:{it['recipient']}"
        assert it["routing"]["redacted"] == (it["recipient"] in ALL_PARTNERS)
        assert it["routing"]["recipients"] == sorted(expected)
        assert it["report"]["parties"][0]["identifier"] == (None if it["recipient"] in ALL_PARTNERS else "TJ1234567")
        assert it["routed_at"] == T0
    assert [a["stage"] for a in d.audit] == ["ENRICHED", "ROUTED"]
    assert d.audit[-1]["recipients"] == sorted(expected)
    assert d.audit[-1]["reason"].startswith(f"TLP {tlp}: ")
    if not expected:
        assert d.audit[-1]["reason"] == f"TLP {tlp}: no recipients"
    assert d.receipt is not None and d.receipt["receipt_id"] == f"{r['report_id']}:1"
    assert [x["recipient"] for x in d.receipt["recipients"]] == sorted(expected)
    assert d.receipt["report"] == r and d.receipt["state"] == state
    assert d.receipt["incident_id"] == d.audit[-1]["detail"]["incident_id"]
    assert d.dead_letter is None
    assert set(d.writes) <= set(TABLES) and "reports" in d.writes


def test_counts_are_plain_metric_increments() -> None:
    r = rep("KZ", "AMBER", route=("UZ",))
    d = Runner().step(r)
    assert d.counts == [Count("REPORTS_ROUTED", ("SEIZURE", "CARICC", "NEW"), 1.0),
                        Count("REPORTS_ROUTED", ("SEIZURE", "UZ", "NEW"), 1.0)]


# ---------------------------------------------------------------- dedup verdicts
def test_exact_duplicate_is_audited_and_changes_nothing() -> None:
    run = Runner()
    r = rep("KZ", "AMBER", route=("UZ",))
    run.step(r)
    d = run.step(r)
    assert d.verdict == "DUPLICATE" and d.feed_items == [] and d.writes == {} and d.receipt is None
    assert [a["stage"] for a in d.audit] == ["DUPLICATE"]
    assert d.counts == [Count("REPORTS_DUPLICATE", ("SEIZURE", "KZ-CUSTOMS"))]
    # the event id is unique per source position: a replay of the same record gives the same id
    again = decide(report_input(r, 1), run.state, run.ctx.at(1, T0))
    assert again.audit[0]["event_id"] == d.audit[0]["event_id"]


def test_stale_version_goes_to_the_dead_letters() -> None:
    run = Runner()
    v1 = rep("RU", "AMBER", route=("KZ",), ref="STALE-1")
    v3 = dict(v1, version=3)
    run.run([v1, v3])
    d = run.step(dict(v1, version=2))
    assert d.verdict == "STALE" and d.feed_items == [] and d.writes == {}
    assert d.dead_letter is not None and d.dead_letter["stage"] == "dedup"
    assert d.dead_letter["reason"] == "stale: version 2 arrived after version 3"
    assert d.dead_letter["report_id"] == v1["report_id"] and d.dead_letter["source_offset"] == 2
    assert [(a["stage"], a["reason"]) for a in d.audit] == [("REJECTED", d.dead_letter["reason"])]
    assert d.counts == [Count("REPORTS_REJECTED", ("SEIZURE", "RU-FCS", "stale")),
                        Count("DLQ_MESSAGES", ("dedup", "stale"))]


def test_update_goes_to_earlier_recipients_as_update_and_to_new_ones_as_new() -> None:
    run = Runner()
    v1 = rep("TJ", "AMBER", route=("AF", "UZ"), ref="UPD-1")
    d1 = run.step(v1)
    assert deliveries(d1) == {"UZ": "NEW", "CARICC": "NEW"}
    d2 = run.step(dict(v1, version=2, route=[{"country": c, "place": None} for c in ("AF", "UZ", "KZ")]))
    assert d2.verdict == "UPDATE"
    assert deliveries(d2) == {"CARICC": "UPDATE", "KZ": "NEW", "UZ": "UPDATE"}
    assert {it["incident_id"] for it in d1.feed_items + d2.feed_items} == {d1.feed_items[0]["incident_id"]}
    # tightened to RED for KZ only: the earlier recipients get nothing more
    d3 = run.step(dict(v1, version=3, tlp="RED", addressees=["KZ"]))
    assert deliveries(d3) == {"KZ": "UPDATE"}
    assert d3.receipt is not None and d3.receipt["receipt_id"] == f"{v1['report_id']}:3"


# ---------------------------------------------------------------- correlation
def test_correlated_report_joins_the_incident_and_is_correlated_for_holders() -> None:
    run = Runner()
    c = conv(container_numbers=["CSQU 305438-3"])
    first = rep("KZ", "AMBER", route=("UZ",), conveyance=c, event_time=T0 - 5 * DAY)
    second = rep("UZ", "AMBER", route=("KZ", "TJ"), conveyance=conv(container_numbers=["csqu3054383"]),
                 event_time=T0 - 2 * DAY)
    d1, d2 = run.run([first, second])
    inc = d1.feed_items[0]["incident_id"]
    assert inc == decide_mod.incident_id(run.ctx.id_key, first["report_id"])  # keyed, opened by `first`
    assert [a["stage"] for a in d2.audit] == ["CORRELATED", "ENRICHED", "ROUTED"]
    cor = d2.audit[0]
    assert cor["reason"] == "shares C:CSQU3054383 with 1 report(s) within 7 days"
    own = decide_mod.incident_id(run.ctx.id_key, second["report_id"])
    views = sorted([f"{inc}: CARICC,KZ,UZ", f"{own}: TJ"])
    assert cor["detail"] == {"incident_id": inc, "matched": first["report_id"], "views": "; ".join(views)}
    # KZ reported the incident, CARICC received it -> CORRELATED; TJ is new to it
    assert deliveries(d2) == {"CARICC": "CORRELATED", "KZ": "CORRELATED", "TJ": "NEW"}
    assert Count("REPORTS_CORRELATED", ("SEIZURE", "UZ-CUSTOMS")) in d2.counts
    by = {it["recipient"]: it for it in d2.feed_items}
    # per view: TJ may not see `first`, so in TJ's view `second` opened its own incident
    assert {r: it["incident_id"] for r, it in by.items()} == {"CARICC": inc, "KZ": inc, "TJ": own}
    assert d2.receipt is not None and d2.receipt["incident_id"] == inc  # UZ received `first`
    # the provider's receipt does not tell who already held the incident
    assert {x["recipient"]: x["delivery"] for x in d2.receipt["recipients"]} == dict.fromkeys(
        ("CARICC", "KZ", "TJ"), "NEW")
    # no leak through enrichment: TJ never received `first`
    for r in ("KZ", "CARICC"):
        refs = by[r]["enrichment"]["also_reported_by"]
        assert [x["report_id"] for x in refs] == [first["report_id"]] and refs[0]["incident_id"] == inc
        assert [x["report_id"] for x in by[r]["enrichment"]["prior_reports"]] == [first["report_id"]]
        assert any("also reported by 1 other agency" in x for x in by[r]["enrichment"]["risk_reasons"])
    tj = by["TJ"]["enrichment"]
    assert tj["also_reported_by"] == [] and tj["prior_reports"] == []
    assert not any("also reported by" in x for x in tj["risk_reasons"])


def test_reports_further_apart_than_the_window_do_not_correlate() -> None:
    run = Runner()
    c = conv(container_numbers=["CSQU3054383"])
    d1, d2 = run.run([rep("KZ", "AMBER", route=("UZ",), conveyance=c, event_time=T0 - 12 * DAY),
                      rep("UZ", "AMBER", route=("KZ",), conveyance=c, event_time=T0 - 2 * DAY)])
    assert d1.feed_items[0]["incident_id"] != d2.feed_items[0]["incident_id"]
    assert [a["stage"] for a in d2.audit] == ["ENRICHED", "ROUTED"]
    assert deliveries(d2) == {"CARICC": "NEW", "KZ": "NEW"}


def test_incident_members_count_the_newest_per_view() -> None:
    run = Runner()
    c = conv(vehicle_plate="01A123BC")
    states = ["KZ", "UZ", "TJ", "RU", "KG"]
    reps = [rep(states[i % 5], "GREEN", conveyance=c) if i % 5 != 4 else
            report("KG-DCS", "KG", source_ref=f"CAP-{i}", tlp="GREEN", conveyance=c, event_time=T0 - DAY)
            for i in range(205)]
    ds = run.run(reps)
    inc = ds[0].feed_items[0]["incident_id"]
    assert {it["incident_id"] for d in ds for it in d.feed_items} == {inc}
    caricc = run.state.views.bit("CARICC")
    assert len(run.state.joiners(reps[0]["report_id"], caricc)) == MEMBER_CAP
    probe = rep("RU", "GREEN", conveyance=c)
    views = run.state.views
    look = decide_mod._Look(run.state, run.ctx.at(999, T0 + 10**6), probe["report_id"], None,
                            ["P:01A123BC"], probe["event_time"], views.mask(["CARICC"]))
    members = look.members(views.mask(["CARICC"]))[views.bit("CARICC")]
    assert len(members) == MEMBER_CAP and members[0][0] == reps[-1]["report_id"]  # newest first


# ---------------------------------------------------------------- entity links and the no-leak rule
def test_entity_links_only_to_reports_the_recipient_may_see() -> None:
    run = Runner()
    p = [{"role": "DRIVER", "name": "Karimov Aziz", "country": "UZ", "identifier": None}]
    secret = rep("TJ", "RED", addressees=("UZ",), parties=p)
    open_ = rep("KZ", "GREEN", parties=[dict(p[0], name="Карімов Азіз")])
    later = rep("RU", "GREEN", parties=[dict(p[0], name="Aziz Karimov")])
    _, _, d = run.run([secret, open_, later])
    by = {it["recipient"]: {x["report_id"] for x in it["enrichment"]["entity_links"]} for it in d.feed_items}
    assert by["UZ"] == {secret["report_id"], open_["report_id"]}
    assert by["TJ"] == {secret["report_id"], open_["report_id"]}  # TJ reported `secret`
    assert by["KG"] == {open_["report_id"]}
    assert d.audit[0]["detail"]["entity_links"] == "2"


# ---------------------------------------------------------------- failures leave no writes
def test_an_exception_after_correlate_leaves_no_state_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    run = Runner()
    c = conv(container_numbers=["CSQU3054383"])
    run.step(rep("KZ", "AMBER", route=("UZ",), conveyance=c))
    before = (dict(run.state.reports), {k: list(v) if type(v) is list else v for k, v in run.state.keys.items()})

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("enrichment exploded")

    monkeypatch.setattr(enrich, "own_parts", boom)
    r = rep("UZ", "AMBER", route=("KZ",), conveyance=c)
    d = run.step(r)
    assert d.verdict == "ERROR" and d.writes == {} and d.feed_items == [] and d.receipt is None
    # the correlation index did not gain the failed report
    assert (run.state.reports, run.state.keys) == before
    assert d.dead_letter is not None and d.dead_letter["stage"] == "process"
    assert d.dead_letter["reason"] == "internal error: enrichment exploded"
    assert d.dead_letter["report_id"] == r["report_id"] and d.dead_letter["value"] == b"raw"
    assert [(a["stage"], a["report_id"]) for a in d.audit] == [("REJECTED", r["report_id"])]
    assert d.counts == [Count("DLQ_MESSAGES", ("process", "internal error"))]
    assert d.error is not None and "enrichment exploded" in d.error
    monkeypatch.undo()
    # processed again once the bug is gone: it correlates as if the failure never happened
    d2 = run.step(r)
    assert d2.verdict == "NEW" and deliveries(d2) == {"CARICC": "CORRELATED", "KZ": "CORRELATED"}


# ---------------------------------------------------------------- state: rebuild equals live
def test_state_rebuilt_from_its_tables_decides_like_the_live_one() -> None:
    run = Runner()
    c = conv(container_numbers=["CSQU3054383"])
    names = ["Karimov Aziz", "Рахимов Фаррух", "Vostok Tranzit LLC"]
    reps = []
    for i in range(30):
        party = [{"role": "DRIVER", "name": names[i % 3], "country": "UZ", "identifier": None}]
        reps.append(rep(("KZ", "UZ", "TJ")[i % 3], ("AMBER", "GREEN", "RED")[i % 3], route=("UZ", "KZ"),
                        addressees=("RU",), conveyance=c if i % 4 == 0 else conv(vehicle_plate=f"X{i}"),
                        parties=party))
    run.run(reps)
    rebuilt = run.rebuilt()
    assert dict(rebuilt.items("reports")) == dict(run.state.items("reports"))
    assert rebuilt.keys == run.state.keys and rebuilt.members == run.state.members
    def names(st: State) -> dict:
        return {(n, c): r.newest(st.views.bit(c)) for n, r in st.names.names.items() for c in ("RU", "CARICC", "KG")}

    assert names(rebuilt) == names(run.state)
    probe = rep("RU", "GREEN", conveyance=c, parties=[{"role": "DRIVER", "name": "Aziz Karimov", "country": "UZ",
                                                       "identifier": None}])
    ctx = run.ctx.at(99, T0)
    live, again = decide(report_input(probe, 99), run.state, ctx), decide(report_input(probe, 99), rebuilt, ctx)
    assert live.verdict == "NEW" and live.feed_items and not live.error
    assert live.feed_items == again.feed_items and live.receipt == again.receipt and live.audit == again.audit
    assert live.writes == again.writes


def test_state_rebuild_rejects_unknown_tables() -> None:
    with pytest.raises(ValueError, match="unknown state tables"):
        State.rebuild({"nope": []})


def test_expire_drops_index_entries_by_processing_time() -> None:
    run = Runner()
    c = conv(container_numbers=["CSQU3054383"])
    old = rep("KZ", "AMBER", route=("UZ",), conveyance=c, event_time=T0 - 300 * DAY)  # an old event ...
    run.step(old, now_ms=T0)  # ... processed now: it stays matchable for 2 windows of processing time
    assert run.state.expire(T0 + 13 * DAY, run.ctx.retention_ms) == 0
    late = rep("UZ", "AMBER", route=("KZ",), conveyance=c, event_time=T0 - 299 * DAY)
    d = decide(report_input(late, 1), run.state, run.ctx.at(1, T0 + 13 * DAY))
    assert deliveries(d) == {"CARICC": "CORRELATED", "KZ": "CORRELATED"}  # backfills still correlate
    d = decide(report_input(late, 1), run.state, run.ctx.at(1, T0 + 15 * DAY))
    assert deliveries(d) == {"CARICC": "NEW", "KZ": "NEW"}  # expired, whether or not swept
    assert run.state.expire(T0 + 15 * DAY, run.ctx.retention_ms) == 1
    assert run.state.key_reports("C:CSQU3054383") == []
    assert decide(report_input(late, 1), run.state, run.ctx.at(1, T0 + 15 * DAY)).feed_items == d.feed_items


def test_the_correlation_window_is_the_setting() -> None:
    run = Runner(context(correlation_window_days=3))
    c = conv(container_numbers=["CSQU3054383"])
    a = rep("KZ", "AMBER", route=("UZ",), conveyance=c, event_time=T0 - 5 * DAY)
    b = rep("UZ", "AMBER", route=("KZ",), conveyance=c, event_time=T0 - 1 * DAY)  # 4 days later
    c3 = rep("TJ", "AMBER", addressees=("KZ",), conveyance=c, event_time=T0 - 3 * DAY)  # 2 days from both
    _, d2, d3 = run.run([a, b, c3])
    assert deliveries(d2) == {"CARICC": "NEW", "KZ": "NEW"}
    assert d3.audit[0]["stage"] == "CORRELATED" and d3.audit[0]["reason"].endswith("within 3 days")
    assert run.ctx.retention_ms == 6 * DAY
