"""decide(ShareInput): a granted CONSENT_ONWARD (SPEC §13) delivered as SHARED, per CONTRACTS.md."""

from __future__ import annotations

from typing import Any

from hub.domain.codec import AUDIT_EVENT, FEED_ITEM, RECEIPT, codec
from hub.pipeline.core.decide import Count, incident_id
from tests.factories import report
from tests.pipeline.decide_support import T0, Runner, share_input

DAY = 24 * 3600 * 1000


def conv(**kw: Any) -> dict[str, Any]:
    return {"mode": "ROAD", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
            "wagon_number": None, "flight": None} | kw


def rep(state: str, agency: str, ref: str, tlp: str, addressees: list[str], **kw: Any) -> dict[str, Any]:
    kw.setdefault("conveyance", conv(vehicle_plate=f"P-{ref}"))
    return report(agency, state, source_ref=ref, tlp=tlp, addressees=addressees, route=[],
                  location={"country": state, "place": None, "unlocode": None, "lat": None, "lon": None},
                  event_time=T0 - DAY, **kw)


def command(r: dict[str, Any], to: list[str], request: str = "REQ-1", **prov: Any) -> dict[str, Any]:
    return {"provenance": {"request_id": request, "requested_by": "officer:ge-1", "requested_state": "UZ",
                           "requested_at": T0 - 10, "granted_by": "agency:KZ-CUSTOMS", "granted_at": T0 - 5,
                           "conditions": None} | prov,
            "report_id": r["report_id"], "version": r["version"], "to_states": to, "report": r}


def test_a_share_delivers_shared_items_with_provenance_to_each_new_state() -> None:
    run = Runner()
    r = rep("KZ", "KZ-CUSTOMS", "SH-1", "RED", ["UZ"])
    run.step(r)
    d = run.step(share_input(command(r, ["UZ", "GE", "TJ", "KZ", "XX"], conditions="no court use"), 1))
    assert d.verdict == "SHARED" and d.error is None
    # the reporter, a state that already received the version and unknown codes are skipped
    assert [(it["recipient"], it["delivery"]) for it in d.feed_items] == [("GE", "SHARED"), ("TJ", "SHARED")]
    by = {it["recipient"]: it for it in d.feed_items}
    assert by["GE"]["item_id"] == f"{r['report_id']}:1:GE"
    assert by["GE"]["provenance"]["request_id"] == "REQ-1"
    assert by["GE"]["provenance"]["conditions"] == "no court use"
    assert by["GE"]["routing"]["redacted"] is True  # partner redaction still applies
    assert all(p["identifier"] is None for p in by["GE"]["report"]["parties"])
    assert by["TJ"]["report"]["parties"][0]["identifier"] == "TJ1234567"
    assert by["TJ"]["routing"]["recipients"] == ["GE", "TJ", "UZ"]  # the states the command named
    assert d.receipt is not None and d.receipt["receipt_id"] == f"{r['report_id']}:1:share:REQ-1"
    assert [(x["recipient"], x["delivery"], x["redacted"]) for x in d.receipt["recipients"]] == [
        ("GE", "SHARED", True), ("TJ", "SHARED", False)]
    assert d.receipt["incident_id"] == incident_id(run.ctx.id_key, r["report_id"])
    assert [(a["stage"], a["recipients"]) for a in d.audit] == [("SHARED", ["GE", "TJ"])]
    assert d.audit[0]["detail"]["request_id"] == "REQ-1"
    assert "granted by agency:KZ-CUSTOMS" in d.audit[0]["reason"]
    assert d.counts == [Count("REPORTS_ROUTED", ("SEIZURE", "GE", "SHARED")),
                        Count("REPORTS_ROUTED", ("SEIZURE", "TJ", "SHARED"))]
    assert list(d.writes) == ["reports"]
    # every output is valid Avro of release v2
    c = codec()
    for it in d.feed_items:
        assert c.decode(c.encode(FEED_ITEM, it), expect=FEED_ITEM)["provenance"]["request_id"] == "REQ-1"
    c.encode(RECEIPT, d.receipt)
    c.encode(AUDIT_EVENT, d.audit[0])


