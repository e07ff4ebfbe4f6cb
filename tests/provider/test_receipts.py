"""The provider projection (hub.provider.receipts) through the real sink write path, on SQLite and
PostgreSQL: stage outcomes with reasons, recipients with delivery kind, first-delivered and
acknowledged times, the agency's change stream — and idempotence under replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.platform.db import Database
from hub.provider.projection import ProviderProjection
from hub.provider.store import ReceiptStore
from hub.sink import Sink
from tests.conftest import hub_settings
from tests.provider.conftest import T0, batch, receipt, stage, uz_report


@pytest.fixture
def sink(db_url: str, tmp_path: Path) -> Sink:
    db = Database(db_url)
    settings = hub_settings(data_dir=str(tmp_path / "hub"))
    return Sink(settings, db=db, projections=[ProviderProjection(db, settings)])


def store(s: Sink) -> ReceiptStore:
    return ReceiptStore(s.db)


def lifecycle(rep: dict[str, Any]) -> list[dict[str, Any]]:
    """What the pipeline and gateway say about one routed version, in topic order."""
    return [
        stage("RECEIVED", rep, T0, actor="agency:UZ-CUSTOMS", detail={"source_ref": rep["source_ref"]}),
        stage("VALIDATED", rep, T0 + 10, actor="pipeline.validate"),
        stage("CORRELATED", rep, T0 + 20, actor="pipeline.process", reason="shares container with 1 report",
              detail={"matched": "R-someone-elses"}),
        stage("ENRICHED", rep, T0 + 20, actor="pipeline.process", detail={"risk_score": 80}),
        stage("ROUTED", rep, T0 + 30, actor="pipeline.process", recipients=["CARICC", "KZ", "RU"],
              reason="TLP AMBER: KZ NEW: on the route"),
        receipt(rep, [("CARICC", "NEW"), ("KZ", "NEW"), ("RU", "CORRELATED")], at=T0 + 30),
    ]


def delivered(rep: dict[str, Any], state: str, at: int, officer: str) -> dict[str, Any]:
    return stage("DELIVERED", rep, at, state=state, actor=f"officer:{officer}", unique=f"{state}-{at}",
                 detail={"session": f"s-{at}"})


def acked(rep: dict[str, Any], state: str, at: int, officer: str) -> dict[str, Any]:
    ev = stage("ACKNOWLEDGED", rep, at, state=state, actor=f"officer:{officer}")
    ev["agency"] = None  # the gateway's ACKNOWLEDGED names no agency
    return ev


def test_a_routed_version_with_deliveries_and_an_acknowledgement(sink: Sink) -> None:
    rep = uz_report()
    rid = rep["report_id"]
    sink.write(batch(*lifecycle(rep)))
    sink.write(batch(delivered(rep, "KZ", T0 + 60_000, "kz-1"), delivered(rep, "KZ", T0 + 90_000, "kz-2"),
                     acked(rep, "KZ", T0 + 150_000, "kz-2")))
    st = store(sink).status(rid)
    assert st is not None
    assert (st["agency"], st["state"], st["source_ref"], st["status"]) == ("UZ-CUSTOMS", "UZ", "UZ-DESK-1", "ROUTED")
    (v1,) = st["versions"]
    assert [s["stage"] for s in v1["stages"]] == ["RECEIVED", "VALIDATED", "ROUTED"]  # no CORRELATED/ENRICHED
    assert "R-someone-elses" not in repr(st)
    assert v1["incident_id"] == "I-uz-1" and v1["kind"] == "SEIZURE"
    kz = next(r for r in v1["recipients"] if r["recipient"] == "KZ")
    assert kz["delivery"] == "NEW" and kz["reason"].startswith("on the route")
    assert kz["delivered_at"] == "2025-12-29T09:21:00.000Z" and kz["delivered_to"] == "officer:kz-1"
    assert kz["acknowledged_at"] == "2025-12-29T09:22:30.000Z" and kz["acknowledged_by"] == "officer:kz-2"
    assert kz["time_to_acknowledge_s"] == 149.97  # from routing (T0+30) to the acknowledgement
    ru = next(r for r in v1["recipients"] if r["recipient"] == "RU")
    assert ru["delivery"] == "CORRELATED" and ru["delivered_at"] is None and ru["time_to_acknowledge_s"] is None
    assert (v1["delivered"], v1["acknowledged"]) == (1, 1)

    changes = store(sink).changes("UZ-CUSTOMS")
    assert [c["cursor"] for c in changes] == list(range(1, len(changes) + 1))
    assert [c["type"] for c in changes] == ["receipt", "stage", "stage", "stage", "delivered", "acknowledged"]
    assert changes[-1]["by"] == "officer:kz-2" and changes[-1]["time_to_acknowledge_s"] == 149.97
    assert store(sink).changes("UZ-CUSTOMS", after=4) == changes[4:]


def test_replaying_batches_changes_nothing(sink: Sink) -> None:
    rep = uz_report("UZ-REPLAY")
    first = batch(*lifecycle(rep))
    second = batch(delivered(rep, "KZ", T0 + 5000, "kz-1"), acked(rep, "KZ", T0 + 9000, "kz-1"))
    for b in (first, second):
        sink.write(b)
    before = (store(sink).status(rep["report_id"]), store(sink).changes("UZ-CUSTOMS"))
    for b in (first, second, first):  # the sink replays a batch whose offsets were not committed
        sink.write(b)
    assert (store(sink).status(rep["report_id"]), store(sink).changes("UZ-CUSTOMS")) == before


def test_a_rejection_after_the_202_is_the_versions_outcome_with_its_reason(sink: Sink) -> None:
    rep = uz_report("UZ-LATE-REJECT", version=2)
    sink.write(batch(
        stage("RECEIVED", rep, T0, actor="agency:UZ-CUSTOMS", detail={"source_ref": rep["source_ref"]}),
        stage("REJECTED", rep, T0 + 5, actor="pipeline.process",
              reason="stale: version 2 arrived after version 3", unique="p0/17")))
    st = store(sink).status(rep["report_id"])
    assert st is not None and st["status"] == "REJECTED"
    rejected = st["versions"][0]["stages"][-1]
    assert rejected == {"stage": "REJECTED", "at": "2025-12-29T09:20:00.005Z", "actor": "pipeline.process",
                        "reason": "stale: version 2 arrived after version 3"}
    assert [c["type"] for c in store(sink).changes("UZ-CUSTOMS")] == ["stage", "stage"]


def test_a_rejection_without_a_version_is_listed_apart(sink: Sink) -> None:
    rep = uz_report("UZ-422")
    ev = stage("REJECTED", rep, T0, actor="agency:UZ-CUSTOMS", reason="invalid", unique="t-1")
    ev["version"] = None
    sink.write(batch(ev))
    st = store(sink).status(rep["report_id"])
    assert st is not None and st["versions"] == [] and st["unversioned"][0]["reason"] == "invalid"


def test_an_acknowledgement_before_its_agency_is_known_waits_and_joins_the_stream(sink: Sink) -> None:
    rep = uz_report("UZ-EARLY-ACK")
    sink.write(batch(acked(rep, "KZ", T0 + 9000, "kz-1")))
    assert store(sink).changes("UZ-CUSTOMS") == []
    assert store(sink).status(rep["report_id"]) is None
    sink.write(batch(receipt(rep, [("KZ", "NEW")], at=T0 + 1000)))
    changes = store(sink).changes("UZ-CUSTOMS")
    assert [c["type"] for c in changes] == ["receipt", "acknowledged"]
    assert changes[1]["time_to_acknowledge_s"] == 8.0
    sink.write(batch(acked(rep, "KZ", T0 + 9000, "kz-1")))  # replayed: still once
    assert len(store(sink).changes("UZ-CUSTOMS")) == 2


def test_the_first_delivery_wins_even_when_processed_late(sink: Sink) -> None:
    rep = uz_report("UZ-ORDER")
    sink.write(batch(*lifecycle(rep), delivered(rep, "RU", T0 + 70_000, "ru-late")))
    sink.write(batch(delivered(rep, "RU", T0 + 40_000, "ru-early")))
    st = store(sink).status(rep["report_id"])
    assert st is not None
    ru = next(r for r in st["versions"][0]["recipients"] if r["recipient"] == "RU")
    assert ru["delivered_at"] == "2025-12-29T09:20:40.000Z" and ru["delivered_to"] == "officer:ru-early"
    assert [c["type"] for c in store(sink).changes("UZ-CUSTOMS")].count("delivered") == 1


def test_a_share_receipt_adds_a_shared_recipient_without_replacing_the_routing(sink: Sink) -> None:
    rep = uz_report("UZ-SHARE")
    sink.write(batch(*lifecycle(rep)))
    sink.write(batch(
        receipt(rep, [("TJ", "SHARED")], at=T0 + 600_000, request_id="Q-abc", incident="I-uz-1"),
        stage("SHARED", rep, T0 + 600_000, actor="pipeline.process", recipients=["TJ"],
              detail={"request_id": "Q-abc"})))
    st = store(sink).status(rep["report_id"])
    assert st is not None
    v1 = st["versions"][0]
    assert v1["routed_at"] == "2025-12-29T09:20:00.030Z"  # the version's own routing time stays
    tj = next(r for r in v1["recipients"] if r["recipient"] == "TJ")
    assert (tj["delivery"], tj["request_id"], tj["routed_at"]) == ("SHARED", "Q-abc", "2025-12-29T09:30:00.000Z")
    assert v1["stages"][-1] == {"stage": "SHARED", "at": "2025-12-29T09:30:00.000Z", "actor": "pipeline.process",
                                "recipients": ["TJ"], "request_id": "Q-abc"}
    types = [c["type"] for c in store(sink).changes("UZ-CUSTOMS")]
    assert types[-2:] == ["shared", "stage"]


def test_each_agency_has_its_own_cursor(sink: Sink) -> None:
    uz = uz_report("UZ-OWN")
    from tests.factories import report

    kz = report(source_ref="KZ-OWN")
    sink.write(batch(*lifecycle(uz), receipt(kz, [("UZ", "NEW")]),
                     stage("RECEIVED", kz, T0, actor="agency:KZ-CUSTOMS")))
    assert [c["cursor"] for c in store(sink).changes("KZ-CUSTOMS")] == [1, 2]
    assert store(sink).changes("UZ-CUSTOMS")[0]["cursor"] == 1
    assert {c["report_id"] for c in store(sink).changes("KZ-CUSTOMS")} == {kz["report_id"]}


def test_the_report_body_for_a_share_comes_from_the_receipt(sink: Sink) -> None:
    rep = uz_report("UZ-BODY")
    assert store(sink).report_body(rep["report_id"], 1) is None
    sink.write(batch(*lifecycle(rep)))
    body = store(sink).report_body(rep["report_id"], 1)
    assert body == rep  # Avro form, timestamps as epoch milliseconds: re-encodable as is


def test_listing_and_lookup_by_source_ref(sink: Sink) -> None:
    a, b = uz_report("UZ-L-1"), uz_report("UZ-L-2")
    sink.write(batch(*lifecycle(a)))
    sink.write(batch(stage("RECEIVED", b, T0 + 99_000, actor="agency:UZ-CUSTOMS",
                           detail={"source_ref": "UZ-L-2"})))
    assert [r["source_ref"] for r in store(sink).reports("UZ-CUSTOMS")] == ["UZ-L-2", "UZ-L-1"]
    assert [r["report_id"] for r in store(sink).reports("UZ-CUSTOMS", source_ref="UZ-L-1")] == [a["report_id"]]
    assert store(sink).reports("KZ-CUSTOMS") == []
