"""Restart of every hub process in durable single-machine mode (`hub up --durable`: a local Apache Kafka).

The issue-21 scenario (tests/reliability/restart_scenario.py) on the Kafka `hub up --durable` manages,
its log in HUB_DATA_DIR/kafka. The workers' local RocksDB tables are deleted after the SIGKILL: the
decision state must come back from the broker's changelog alone.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.restart_scenario import first_run, second_run, up_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_version_2_after_a_restart_in_durable_mode_is_an_update(tmp_path: Path, ledger: Any) -> None:
    """`hub up --durable`: SIGKILL every process, delete the workers' tables, restart: v2 is an UPDATE, same incident"""
    env = up_env(tmp_path / "hub")
    t0 = time.monotonic()
    first = first_run(env, tmp_path, "--durable")
    ledger.add("sigkills")
    banner = (tmp_path / "up1.out").read_text()
    assert "Apache Kafka" in banner and str(tmp_path / "hub" / "kafka" / "data") in banner, banner
    for d in (tmp_path / "hub").glob("faust-*"):
        shutil.rmtree(d)  # only the broker's changelog holds the decision state now
    up, figures = second_run(env, tmp_path, first, "--durable")
    try:
        assert not figures["refused"], up.text()
        ledger.record(broker="Apache Kafka (hub up --durable)", updates_after_restart=figures["updates"],
                      items_before=figures["items_before"], items_after=figures["items_after"],
                      new_instead_of_update=0, repeated_items=0, local_tables_deleted=1,
                      peak_rss_mb=first["peaks"], seconds_for_the_scenario=round(time.monotonic() - t0, 1))
    finally:
        up.close()
