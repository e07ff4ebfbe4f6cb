"""A search string → what to look for (pure), and its FTS5 / PostgreSQL tsquery forms.

Every word of the query must be found (AND), each in any of its readings (OR):

* an identifier (``ids``): the word as typed, folded like §4 (look-alike Cyrillic letters on plates
  become Latin), and as a prefix when it holds a digit;
* a party name (``names``): its match form (transliterated, spelling variants folded, as the
  pipeline compares names), as a prefix, and fuzzy neighbours from the state's own name vocabulary
  (added by the store, see :func:`with_fuzzy`);
* a substance (``subs``): the word, and the substance type it is a Russian/English synonym of;
* a place (``places``) or free text (``text``): the word, and its Snowball stem as a prefix.

The whole query is also tried as one identifier in any formatting (``CSQU 305438-3``,
``01 А 123 ВС``). Terms are always quoted in the generated expressions: nothing a user types is
read as query syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hub.analyst.extract import facet
from hub.analyst.text import fold, stem, substance_synonyms, synonym_types, tokens
from hub.domain.identifiers import compact
from hub.pipeline.core.enrich import latin, match_form

_WORD = re.compile(r"[^\W_]+")
STOP = frozenset(("a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with", "в", "во",
                  "и", "или", "на", "над", "по", "под", "с", "со", "из", "к", "ко", "у", "о", "об", "от", "до", "для",
                  "за"))
MAX_WORDS = 12
# legal forms that name the same thing across scripts: a query's ТОО also finds LLP, and so on
LEGAL_FORMS = (("тоо", "too", "llp"), ("ооо", "ooo", "llc", "ltd"), ("ао", "ao", "jsc", "оао", "oao", "зао", "zao",
                                                                     "пао", "pao", "ojsc", "cjsc", "pjsc"),
               ("ип", "ip", "ie"), ("mchj", "мчж"))
_LEGAL = {form: group for group in LEGAL_FORMS for form in group}
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
# column weights for ranking: an identifier hit counts far more than a word in a narrative
WEIGHTS = {"ids": 10.0, "names": 6.0, "subs": 3.0, "places": 3.0, "text": 1.0, "facets": 0.0}
PG_WEIGHT = {"ids": "A", "names": "B", "subs": "C", "places": "C", "text": "D"}


@dataclass(frozen=True)
class Alt:
    column: str
    term: str
    prefix: bool = False


@dataclass
class Word:
    raw: str
    alts: list[Alt] = field(default_factory=list)
    name_forms: list[str] = field(default_factory=list)  # match-form tokens, for fuzzy neighbours


@dataclass
class Parsed:
    words: list[Word]
    whole_id: str | None  # the whole query read as one identifier

    @property
    def empty(self) -> bool:
        return not self.words and not self.whole_id


def _add(alts: list[Alt], alt: Alt) -> None:
    if alt.term and alt not in alts:
        alts.append(alt)


def _latin(word: str) -> str:
    """A Cyrillic word in Latin letters, folded (``Хоргос`` → ``khorgos``); "" for other words."""
    return fold(latin(word)).replace(" ", "") if _CYRILLIC.search(word) else ""


def _word(raw: str, f: str) -> Word:
    """One word of a query with all its readings (``f``: the word folded)."""
    w = Word(raw)
    has_digit = any(ch.isdigit() for ch in f)
    for t in {f, compact(raw).lower()}:
        _add(w.alts, Alt("ids", t))
        if has_digit and len(t) >= 3:
            _add(w.alts, Alt("ids", t, prefix=True))
    forms = [t for t in match_form(raw).split() if t]
    for t in forms:
        _add(w.alts, Alt("names", t))
        if len(t) >= 4:
            _add(w.alts, Alt("names", t, prefix=True))
    for t in tokens(raw):
        _add(w.alts, Alt("names", t))
    w.name_forms = [t for t in forms if len(t) >= 4]
    typ = synonym_types().get(f)
    _add(w.alts, Alt("subs", f))
    if typ:  # "heroin" also finds a narrative that says "героина"
        _add(w.alts, Alt("subs", fold(typ)))
        syns = substance_synonyms().get(typ, ())
        for syn in syns:
            if not any(o != syn and len(o) >= 5 and syn.startswith(o) for o in syns):
                _add(w.alts, Alt("text", syn, prefix=len(syn) >= 5))
    s = stem(raw)
    for col in ("places", "text", "subs"):
        _add(w.alts, Alt(col, f))
        if len(s) >= 3 and not has_digit:
            _add(w.alts, Alt(col, s, prefix=True))
    # a Cyrillic word also in Latin letters (place and party names are written both ways:
    # Хоргос / Khorgos); its stem too, so Хоргосе finds Khorgos
    for col in ("places", "names", "text"):
        _add(w.alts, Alt(col, _latin(raw)))
        if len(s) >= 4 and not has_digit:
            _add(w.alts, Alt(col, _latin(s), prefix=True))
    return w


def parse(q: str) -> Parsed:
    raw_words = [w for w in _WORD.findall(q or "")][: MAX_WORDS * 2]
    # a legal form beside a name is left out (the name may be written without it); alone it is looked
    # for in every script (ТОО, TOO, LLP)
    plain = [w for w in raw_words if fold(w) not in STOP and fold(w) not in _LEGAL]
    words: list[Word] = []
    for raw in raw_words:
        f = fold(raw)
        if f in STOP or not f:
            continue
        if f in _LEGAL:
            if not plain:
                words.append(Word(raw, [Alt("names", t) for t in _LEGAL[f]]))
            continue
        words.append(_word(raw, f))
        if len(words) >= MAX_WORDS:
            break
    whole = compact(q or "").lower()
    whole_id = whole if len(raw_words) > 1 and len(whole) >= 5 and any(ch.isdigit() for ch in whole) else None
    return Parsed(words, whole_id)


def with_fuzzy(parsed: Parsed, neighbours: dict[str, list[str]]) -> Parsed:
    """Add fuzzy name neighbours (``match-form token → similar tokens of the state's names``)."""
    for w in parsed.words:
        for form in w.name_forms:
            for t in neighbours.get(form, ()):
                _add(w.alts, Alt("names", t))
    return parsed


# ------------------------------------------------------------------------------ SQLite FTS5


def _q(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


TEXT_COLUMNS = ("ids", "names", "subs", "places", "text")


def grouped(alts: list[Alt]) -> list[tuple[str, bool, tuple[str, ...]]]:
    """(term, prefix, columns) — one index lookup per term instead of one per column; an exact term
    is dropped from the columns where the same term is also looked up as a prefix."""
    cols: dict[tuple[str, bool], set[str]] = {}
    for a in alts:
        cols.setdefault((a.term, a.prefix), set()).add(a.column)
    out = []
    for (term, prefix), c in cols.items():
        if not prefix:
            c = c - cols.get((term, True), set())
        if c:
            out.append((term, prefix, tuple(x for x in TEXT_COLUMNS if x in c)))
    return sorted(out)


def fts5(parsed: Parsed, *, kinds: list[str] | None = None, tlps: list[str] | None = None,
         directions: list[str] | None = None) -> str | None:
    """The FTS5 MATCH expression, or None when there is nothing to match."""
    parts: list[str] = []
    text = None
    if parsed.words:
        clauses = []
        for w in parsed.words:
            alts = []
            for term, prefix, cols in grouped(w.alts):
                phrase = f"{_q(term)}{' *' if prefix else ''}"
                alts.append(phrase if cols == TEXT_COLUMNS else f"({{{' '.join(cols)}}} : {phrase})")
            clauses.append(f"({' OR '.join(alts)})")
        text = " AND ".join(clauses)
    if parsed.whole_id:
        whole = f"({{ids}} : {_q(parsed.whole_id)})"
        text = f"(({text}) OR {whole})" if text else whole
    if text:
        parts.append(text)
    for prefix, values in (("k", kinds), ("t", tlps), ("d", directions)):
        if values:
            parts.append("(" + " OR ".join(f"({{facets}} : {_q(facet(prefix, v))})" for v in values) + ")")
    return " AND ".join(parts) if parts else None


# ------------------------------------------------------------------------------ PostgreSQL


def _lexeme(term: str) -> str:
    return "'" + term.replace("'", "''").replace("\\", "\\\\") + "'"


def tsquery(parsed: Parsed) -> str | None:
    """The ``tsquery`` text (cast with ``::tsquery``; lexemes are already normalized), or None."""
    text = None
    if parsed.words:
        clauses = []
        for w in parsed.words:
            alts = " | ".join(f"{_lexeme(a.term)}:{'*' if a.prefix else ''}{PG_WEIGHT[a.column]}" for a in w.alts)
            clauses.append(f"( {alts} )")
        text = " & ".join(clauses)
    if parsed.whole_id:
        whole = f"{_lexeme(parsed.whole_id)}:A"
        text = f"( {text} ) | {whole}" if text else whole
    return text
