"""The container check remembers its last results (hub.domain.identifiers.CONTAINER_CACHE): the same
answers as an uncached check, immutable, and never more than the limit."""

from __future__ import annotations

import dataclasses

import pytest
from stdnum import iso6346

from hub.domain import identifiers
from hub.domain.identifiers import CONTAINER_CACHE, ContainerResult, check_container


def _number(i: int) -> str:
    base = f"CSQU{i % 10**6:06d}"
    return base + iso6346.calc_check_digit(base)


def test_cached_results_equal_an_uncached_check() -> None:
    uncached = check_container.__wrapped__
    check_container.cache_clear()
    for raw in ("CSQU 305438-3", "csqu3054383", "CSQU3054384", "CSQ3054383", "ABCD", _number(7), "МSCU1234565"):
        first, second = check_container(raw), check_container(raw)
        assert first == uncached(raw) == second, raw
    assert check_container.cache_info().hits >= 7


def test_a_cached_result_cannot_be_changed_by_its_caller() -> None:
    r = check_container("CSQU3054383")
    assert isinstance(r, ContainerResult) and r.valid
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.valid = False  # type: ignore[misc]
    assert check_container("CSQU3054383").valid


def test_the_cache_never_holds_more_than_its_limit() -> None:
    check_container.cache_clear()
    assert check_container.cache_info().maxsize == CONTAINER_CACHE == identifiers.CONTAINER_CACHE
    for i in range(CONTAINER_CACHE + 500):
        assert check_container(_number(i)).valid
    info = check_container.cache_info()
    assert info.currsize == CONTAINER_CACHE
    assert check_container(_number(0)) == check_container.__wrapped__(_number(0))  # evicted: checked again
