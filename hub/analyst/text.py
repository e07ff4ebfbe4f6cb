"""Text normalization shared by the index and the query side (pure).

Both backends (SQLite FTS5 and PostgreSQL) get text that was already cut into tokens here, so a
word is indexed and looked up the same way everywhere: lower case, diacritics removed (so ``ё`` is
``е`` and ``й`` is ``и`` on both sides), runs of letters and digits only.

Stems (Snowball, Russian for Cyrillic words, English otherwise) are used on the query side only,
as prefixes: ``героином`` looks for ``героин*``, ``seized`` for ``seiz*``.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import cache, lru_cache

import pycountry
import snowballstemmer

from hub.pipeline.core.enrich import refdata

_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Lower case without diacritics (NFKD, combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str | None) -> list[str]:
    """The index tokens of a text, in order."""
    if not text:
        return []
    if text.isascii():  # the same tokens: ASCII has no diacritics and lower case keeps word boundaries
        return _WORD.findall(text.lower())
    return [t for w in _WORD.findall(text) if (t := fold(w))]


@lru_cache(maxsize=8192)
def _joined(text: str) -> str:
    return " ".join(tokens(text))


def joined(parts: list[str]) -> str:
    """Tokens of several texts as one space-separated string (what the index stores). Each text's
    tokens are remembered (a bounded cache): the documents of one report for its recipients, and a
    report's versions, repeat the same narrative, names and places."""
    return " ".join(j for p in parts if p and (j := _joined(p)))


@cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """Snowball stem of one word (Russian for Cyrillic, English otherwise), folded."""
    lower = word.lower()
    language = "russian" if _CYRILLIC.search(lower) else "english"
    return fold(_stemmer(language).stemWord(lower))


@cache
def substance_synonyms() -> dict[str, tuple[str, ...]]:
    """Substance type → its names in Russian and English (hub/domain/data/drug_synonyms.csv), folded."""
    out: dict[str, set[str]] = {}
    for synonym, typ in refdata().drug_synonyms:
        out.setdefault(typ, set()).update(tokens(synonym))
    return {typ: tuple(sorted(words)) for typ, words in out.items()}


@cache
def synonym_types() -> dict[str, str]:
    """Folded synonym word → substance type."""
    out: dict[str, str] = {}
    for typ, words in substance_synonyms().items():
        for w in words:
            out.setdefault(w, typ)
    return out


@cache
def _russian() -> gettext.NullTranslations:
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ru"])
    except OSError:
        return gettext.NullTranslations()


@cache
def country_names(code: str) -> tuple[str, ...]:
    """The code and the English and Russian names of a country (pycountry), for the index."""
    c = pycountry.countries.get(alpha_2=code) if code else None
    if c is None:
        return (code,) if code else ()
    names = {code, c.name, getattr(c, "common_name", c.name), _russian().gettext(c.name)}
    return tuple(sorted(names))
