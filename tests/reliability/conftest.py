"""Fixtures of the reliability suite: the ledger of measured figures (see ledger.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import ledger as ledger_mod

HERE = Path(__file__).resolve().parent
_ENTRIES: dict[str, dict[str, Any]] = {}
_LEDGERS: dict[str, ledger_mod.Ledger] = {}


def _area(item: pytest.Item) -> str:
    mod = getattr(item, "module", None)
    doc = (getattr(mod, "__doc__", None) or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else item.path.stem


def _title(item: pytest.Item) -> str:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else item.name


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Iterator[ledger_mod.Ledger]:
    """Figures of this test, written to test-artifacts/reliability.json at the end of the session."""
    led = ledger_mod.Ledger(_area(request.node), _title(request.node))
    _LEDGERS[request.node.nodeid] = led
    yield led


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    if HERE not in item.path.parents:
        return
    entry = _ENTRIES.setdefault(item.nodeid, {
        "area": _area(item), "title": _title(item), "outcome": "not run", "duration_s": 0.0,
        "slow": item.get_closest_marker("slow") is not None,
    })
    entry["duration_s"] = round(entry["duration_s"] + rep.duration, 2)
    if rep.when == "call" and rep.passed and entry["outcome"] == "not run":
        entry["outcome"] = "passed"  # an interrupted test never gets here and stays "not run"
    if rep.failed:
        entry["outcome"] = "failed"
        entry["failure"] = str(rep.longrepr)[-1500:]
    elif rep.skipped and hasattr(rep, "wasxfail") and entry["outcome"] != "failed":
        entry["outcome"] = "xfailed"  # a strict xfail: the known bug named in the reason happened
        entry["xfail_reason"] = str(rep.wasxfail)
    elif rep.skipped and entry["outcome"] != "failed":
        entry["outcome"] = "skipped"
        entry["skip_reason"] = str(rep.longrepr[-1]) if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if rep.when == "teardown":
        led = _LEDGERS.get(item.nodeid)
        if led is not None:
            entry["figures"] = led.figures
            entry["findings"] = led.findings
        entry["ran_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ledger_mod.merge({k: v for k, v in _ENTRIES.items() if v["outcome"] != "not run"})
    _ENTRIES.clear()


@pytest.fixture(scope="module")
def private_broker(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A broker of this module alone (tests that stop it, or need empty topics)."""
    from tests.conftest import start_broker

    b = start_broker(broker_kind, tmp_path_factory.mktemp("broker"))
    yield b
    b.stop()


@pytest.fixture
def fresh(broker_kind: str, tmp_path: Path) -> Iterator[Any]:
    """A broker of this test alone (of ``broker_kind``), settings on it (SQLite in tmp), topics
    created, and a Cluster whose processes are all stopped (by PID) at teardown."""
    import asyncio

    from hub.platform.kafka.topics import ensure_topics
    from tests.conftest import start_broker
    from tests.reliability.harness import Cluster, private_settings

    b = start_broker(broker_kind, tmp_path / "broker")
    cluster = None
    try:
        s = private_settings(b, tmp_path / "hub")
        Path(s.data_dir).mkdir(parents=True, exist_ok=True)
        asyncio.run(ensure_topics(s))
        cluster = Cluster(s, tmp_path)
        cluster.broker = b  # type: ignore[attr-defined]
        cluster.kind = broker_kind  # type: ignore[attr-defined]
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop_all()
            current = getattr(cluster, "broker", b)
            if current is not b:  # a test restarted the broker: stop the one running now
                current.stop()
        b.stop()
