"""docs/operations.md's metrics reference is the one hub/platform/metrics.py generates."""

from __future__ import annotations

from pathlib import Path

from hub.platform.metrics import declared_names, reference_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_metrics_table_matches_code() -> None:
    text = DOC.read_text()
    table = reference_table()
    assert table in text, "docs/operations.md metrics table is stale; regenerate with hub.platform.metrics.reference_table()"
    listed = {line.split("`")[1] for line in table.splitlines()[2:]}
    assert listed == {n for n in declared_names() if not n.endswith(("_bucket", "_sum", "_count"))}
    assert len(listed) >= 20
