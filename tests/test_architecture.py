"""The layout keeps its shape: the import contract (pyproject.toml [tool.importlinter], ARCHITECTURE.md)
and the complexity bound (ruff C901 at 15) are checked here, so CI keeps them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_contract_holds() -> None:
    """Layers platform < domain < directory < pipeline < slices < gateway/sink < tools < cli, the pure
    pipeline core apart from its shell, and no import cycle between siblings (lazy imports included)."""
    out = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_no_function_over_complexity_15() -> None:
    out = subprocess.run([str(BIN / "ruff"), "check", "--select", "C901", "hub", "connectors"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
