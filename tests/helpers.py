"""Small helpers shared by the test suites."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hub.embedded import stop_process  # noqa: F401  (one implementation, shared with the tests)


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns a truthy value; fail naming ``what`` after ``timeout`` s.

    The timeout only bounds a hang (the test fails saying what never happened); it is not a
    performance assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:g} s")
        time.sleep(every)