def test_a_replayed_share_is_a_duplicate_and_an_unknown_version_is_rejected() -> None:
    run = Runner()
    r = rep("KZ", "KZ-CUSTOMS", "SH-2", "RED", ["UZ"])
    run.step(r)
    run.step(share_input(command(r, ["TJ"]), 1))
    again = run.step(share_input(command(r, ["TJ"]), 2))
    assert again.verdict == "DUPLICATE" and again.feed_items == [] and again.writes == {} and again.receipt is None
    assert [a["stage"] for a in again.audit] == ["DUPLICATE"]
    # a share of a later request to a state that already has it by share: nothing new either
    assert run.step(share_input(command(r, ["TJ", "UZ"], request="REQ-2"), 3)).verdict == "DUPLICATE"
    bad = run.step(share_input(command(dict(r, version=2), ["TJ"], request="REQ-3"), 4))
    assert bad.verdict == "REJECTED" and bad.writes == {} and bad.feed_items == []
    assert bad.dead_letter is not None and bad.dead_letter["stage"] == "share"
    assert "was never routed" in bad.dead_letter["reason"]
    assert [a["stage"] for a in bad.audit] == ["REJECTED"]


def test_a_shared_version_becomes_part_of_the_state_view() -> None:
    run = Runner()
    c = conv(container_numbers=["CSQU3054383"])
    p = [{"role": "DRIVER", "name": "Karimov Aziz", "country": "UZ", "identifier": None}]
    secret = rep("KZ", "KZ-CUSTOMS", "SH-3", "RED", ["UZ"], conveyance=c, parties=p)
    d1 = run.step(secret)
    # before the share, TJ's own later report does not correlate with the hidden one
    tj1 = rep("TJ", "TJ-DCA", "SH-TJ-1", "AMBER", ["UZ"], conveyance=c)
    d_tj1 = run.step(tj1)
    assert d_tj1.receipt is not None
    tj_incident = d_tj1.receipt["incident_id"]
    assert tj_incident == incident_id(run.ctx.id_key, tj1["report_id"])
    share = run.step(share_input(command(secret, ["TJ"]), 2))
    (item,) = share.feed_items
    # the incident and enrichment come from TJ's own view: TJ's report is now in it
    assert item["incident_id"] == tj_incident
    assert [x["report_id"] for x in item["enrichment"]["prior_reports"]] == [tj1["report_id"]]
    assert d1.feed_items[0]["incident_id"] == incident_id(run.ctx.id_key, secret["report_id"])
    # from now on TJ sees `secret`: a later report correlates with it and links to it in TJ's view
    later = rep("RU", "RU-FCS", "SH-RU-1", "GREEN", [], conveyance=c,
                parties=[dict(p[0], name="Aziz Karimov")])
    d = run.step(later)
    by = {it["recipient"]: it for it in d.feed_items}
    assert {x["report_id"] for x in by["TJ"]["enrichment"]["prior_reports"]} == {secret["report_id"],
                                                                                tj1["report_id"]}
    assert [x["report_id"] for x in by["TJ"]["enrichment"]["entity_links"]] == [secret["report_id"]]
    assert by["TJ"]["delivery"] == "CORRELATED"
    # KG never saw `secret`: nothing of it
    assert by["KG"]["enrichment"]["entity_links"] == [] and by["KG"]["delivery"] == "NEW"
    assert by["KG"]["enrichment"]["prior_reports"] == []
    # and a later UPDATE of the report reaches TJ as an update (it received version 1 by share)
    d2 = run.step(dict(secret, version=2, addressees=["UZ", "TJ"]))
    assert {it["recipient"]: it["delivery"] for it in d2.feed_items} == {"TJ": "UPDATE", "UZ": "UPDATE"}
    rebuilt = run.rebuilt()
    assert rebuilt.items("reports") == run.state.items("reports")


def test_report_decisions_encode_as_v2() -> None:
    run = Runner()
    c = codec()
    r = rep("KZ", "KZ-CUSTOMS", "SH-ENC", "CLEAR", [])
    d = run.step(r)
    for it in d.feed_items:
        c.encode(FEED_ITEM, it)
    c.encode(RECEIPT, d.receipt)
    for a in d.audit:
        c.encode(AUDIT_EVENT, a)
