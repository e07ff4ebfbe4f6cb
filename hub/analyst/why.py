"""Why a search result matched (pure): the fields of the report where the query's words were found,
each with the text around the match, so an officer sees at once whether a hit is the driver's name,
the container or a word of the narrative.

It reads the same readings the index looks up (:mod:`hub.analyst.query`): a word matches a field
when one of its alternatives is a token of the field's text — as written, in Latin letters, in the
pipeline's name match form, or as an identifier in §4 form (a prefix alternative: a token that
starts with it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from hub.analyst.query import Alt, Parsed
from hub.analyst.text import country_names, fold, substance_synonyms
from hub.domain.identifiers import compact, document_key, plate_key, wagon_key
from hub.pipeline.core.enrich import latin, match_form

_WORD = re.compile(r"[^\W_]+")
MAX_FIELDS = 3
AROUND = 40  # characters of context either side of a match in a long text


def _fields(report: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, text) of a report, in the order an officer would want them named."""
    conv = report.get("conveyance") or {}
    for p in report.get("parties") or []:
        yield "party", p.get("name") or ""
        if p.get("identifier"):
            yield "party_identifier", p["identifier"]
    for c in conv.get("container_numbers") or []:
        yield "container", c
    for key in ("vehicle_plate", "transport_document", "wagon_number", "flight"):
        if conv.get(key):
            yield key, conv[key]
    yield "source_ref", report.get("source_ref") or ""
    for s in report.get("substances") or []:
        yield "substance", " ".join([s.get("type") or "", s.get("name") or "",
                                     " ".join(substance_synonyms().get(s.get("type") or "", ()))])
    loc = report.get("location") or {}
    yield "place", loc.get("place") or ""
    yield "unlocode", loc.get("unlocode") or ""
    yield "country", " ".join(country_names(loc.get("country") or ""))
    for r in report.get("route") or []:
        yield "route", " ".join([r.get("place") or "", *country_names(r.get("country") or "")])
    yield "goods", (report.get("goods") or {}).get("description") or ""
    for ind in report.get("risk_indicators") or []:
        yield "risk_indicator", ind
    for s in report.get("substances") or []:
        if s.get("concealment_detail"):
            yield "concealment", s["concealment_detail"]
    yield "narrative", report.get("narrative") or ""


def _ids(text: str) -> set[str]:
    """A text read as one identifier, in its §4 forms."""
    out = {compact(text).lower()}
    for fn in (plate_key, document_key, wagon_key):
        key = fn(text)
        if key:
            out.add(key.lower())
    return {r for r in out if r}


def _readings(word: str) -> set[str]:
    out = {fold(word), fold(latin(word)).replace(" ", ""), *match_form(word).split(), *_ids(word)}
    return {r for r in out if r}


def _hit(alts: list[Alt], readings: set[str]) -> bool:
    return any(a.term in readings or (a.prefix and any(r.startswith(a.term) for r in readings)) for a in alts)


def _where(alts: list[Alt], text: str) -> tuple[int, int] | None:
    """The span of the first word of ``text`` (or the whole text, read as one identifier) it matches."""
    if _hit(alts, _ids(text)):
        return 0, len(text)
    for m in _WORD.finditer(text):
        if _hit(alts, _readings(m.group())):
            return m.span()
    return None


def snippet(text: str, span: tuple[int, int]) -> str:
    """``text`` itself when short, else the words around ``span`` with … where it was cut."""
    if len(text) <= 2 * AROUND + 20:
        return text
    lo, hi = max(0, span[0] - AROUND), min(len(text), span[1] + AROUND)
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1
    while hi < len(text) and not text[hi].isspace():
        hi += 1
    return ("…" if lo else "") + text[lo:hi].strip() + ("…" if hi < len(text) else "")


def explain(parsed: Parsed, report: Mapping[str, Any]) -> list[dict[str, str]]:
    """``[{field, text}]``: where the words of ``parsed`` were found in ``report`` (at most
    :data:`MAX_FIELDS` fields; empty for an empty query)."""
    found: dict[str, str] = {}
    fields = [(f, t) for f, t in _fields(report) if t]
    for w in parsed.words:
        for field, text in fields:
            span = _where(w.alts, text)
            if span is not None:
                if field not in found and field != "substance":
                    found[field] = snippet(text, span)
                elif field == "substance" and field not in found:
                    found[field] = text.split(" ")[0]  # the type (its synonyms are what matched)
                break
    if parsed.whole_id and not found:
        for field, text in fields:
            if parsed.whole_id in _ids(text):
                found[field] = text
                break
    return [{"field": f, "text": t} for f, t in list(found.items())[:MAX_FIELDS]]
