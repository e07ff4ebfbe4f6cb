"""Normalization of the identifiers that correlate reports (SPEC §4.3). Pure functions.

- container numbers: ISO 6346, upper case, no spaces/dashes/dots; only valid check digits count
- vehicle plates: Cyrillic/Greek look-alike letters folded to Latin, upper-case alphanumerics only
- transport documents and wagon numbers: upper-case alphanumerics only
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from stdnum import iso6346

_STRIP = re.compile(r"[^0-9A-Z]")

# Cyrillic (and Greek) capital letters that look like Latin ones on plates and documents.
_LOOKALIKES = str.maketrans(
    {
        "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ү": "Y", "Һ": "H",
        "Ԛ": "Q", "Ԝ": "W", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K",
        "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)


def compact(value: str) -> str:
    """Upper case, look-alikes folded, only A-Z and 0-9 kept."""
    return _STRIP.sub("", value.upper().translate(_LOOKALIKES))


@dataclass(frozen=True)
class ContainerResult:
    number: str  # normalized
    valid: bool
    owner_code: str | None
    check_digit: int | None  # the digit the number should end with, when computable
    problem: str | None


CONTAINER_CACHE = 4096  # container numbers whose check is remembered (the same report is checked by validation,
# correlation and enrichment; a consignment recurs across reports): least recently used dropped first


@lru_cache(maxsize=CONTAINER_CACHE)
def check_container(raw: str) -> ContainerResult:
    """ISO 6346 check of a container number written in any formatting (a pure function of ``raw``;
    the result is immutable, so the last CONTAINER_CACHE results are remembered)."""
    number = compact(raw)
    if len(number) != 11:
        return ContainerResult(number, False, None, None, f"should have 11 characters, has {len(number)}")
    if not re.fullmatch(r"[A-Z]{3}[UJZ][0-9]{7}", number):
        return ContainerResult(
            number, False, None, None, "should be 3 owner letters, U/J/Z, 6 digits and a check digit"
        )
    expected = int(iso6346.calc_check_digit(number[:10]))
    if int(number[10]) != expected:
        return ContainerResult(number, False, number[:3], expected, f"check digit should be {expected}")
    return ContainerResult(number, True, number[:3], expected, None)


def container_key(raw: str) -> str | None:
    """Correlation key of a container number, or None when its check digit is wrong."""
    result = check_container(raw)
    return result.number if result.valid else None


def plate_key(raw: str) -> str | None:
    key = compact(raw)
    return key or None


def document_key(raw: str) -> str | None:
    key = compact(raw)
    return key or None


def wagon_key(raw: str) -> str | None:
    key = compact(raw)
    return key or None
