"""Feed items for the interop tests: the non-interference scenario of the pipeline tests (22 report
versions, every TLP, updates, correlations, partner copies) plus a few reports that use every §3 field
(coordinates, UN/LOCODE, route places, H3 with a note, ALERT with risk indicators) and a consent share
(SHARED copies with provenance to two partners), run through the
real pure pipeline (decide()) -- so the items are what the sink stores, per recipient."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.domain.feedjson import jsonable
from hub.pipeline.core.decide import Decision, ShareInput
from tests.factories import report
from tests.pipeline.decide_support import run_events, share_input
from tests.pipeline.test_noninterference_e2e import NOW, REPORTS


def _extra() -> list[dict[str, Any]]:
    at = int((NOW - timedelta(minutes=5)).timestamp() * 1000)
    event = int((NOW - timedelta(hours=6)).timestamp() * 1000)
    common = {"received_at": at, "event_time": event}
    return [
        report("KG-DCS", "KG", source_ref="IOP-KG-1", tlp="GREEN", addressees=["AF"], handling_code="H3",
               handling_note="no contact with the consignee before 1 March",
               location={"country": "KG", "place": "Irkeshtam", "unlocode": "KGIRK", "lat": 39.69, "lon": 73.9},
               route=[{"country": "AF", "place": "Kunduz"}, {"country": "TJ", "place": None},
                      {"country": "KG", "place": "Osh"}],
               parties=[{"role": "DRIVER", "name": "Токтогулов Азамат", "country": "KG", "identifier": "KG-AN-778812"},
                        {"role": "CARRIER", "name": "Alai Trans LLC", "country": "KG", "identifier": None},
                        {"role": "OTHER", "name": "Unknown helper", "country": None, "identifier": None}],
               substances=[{"type": "HASHISH", "name": "чарс", "quantity": 85.0, "unit": "KG",
                            "concealment": "CONVEYANCE", "concealment_detail": "fuel tank"},
                           {"type": "TRAMADOL", "name": None, "quantity": 12000, "unit": "TABLETS",
                            "concealment": "CARGO", "concealment_detail": None}],
               evaluation={"source": "A", "information": 1}, trace_id="iop-1", **common),
        report("KZ-CUSTOMS", "KZ", source_ref="IOP-KZ-2", kind="ALERT", tlp="CLEAR", substances=[],
               risk_indicators=["route via a known transit hub", "consignee registered last month"],
               handling_code="H2", evaluation={"source": "X", "information": 4}, narrative=None, goods=None,
               location={"country": "KZ", "place": None, "unlocode": None, "lat": 43.2, "lon": 76.9},
               trace_id="iop-2", **common),
    ]


def reports() -> list[dict[str, Any]]:
    return [*REPORTS, *_extra()]


def share(r: dict[str, Any], to: list[str]) -> ShareInput:
    """A granted CONSENT_ONWARD of ``r`` to ``to`` (SPEC §13): SHARED copies with provenance."""
    at = int(NOW.timestamp() * 1000)
    command = {"provenance": {"request_id": "IOP-REQ-1", "requested_by": "officer:uz-desk", "requested_state": "UZ",
                              "requested_at": at - 60_000, "granted_by": "agency:KG-DCS", "granted_at": at - 30_000,
                              "conditions": "for the joint operation only"},
               "report_id": r["report_id"], "version": r["version"], "to_states": to, "report": r}
    return share_input(command)


def events() -> list[tuple[Any, int]]:
    """The reports, then the share of the first interop report with GE and CN (partners it did not reach)."""
    seq: list[Any] = reports()
    seq.append(share(_extra()[0], ["GE", "CN"]))
    return [(e, int(NOW.timestamp() * 1000) + i) for i, e in enumerate(seq)]


def decisions(sequence: list[tuple[Any, int]] | None = None) -> list[Decision]:
    return run_events(events() if sequence is None else sequence)


def feed_items(ds: list[Decision] | None = None) -> list[dict[str, Any]]:
    """Every feed item (Avro form), in processing order."""
    return [it for d in (decisions() if ds is None else ds) for it in d.feed_items]


def items_of(state: str, ds: list[Decision] | None = None) -> list[dict[str, Any]]:
    """The feed items of one recipient in the JSON form the feed store keeps."""
    return [jsonable(it) for it in feed_items(ds) if it["recipient"] == state]
