"""Request metrics (hub.provider.http): open requests by age band, the oldest per agency, back to
0 once answered; the alert rule and its promtool unit test live in deploy/prometheus (tests/ops)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import REGISTRY

from hub.platform.db import Database
from hub.provider import requests as rq
from hub.provider.http import open_gauges, refresh_metrics
from hub.provider.store import RequestStore
from tests.provider.conftest import T0

H = 3600 * 1000


def test_age_bands_and_oldest_per_agency() -> None:
    rows = [{"kind": "INFO", "agency": "UZ-CUSTOMS", "created_at": T0 - 10_000},
            {"kind": "INFO", "agency": "UZ-CUSTOMS", "created_at": T0 - 2 * H},
            {"kind": "CONSENT_ONWARD", "agency": "KZ-CUSTOMS", "created_at": T0 - 30 * H},
            {"kind": "CONSENT_COURT_USE", "agency": "UZ-CUSTOMS", "created_at": T0 - 100 * H}]
    bands, oldest = open_gauges(rows, T0)
    assert bands[("INFO", "lt_1h")] == 1 and bands[("INFO", "1h_24h")] == 1
    assert bands[("CONSENT_ONWARD", "1d_3d")] == 1 and bands[("CONSENT_COURT_USE", "gt_3d")] == 1
    assert bands[("CONSENT_ONWARD", "lt_1h")] == 0  # every band is exported, 0 when empty
    assert len(bands) == 12
    assert oldest == {"UZ-CUSTOMS": 360_000.0, "KZ-CUSTOMS": 108_000.0}


def test_refresh_sets_the_gauges_and_returns_to_zero(tmp_path: Path) -> None:
    store = RequestStore(Database(f"sqlite:///{tmp_path / 'm.db'}"))
    app = SimpleNamespace(state=SimpleNamespace(request_store=store, provider_agencies_seen=set()))
    row = store.create(rq.Asked("R-1", "INFO", "why?"), version=1, agency="TM-CUSTOMS", requester="officer:x",
                       requester_state="KZ", at=T0)
    asyncio.run(refresh_metrics(app))  # type: ignore[arg-type]
    age = REGISTRY.get_sample_value("hub_requests_oldest_open_age_seconds", {"agency": "TM-CUSTOMS"})
    assert age is not None and age > 0
    assert REGISTRY.get_sample_value("hub_requests_open", {"kind": "INFO", "age": "gt_3d"}) >= 0
    store.answer(row["request_id"], rq.Answer("ANSWER", "because"), by="agency:TM-CUSTOMS")
    asyncio.run(refresh_metrics(app))  # type: ignore[arg-type]
    assert REGISTRY.get_sample_value("hub_requests_oldest_open_age_seconds", {"agency": "TM-CUSTOMS"}) == 0.0
