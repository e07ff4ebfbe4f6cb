"""Small builders of valid reports and feed items for tests (Avro form and JSON form)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.formats import CSV_COLUMNS
from hub.domain.report import report_id
from tests.conftest import TEST_ID_KEY


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    """A CSV drop file (the connectors' columns, a header line) of ``rows``."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS))
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return out.getvalue().encode()


def json_report(**overrides: Any) -> dict[str, Any]:
    """A valid SEIZURE in the connectors' JSON form."""
    body: dict[str, Any] = {
        "kind": "SEIZURE",
        "source_ref": "KZ-CUS-2026-00042",
        "version": 1,
        "event_time": (datetime.now(UTC) - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        "tlp": "AMBER",
        "location": {"country": "KZ", "place": "Khorgos", "unlocode": "KZKHG"},
        "route": [{"country": "AF"}, {"country": "TJ"}, {"country": "KZ"}, {"country": "RU"}],
        "conveyance": {"mode": "ROAD", "container_numbers": ["CSQU 305438-3"], "vehicle_plate": "01 А 123 ВС"},
        "goods": {"description": "dried apricots", "hs_code": "081310", "declared_weight_kg": 18000},
        "parties": [
            {"role": "DRIVER", "name": "Рахимов Фаррух", "country": "TJ", "identifier": "TJ1234567"},
            {"role": "SHIPPER", "name": "Sughd Fruit LLC", "country": "TJ"},
        ],
        "substances": [{"type": "HEROIN", "quantity": 12.5, "unit": "KG", "concealment": "CARGO",
                        "concealment_detail": "inside fruit boxes"}],
        "narrative": "Heroin found in a false floor of fruit boxes.",
        "handling_code": "H1",
        "evaluation": {"source": "B", "information": 2},
    }
    body.update(overrides)
    return body


def report(agency: str = "KZ-CUSTOMS", state: str = "KZ", **overrides: Any) -> dict[str, Any]:
    """A valid report in its Avro form."""
    now = datetime.now(UTC)
    r: dict[str, Any] = {
        "report_id": report_id(TEST_ID_KEY, agency, overrides.get("source_ref", "KZ-CUS-2026-00042")),
        "kind": "SEIZURE",
        "agency": agency,
        "reporter_state": state,
        "source_ref": "KZ-CUS-2026-00042",
        "version": 1,
        "event_time": int((now - timedelta(hours=2)).timestamp() * 1000),
        "received_at": int(now.timestamp() * 1000),
        "tlp": "AMBER",
        "addressees": [],
        "location": {"country": "KZ", "place": "Khorgos", "unlocode": "KZKHG", "lat": None, "lon": None},
        "route": [{"country": "AF", "place": None}, {"country": "KZ", "place": None}],
        "conveyance": {"mode": "ROAD", "container_numbers": ["CSQU3054383"], "transport_document": None,
                       "vehicle_plate": "01A123BC", "wagon_number": None, "flight": None},
        "goods": {"description": "dried apricots", "hs_code": "081310", "declared_weight_kg": 18000.0},
        "parties": [{"role": "DRIVER", "name": "Рахимов Фаррух", "country": "TJ", "identifier": "TJ1234567"}],
        "substances": [{"type": "HEROIN", "name": None, "quantity": 12.5, "unit": "KG", "concealment": "CARGO",
                        "concealment_detail": None}],
        "risk_indicators": [],
        "narrative": "Heroin in fruit boxes.",
        "handling_code": "H1",
        "handling_note": None,
        "evaluation": {"source": "B", "information": 2},
        "trace_id": "t-1",
    }
    r.update(overrides)
    return r


def feed_item(**overrides: Any) -> dict[str, Any]:
    r = report()
    item: dict[str, Any] = {
        "item_id": f"{r['report_id']}:1:UZ",
        "recipient": "UZ",
        "delivery": "CORRELATED",
        "incident_id": "I-1",
        "report": r,
        "enrichment": {
            "risk_score": 80, "risk_reasons": ["heroin over 10 kg"],
            "containers": [{"number": "CSQU3054383", "valid": True, "owner_code": "CSQ", "check_digit": 3}],
            "hs_description": "Apricots, dried", "substance_totals": [
                {"type": "HEROIN", "quantity_kg": 12.5, "quantity": 12.5, "unit": "KG"}],
            "party_names": [{"name": "Рахимов Фаррух", "latin": "Rakhimov Farrukh"}],
            "entity_links": [], "prior_reports": [], "watchlist_hits": [], "also_reported_by": [],
        },
        "routing": {"recipients": ["UZ", "CARICC"], "reason": "on the route (AMBER)", "redacted": False},
        "routed_at": r["received_at"],
    }
    item.update(overrides)
    return item
