"""Correlation keys and incident assignment (SPEC §4.3)."""

from __future__ import annotations

from hub.pipeline.core import correlate
from hub.pipeline.core.decide import DUPLICATE, NEW, STALE, UPDATE, dedup_verdict
from tests.factories import report


def conv(**kw: object) -> dict:
    base = {"mode": "ROAD", "container_numbers": [], "transport_document": None, "vehicle_plate": None,
            "wagon_number": None, "flight": None}
    return base | kw


def test_container_formatting_variants_give_one_key() -> None:
    variants = ["CSQU3054383", "csqu 305438 3", "CSQU-305438-3", " CSQU.305438.3 "]
    keys = {tuple(correlate.correlation_keys(report(conveyance=conv(container_numbers=[v])))) for v in variants}
    assert keys == {("C:CSQU3054383",)}


def test_invalid_check_digit_does_not_correlate() -> None:
    assert correlate.correlation_keys(report(conveyance=conv(container_numbers=["CSQU3054384"]))) == []


def test_plate_lookalikes_fold_and_kinds_do_not_mix() -> None:
    cyr = correlate.correlation_keys(report(conveyance=conv(vehicle_plate="01 А 123 ВС")))
    lat = correlate.correlation_keys(report(conveyance=conv(vehicle_plate="01a123bc")))
    assert cyr == lat == ["P:01A123BC"]
    wagon = correlate.correlation_keys(report(conveyance=conv(wagon_number="01A123BC")))
    assert wagon == ["W:01A123BC"]
    doc = correlate.correlation_keys(report(conveyance=conv(transport_document="cmr-77/12")))
    assert doc == ["D:CMR7712"]


def test_dedup_verdicts() -> None:
    assert dedup_verdict(1, ()) == NEW
    assert dedup_verdict(1, [1]) == DUPLICATE
    assert dedup_verdict(1, [1, 3]) == DUPLICATE  # a lower version accepted earlier is a duplicate
    assert dedup_verdict(2, [1, 3]) == STALE
    assert dedup_verdict(4, [1, 3]) == UPDATE
