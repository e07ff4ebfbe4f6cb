"""Where things are: crossing points and country positions for statistics and GeoJSON.

Sources, in order of preference, for a position:

1. ``reported`` — the report's own ``location.lat``/``lon``;
2. ``crossing_point`` — a crossing point of ``hub/domain/data/crossing_points.csv`` matched by UN/LOCODE or
   place name, positioned by ``hub/domain/data/crossing_point_coordinates.csv`` (versioned data file);
3. ``country`` — the country's representative point from the ``countryinfo`` package (its
   ``latlng``, a centroid-like point at about one degree of precision).

Every GeoJSON feature says which one it used (property ``position``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from hub.pipeline.core.enrich import DATA, _read_csv, refdata

Position = tuple[float, float, str]  # lon, lat, source


@cache
def _cp_coordinates() -> dict[str, tuple[float, float]]:
    return {r["unlocode"]: (float(r["lon"]), float(r["lat"]))
            for r in _read_csv(DATA / "crossing_point_coordinates.csv")}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def crossing_point(location: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The known crossing point a location is at: same UN/LOCODE, same place name, or a place name
    that starts with the crossing point's (``Khorgos (KZ-CN border)`` is at ``Khorgos``)."""
    if not location:
        return None
    return _crossing_point((location.get("unlocode") or "").upper(), _norm(location.get("place") or ""))


@lru_cache(maxsize=65_536)
def _crossing_point(code: str, place: str) -> dict[str, str] | None:
    """:func:`crossing_point` of a (UN/LOCODE, normalized place) — remembered: the sink asks it twice
    per document, and the places repeat (bounded cache; the crossing points are read-only data)."""
    for cp in refdata().crossing_points:
        if code and code == cp["unlocode"]:
            return cp
    if place:
        for cp in refdata().crossing_points:
            name = _norm(cp["place"])
            if place == name or (place.startswith(name) and not place[len(name)].isalnum()):
                return cp
    return None


@cache
def country_point(code: str) -> tuple[float, float] | None:
    """(lon, lat) of a country's representative point (countryinfo), or None when unknown."""
    from countryinfo import CountryInfo

    try:
        lat, lon = CountryInfo(code).latlng()
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    return float(lon), float(lat)


def _valid(lat: Any, lon: Any) -> bool:
    return isinstance(lat, int | float) and isinstance(lon, int | float) and -90 <= lat <= 90 and -180 <= lon <= 180


def location_position(location: Mapping[str, Any] | None) -> Position | None:
    if not location:
        return None
    lat, lon = location.get("lat"), location.get("lon")
    if _valid(lat, lon):
        return float(lon), float(lat), "reported"
    cp = crossing_point(location)
    if cp and cp["unlocode"] in _cp_coordinates():
        lo, la = _cp_coordinates()[cp["unlocode"]]
        return lo, la, "crossing_point"
    pt = country_point(location.get("country") or "")
    return (pt[0], pt[1], "country") if pt else None


def route_positions(report: Mapping[str, Any]) -> list[Position]:
    """Positions of a report's route, origin to destination; the report's own location replaces
    the route point of its country (that is where the route was seen); repeats dropped."""
    loc = report.get("location") or {}
    here = location_position(loc)
    out: list[Position] = []
    for p in report.get("route") or []:
        pos = location_position({"country": p.get("country"), "place": p.get("place")})
        if here and p.get("country") == loc.get("country") and not p.get("place"):
            pos = here
        if pos and (not out or out[-1][:2] != pos[:2]):
            out.append(pos)
    return out
