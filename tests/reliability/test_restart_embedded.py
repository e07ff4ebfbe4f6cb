"""Restart of every hub process on the embedded broker (memory only): decisions survive or the hub refuses.

The issue-21 scenario (tests/reliability/restart_scenario.py): two correlated reports routed through
`hub up`, `hub up` SIGKILLed (everything it started dies with it), `hub up` again on the fresh, empty
embedded broker. The workers' RocksDB tables in HUB_DATA_DIR still hold the decision state.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.restart_scenario import first_run, second_run, up_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_version_2_after_a_restart_on_the_embedded_broker_is_an_update(tmp_path: Path, ledger: Any) -> None:
    """SIGKILL every process, `hub up` again on the empty embedded broker: v2 is an UPDATE, same incident"""
    env = up_env(tmp_path / "hub")
    first = first_run(env, tmp_path)
    ledger.add("sigkills")
    up, figures = second_run(env, tmp_path, first)
    try:
        assert not figures["refused"], up.text()
        ledger.record(broker="embedded (restarted empty)", updates_after_restart=figures["updates"],
                      items_before=figures["items_before"], items_after=figures["items_after"],
                      new_instead_of_update=0, repeated_items=0)
    finally:
        up.close()


def test_restart_without_the_decision_state_is_refused(tmp_path: Path, ledger: Any) -> None:
    """The same restart with the workers' tables deleted: `hub up` refuses, saying why and what to do"""
    env = up_env(tmp_path / "hub")
    first_run(env, tmp_path)
    ledger.add("sigkills")
    for d in (tmp_path / "hub").glob("faust-*"):
        shutil.rmtree(d)
    up, figures = second_run(env, tmp_path, first={})
    try:
        assert figures["refused"], "hub up ran over earlier decisions it no longer holds"
        assert up.proc.wait(10) == 1
        text = up.text()
        assert "would be delivered as NEW" in text and "--forget-earlier-reports" in text, text
        assert "new HUB_DATA_DIR" in text, text
    finally:
        up.close()
    # told so explicitly, it runs
    from tests.reliability.restart_scenario import Up

    forced = Up(env, tmp_path / "up3.out", "--forget-earlier-reports")
    try:
        assert forced.wait_banner_or_exit(), forced.text()
        assert "updates of earlier reports will be delivered as NEW" in forced.text()
        forced.proc.send_signal(signal.SIGINT)
        assert forced.proc.wait(60) == 0, forced.text()
    finally:
        forced.close()
    ledger.record(refused=1)
