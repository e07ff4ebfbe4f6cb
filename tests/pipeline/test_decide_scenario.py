"""The end-to-end scenario (tests/pipeline/scenario.py) through validate() and decide() without a broker:
the same ground truth the real worker is checked against."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from hub.pipeline.core.decide import Decision, ReportInput
from hub.pipeline.core.validate import Message, validate
from hub.platform.kafka.topics import INTAKE, VALIDATED
from tests.pipeline import scenario
from tests.pipeline.decide_support import SETTINGS, Runner, Src


def run_scenario() -> tuple[scenario.Scenario, list[Decision]]:
    sc = scenario.build()
    run = Runner()
    now = datetime.now(UTC)
    out = []
    for i, (key, value) in enumerate(sc.wave1 + sc.wave2):
        v = validate(Message(INTAKE, 0, i, key, value, [("trace_id", b"t")]), settings=SETTINGS, now=now)
        if v.report is None:
            continue
        out.append(run.step(ReportInput(v.report, Src(run.seq, v.report["report_id"].encode(), value, VALIDATED))))
    return sc, out


def test_scenario_through_decide() -> None:
    sc, decisions = run_scenario()
    items: dict[str, dict[str, str]] = defaultdict(dict)
    by_id: dict[str, dict[str, Any]] = {}
    for d in decisions:
        for it in d.feed_items:
            assert it["item_id"] not in by_id, "an item was decided twice"
            items[it["recipient"]][it["item_id"]] = it["delivery"]
            by_id[it["item_id"]] = it
            assert it["routing"]["redacted"] == (it["item_id"] in sc.partner_items)
    assert dict(items) == sc.items
    verdicts = Counter(d.verdict for d in decisions)
    assert verdicts["DUPLICATE"] == len(sc.duplicates) and verdicts["STALE"] == len(sc.stale)
    stale = {(d.dead_letter["report_id"], 2) for d in decisions if d.dead_letter}
    assert stale == sc.stale
    correlated = {(a["report_id"], a["version"]) for d in decisions for a in d.audit if a["stage"] == "CORRELATED"}
    assert correlated == sc.correlated
    for group in sc.same_incident:
        assert len({by_id[i]["incident_id"] for i in group}) == 1, group
    for a, b in sc.distinct_incident + sc.own_incident:
        assert by_id[a]["incident_id"] != by_id[b]["incident_id"]
    for item_id, refs in sc.also_by.items():
        assert {x["report_id"] for x in by_id[item_id]["enrichment"]["also_reported_by"]} == refs, item_id
        assert {x["report_id"] for x in by_id[item_id]["enrichment"]["prior_reports"]} == refs, item_id
    routed = {(d.receipt["report_id"], d.receipt["version"]): {r["recipient"] for r in d.receipt["recipients"]}
              for d in decisions if d.receipt}
    assert routed == sc.routed
