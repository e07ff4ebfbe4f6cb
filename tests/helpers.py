"""Small helpers shared by the test suites."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.embedded import stop_process  # noqa: F401  (one implementation, shared with the tests)
from hub.settings import Settings


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


def audit_events(value: bytes) -> list[dict[str, Any]]:
    """The audit events of one hub.audit record: an AuditEvent, or every event of an AuditBatch
    (release v2; the pipeline writes one per input). Anything else on hub.audit is an error."""
    from hub.codec import AUDIT_BATCH, AUDIT_EVENT, DecodeError, codec

    name, decoded = codec().decode_named(value)
    if name == AUDIT_BATCH:
        return list(decoded["events"])
    if name != AUDIT_EVENT:
        raise DecodeError(DecodeError.PROBLEM_TYPE, f"{name} on hub.audit")
    return [decoded]


def metrics_auth(settings: Settings | None = None, data_dir: Path | None = None) -> dict[str, str]:
    """The header that opens a gateway's /metrics: its settings' token, or the token file of a data dir."""
    from hub.gateway.ops import metrics_token

    token = metrics_token(settings) if settings is not None else (Path(data_dir or ".") / "metrics.token").read_text()
    return {"Authorization": f"Bearer {token.strip()}"}
