"""The reliability ledger: figures the suite measured, kept in ``test-artifacts/reliability.json``.

Each test of ``tests/reliability`` may record figures (``ledger.record(**figures)``); the
conftest adds every test's outcome. The file is merged, not overwritten, so running one test
updates only its own entry. ``python -m tests.reliability.report`` renders RELIABILITY.md from it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = Path(os.environ.get("HUB_RELIABILITY_JSON", ROOT / "test-artifacts" / "reliability.json"))


def load(path: Path = ARTIFACT) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"tests": {}}
    if not isinstance(data, dict) or not isinstance(data.get("tests"), dict):
        return {"tests": {}}
    return data


def merge(entries: dict[str, dict[str, Any]], path: Path = ARTIFACT) -> None:
    """Merge per-test entries (keyed by node id) into the artifact file."""
    if not entries:
        return
    data = load(path)
    for nodeid, entry in entries.items():
        old = data["tests"].get(nodeid, {})
        # figures recorded in this run replace the old ones only when the test recorded some
        if not entry.get("figures") and old.get("figures") and entry.get("outcome") == "skipped":
            entry = dict(entry, figures=old["figures"])
        data["tests"][nodeid] = entry
    data["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


class Ledger:
    """Collects the figures of one test."""

    def __init__(self, area: str, title: str) -> None:
        self.area = area
        self.title = title
        self.figures: dict[str, Any] = {}
        self.findings: list[str] = []

    def record(self, **figures: Any) -> None:
        self.figures.update(figures)

    def add(self, name: str, n: int = 1) -> None:
        self.figures[name] = int(self.figures.get(name, 0)) + n

    def finding(self, text: str) -> None:
        """A problem found (and, where the test still passes, fixed or tolerated): goes to the report."""
        self.findings.append(text)
