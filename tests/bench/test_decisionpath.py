"""The offline decision-path harness (hub.tools.decisionpath): its digest pins the worker's outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from hub.domain.wire import Record
from hub.platform.settings import load as load_settings
from hub.tools import decisionpath

N = 60


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    key = decisionpath.BENCH_KEY
    return load_settings({}, id_key=key, audit_key=key, data_dir=str(tmp_path_factory.mktemp("dp")))


@pytest.fixture(scope="module")
def first() -> decisionpath.Result:
    return decisionpath.run(N)


def test_every_report_goes_the_whole_path(first: decisionpath.Result) -> None:
    topics = [o.topic for o in first.collected.outputs if isinstance(o, Record)]
    writes = [o for o in first.collected.outputs if not isinstance(o, Record)]
    assert first.reports == N
    assert topics.count("hub.pipeline.validated") == N  # every generated report is valid and accepted
    assert topics.count("hub.receipts") == N and topics.count("hub.audit") == N
    assert sum(t.startswith("hub.feed.") for t in topics) >= N
    assert len(writes) == N and all(table == "reports" for table, _k, _v in writes)
    assert "hub.dlq" not in topics
    assert first.cpu_s > 0


def test_digest_is_the_same_on_a_second_run_and_in_another_process(first: decisionpath.Result) -> None:
    assert decisionpath.run(N).digest == first.digest
    # another interpreter: another string-hash seed, so set iteration order cannot leak into outputs
    out = subprocess.run([sys.executable, "-m", "hub.tools.decisionpath", "--reports", str(N), "--json"],
                         capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(out.stdout)["digest"] == first.digest


def test_digest_changes_with_the_seed(first: decisionpath.Result) -> None:
    assert decisionpath.run(N, seed=decisionpath.DEFAULT_SEED + 1).digest != first.digest


def test_digest_changes_when_one_report_is_altered(first: decisionpath.Result, settings) -> None:  # type: ignore[no-untyped-def]
    from hub.domain.codec import REPORT, codec

    msgs = decisionpath.inputs(N, decisionpath.DEFAULT_SEED, settings)
    c = codec()
    rep = c.decode(msgs[-1].value)
    rep["narrative"] = (rep.get("narrative") or "") + "!"
    msgs[-1] = replace(msgs[-1], value=c.encode(REPORT, rep))
    assert decisionpath.run(messages=msgs).digest != first.digest


def test_digest_changes_with_one_output_byte(first: decisionpath.Result) -> None:
    outs = list(first.collected.outputs)
    i = next(i for i, o in enumerate(outs) if isinstance(o, Record) and o.topic.startswith("hub.feed."))
    rec = outs[i]
    assert isinstance(rec, Record)
    flipped = bytes([rec.value[-1] ^ 1])
    outs[i] = replace(rec, value=rec.value[:-1] + flipped)
    assert decisionpath.digest(outs) != first.digest
    assert decisionpath.digest(first.collected.outputs) == first.digest
    # a byte moved from the key to the value is a different output too
    j = next(j for j, o in enumerate(first.collected.outputs) if isinstance(o, Record) and o.key)
    r = first.collected.outputs[j]
    assert isinstance(r, Record) and r.key
    moved = list(first.collected.outputs)
    moved[j] = replace(r, key=r.key[:-1], value=r.key[-1:] + r.value)
    assert decisionpath.digest(moved) != first.digest


def test_help() -> None:
    out = subprocess.run([sys.executable, "-m", "hub.tools.decisionpath", "--help"], capture_output=True, text=True,
                         check=True, timeout=120)
    assert "digest" in out.stdout and "--reports" in out.stdout
