"""Fixtures of the pipeline tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import AnyBroker, start_broker


@pytest.fixture(scope="module")
def module_broker(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnyBroker]:
    """A broker of ``broker_kind`` for one test module alone (its workers restart and read the topics
    from the start: nothing another module produced may be there)."""
    broker = start_broker(broker_kind, tmp_path_factory.mktemp("module-broker"))
    try:
        yield broker
    finally:
        broker.stop()
