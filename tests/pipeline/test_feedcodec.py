"""Spliced FeedItem encoding is byte-identical to hub.codec (hub/pipeline/feedcodec.py)."""

from __future__ import annotations

import pytest

from hub.codec import FEED_ITEM, codec
from hub.pipeline import enrich, route
from hub.pipeline.feedcodec import FeedItemEncoder
from tests.conftest import hub_settings
from tests.factories import report

S = hub_settings()


def _items(tlp: str) -> list[dict]:
    r = report(tlp=tlp, addressees=["AF", "UZ"])
    earlier = report(agency="UZ-CUSTOMS", state="UZ", source_ref="UZ-1")
    other = report(agency="TJ-DRUGS", state="TJ", source_ref="TJ-1")
    cands = [{"name": p["name"], "report_id": x["report_id"]} for x in (earlier, other) for p in r["parties"]]
    matches = [{"report_id": x["report_id"], "agency": x["agency"], "state": x["reporter_state"],
                "kind": x["kind"], "event_time": x["event_time"], "incident_id": "I-1", "key": "C:X"}
               for x in (earlier, other)]
    e = enrich.enrich(r, matches=matches, incident_reports=matches, party_candidates=cands)
    assert e["entity_links"] and e["prior_reports"]
    # UZ may see the UZ report, nobody but TJ the TJ one: the recipients get different enrichments
    allowed = {earlier["report_id"]: {"UZ", "CARICC"}, other["report_id"]: {"TJ"}}
    return route.feed_items(r, e, incident_id="I-1", settings=S, earlier_recipients=["UZ"],
                            incident_holders=["TJ"], allowed=allowed, routed_at=1_700_000_000_000)


@pytest.mark.parametrize("tlp", ["CLEAR", "GREEN", "AMBER", "RED"])
def test_spliced_items_equal_codec_encoding(tlp: str) -> None:
    items = _items(tlp)
    assert items
    enc = FeedItemEncoder(codec())
    for _ in range(2):  # first call learns and checks the header, second uses it
        out = enc.encode(items)
        assert enc.spliced, "fell back to the codec: splicing produced different bytes"
        assert out == [codec().encode(FEED_ITEM, it) for it in items]
    assert [codec().decode(b, expect=FEED_ITEM)["recipient"] for b in out] == [it["recipient"] for it in items]


def test_clear_report_mixes_redacted_and_filtered_variants() -> None:
    items = _items("CLEAR")
    assert {it["routing"]["redacted"] for it in items} == {True, False}
    assert len({str(it["enrichment"]["prior_reports"]) for it in items}) > 1
