"""The page tests' Chromium: the DevTools-protocol client lives in hub/tools/bench/cdp.py (``hub bench``
drives the officer page with it too); here, where the screenshots go and the per-test fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.tools.bench.cdp import CHROMIUM, FLAGS, KEYS, Browser

__all__ = ["ARTIFACTS", "CHROMIUM", "FLAGS", "KEYS", "Browser", "browser"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots of the page tests


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A fresh headless chromium for one test (import it into the test module to use it)."""
    b = Browser()
    yield b
    b.close()
