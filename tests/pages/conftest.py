"""Page tests in a real headless Chromium (Debian's `chromium`, driven over the DevTools protocol by
tests/feeds/cdp.py) against one real stack per module (tests/feeds/conftest.py: embedded broker, `hub
sink`, gateway under uvicorn), at a desktop size (1400×900) and a phone's (390×844), in English and
Russian. Accessibility is checked with axe-core from npm: ``package.json`` here pins it, and the
``axe`` fixture runs ``npm ci`` in this folder the first time (``./dev test`` installs npm with the
other Debian packages). Screenshots go to test-artifacts/pages/."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.feeds.cdp import ARTIFACTS, Browser
from tests.feeds.conftest import Stack, stack, wait_for  # noqa: F401  (the module-scoped stack fixture)

HERE = Path(__file__).resolve().parent
SHOTS = ARTIFACTS / "pages"
DESKTOP = (1400, 900, False)
PHONE = (390, 844, True)
SIZES = {"desktop": DESKTOP, "phone": PHONE}
BAD_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def axe() -> str:
    """axe-core's script (tests/pages/node_modules, installed from package-lock.json on first use)."""
    script = HERE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the page tests' axe-core (./dev test installs it)"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)
    return script.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (each test loads its page afresh)."""
    b = Browser()
    yield b
    b.close()


def audit(b: Browser, axe_js: str, name: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; print every violation; return the serious and critical ones."""
    if not b.js("typeof window.axe === 'object'"):
        b.call("Runtime.evaluate", expression=axe_js)
    result = b.js("axe.run(document, {resultTypes: ['violations']})"
                  ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                  " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').split('\\n').slice(1, 2).join(''))})))"
                  )
    for v in result:
        print(f"axe {name}: {v['impact']} {v['id']}: {v['help']}")
        for n in v["nodes"]:
            print(f"    {n}")
    if not result:
        print(f"axe {name}: no violations")
    return [v for v in result if v["impact"] in BAD_IMPACTS]


def set_lang(b: Browser, lang: str) -> None:
    b.js(f"const l = document.getElementById('lang'); l.value = '{lang}'; l.dispatchEvent(new Event('change'))")


def overflow(b: Browser) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scrolling)."""
    return int(b.js("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
                    " - document.documentElement.clientWidth"))


def no_exceptions(b: Browser) -> None:
    errors = [c for c in b.console if c.startswith("EXCEPTION")]
    assert not errors, errors


def sign_in(b: Browser, base: str, path: str, token: str) -> None:
    """Sign in from a fresh page: a token kept in sessionStorage by an earlier test would sign the page in
    on load, and the click below would then sign it in a second time, switching back to the feed tab
    while the test works in another one."""
    b.goto(base + path)
    b.js("sessionStorage.clear()")
    b.goto(base + path)
    b.js(f"document.getElementById('token').value = {json.dumps(token)};"
         "document.getElementById('signin-button').click()")
    b.wait("!document.getElementById('app').hidden", what="signed in")
