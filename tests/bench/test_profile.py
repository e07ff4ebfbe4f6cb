"""The py-spy summary of ``hub bench --profile`` (hub/tools/bench/profile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.tools.bench import profile

STACKS = """\
main (a.py:1);BaseEventLoop._run_once (asyncio/base_events.py:9);EpollSelector.select (selectors.py:3) 40
main (a.py:1);sequence_agent (app.py:2);Sequencer.step (steps.py:5);decide (decide.py:7);_links (decide.py:9) 30
main (a.py:1);sequence_agent (app.py:2);Sequencer.step (steps.py:5);decide (decide.py:7) 10
main (a.py:1);sequence_agent (app.py:2);Sequencer.step (steps.py:5);Codec.decode (hub/domain/codec.py:4) 15
start (b.py:1);import_module (importlib.py:2) 5
garbage line without a count
"""


def test_parts_take_the_first_matching_label_and_shares_add_up(tmp_path: Path) -> None:
    f = tmp_path / "worker-1.txt"
    f.write_text(STACKS, encoding="utf-8")
    stacks = profile.read(f)
    assert len(stacks) == 5
    total, parts, selfs = profile.summarise(stacks)
    assert total == 100 and sum(parts.values()) == total
    assert parts["idle (select)"] == 40
    assert parts["decide: entity links"] == 30  # the more specific part wins over decide()
    assert parts["decide: other"] == 10
    assert parts["decode"] == 15
    assert parts["other"] == 5
    assert selfs["_links (decide.py)"] == 30  # line numbers dropped
    total, parts, _selfs = profile.summarise(stacks, within="sequence_agent")
    assert total == 55 and "idle (select)" not in parts


def test_main_prints_shares_of_the_busy_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "w.txt"
    f.write_text(STACKS, encoding="utf-8")
    assert profile.main([str(f), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("100 samples, 60 busy")
    assert " 50.0 %  decide: entity links" in out
