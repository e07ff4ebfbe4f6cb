"""Exports: GeoJSON checked by a GeoJSON validator (the ``geojson`` package), the i2 Analyst's Notebook
CSV parsed back into entities and links, the CSV parsed back; TLP and handling code on every row."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import geojson
import pytest

from hub.analyst import exports
from hub.analyst.store import AnalystStore, Filters
from hub.platform.settings import Settings
from tests.analyst import world
from tests.analyst.conftest import fill
from tests.analyst.test_store import corpus


@pytest.fixture
def store(tmp_path: Path, settings: Settings) -> AnalystStore:
    items, receipts = corpus()
    return fill(f"sqlite:///{tmp_path / 'hub.db'}", items, receipts, settings)


@pytest.fixture
def big(tmp_path: Path, settings: Settings) -> AnalystStore:
    items, receipts = world.build(world.with_updates(world.reports(settings, 120, seed=5)), settings)
    return fill(f"sqlite:///{tmp_path / 'big.db'}", items, receipts, settings)


def export(store: AnalystStore, state: str, fmt: str, f: Filters | None = None) -> str:
    batches = list(store.batches(state, f or Filters(), size=7))
    return exports.document(fmt, batches, store.cursors(r["source_id"] for b in batches for r in b))


def test_geojson_is_valid_and_marked(big: AnalystStore) -> None:
    for state in ("CARICC", "KZ", "GE"):
        text = export(big, state, "geojson")
        fc = geojson.loads(text)
        assert fc.is_valid, fc.errors()
        assert isinstance(fc, geojson.FeatureCollection)
        feats = fc["features"]
        assert feats and {f["geometry"]["type"] for f in feats} == {"Point", "LineString"}
        for f in feats:
            assert f.is_valid, f.errors()
            p = f["properties"]
            assert p["tlp"] in ("CLEAR", "GREEN", "AMBER", "AMBER_STRICT", "RED") and p["handling_code"] in (
                "H0", "H1", "H2", "H3")
            assert p["position"] and p["incident_label"]
            lon, lat = f["geometry"]["coordinates"] if f["geometry"]["type"] == "Point" else \
                f["geometry"]["coordinates"][0]
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            if f["geometry"]["type"] == "LineString":
                assert len(f["geometry"]["coordinates"]) >= 2
        reports = {f["properties"]["report_id"] for f in feats if f["properties"]["feature"] == "location"}
        assert reports == {r["report_id"] for b in big.batches(state, Filters()) for r in b}


def test_positions_come_from_report_crossing_point_or_country(store: AnalystStore) -> None:
    feats = json.loads(export(store, "UZ", "geojson"))["features"]
    where = {(f["properties"]["report_id"][:6], f["properties"]["feature"]): f for f in feats}
    pos = {f["properties"]["position"] for f in feats if f["properties"]["feature"] == "location"}
    assert pos == {"crossing_point"}  # Khorgos, Nizhniy Panj and Termez are in hub/domain/data
    route = [f for f in feats if f["properties"]["feature"] == "route"]
    assert route and {f["properties"]["position"] for f in route} <= {"country", "country+crossing_point"}
    assert "country+crossing_point" in {f["properties"]["position"] for f in route}
    assert where


def test_i2_csv_parses_back_into_entities_and_links(store: AnalystStore) -> None:
    text = export(store, "UZ", "i2.csv")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows and set(rows[0]) == set(exports.I2_COLUMNS)
    types = {r["from_type"] for r in rows} | {r["to_type"] for r in rows if r["to_type"]}
    assert types == {"Report", "Person", "Organisation", "Vehicle", "Container"}
    assert all(r["tlp"] and r["handling_code"] for r in rows)
    # the same driver (one Cyrillic spelling, two reports) is one Person identity
    drivers = {(r["to_id"], r["to_label"]) for r in rows if r["link_type"] == "DRIVER"}
    assert drivers == {("person:faruh rahimov", "Rakhimov Farrukh")}
    assert {r["from_id"] for r in rows if r["link_type"] == "DRIVER"} == {
        r["report_id"] for r in rows if r["link_type"] == "DRIVER"}
    orgs = {r["to_label"] for r in rows if r["to_type"] == "Organisation"}
    assert orgs == {'OOO "Khudzhand Trans"'}
    assert {r["to_id"] for r in rows if r["to_type"] == "Container"} == {"CSQU3054383"}
    assert {r["to_id"] for r in rows if r["to_type"] == "Vehicle"} == {"vehicle:01A123BC", "wagon:54321234"}
    assert any(r["link_type"] == "DRIVER_OF" and r["from_type"] == "Person" for r in rows)
    assert len({r["link_id"] for r in rows if r["link_id"]}) == len([r for r in rows if r["link_id"]])


def test_csv_parses_back_with_markings_and_no_formulas(store: AnalystStore, settings: Settings,
                                                       tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(export(store, "UZ", "csv").lstrip("\ufeff"))))
    assert [r["report_id"] for r in rows] == [r["report_id"] for b in store.batches("UZ", Filters()) for r in b]
    assert {r["direction"] for r in rows} == {"received", "sent"}
    assert all(r["tlp"] and r["handling_code"] for r in rows)
    assert all(r["cursor"] for r in rows if r["direction"] == "received")
    from tests.feeds.test_feed_http import item

    evil = item("UZ", "EVIL", narrative="=HYPERLINK(\"http://x\",\"click\")", incident="I-E")
    s2 = fill(f"sqlite:///{tmp_path / 'e.db'}", [evil], [], settings)
    (row,) = list(csv.DictReader(io.StringIO(export(s2, "UZ", "csv").lstrip("\ufeff"))))
    assert row["narrative"].startswith("'=")
