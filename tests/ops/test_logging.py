"""Every log line about a report carries report_id and trace_id (hub.log.report_context)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
import structlog

from hub.domain.wire import header
from hub.platform.log import configure, report_context


@pytest.fixture
def json_logs():
    structlog.reset_defaults()
    configure("INFO", "json")  # the hub's processor chain; only the output file is swapped
    buf = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buf), cache_logger_on_first_use=False)

    def lines() -> list[dict]:
        return [json.loads(x) for x in buf.getvalue().splitlines()]

    yield lines
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def test_ids_bound_inside_and_gone_after(json_logs) -> None:
    log = structlog.get_logger("t")
    with report_context("r-1", "t-1", stage="route"):
        log.info("routed", recipients=["KZ"])
        log.warning("slow")
    log.info("idle")
    out = json_logs()
    assert [(x["event"], x.get("report_id"), x.get("trace_id"), x.get("stage")) for x in out] == [
        ("routed", "r-1", "t-1", "route"), ("slow", "r-1", "t-1", "route"), ("idle", None, None, None)]


def test_ids_unbound_when_the_block_raises(json_logs) -> None:
    log = structlog.get_logger("t")
    with pytest.raises(ValueError), report_context("r-2", "t-2"):
        raise ValueError("boom")
    log.info("after")
    assert "report_id" not in json_logs()[-1]


def test_concurrent_tasks_keep_their_own_ids(json_logs) -> None:
    log = structlog.get_logger("t")

    async def work(n: int) -> None:
        with report_context(f"r-{n}", f"t-{n}"):
            for _ in range(3):
                await asyncio.sleep(0)
                log.info("step", n=n)

    async def main() -> None:
        await asyncio.gather(*(work(n) for n in range(4)))

    asyncio.run(main())
    out = json_logs()
    assert len(out) == 12
    assert all(x["report_id"] == f"r-{x['n']}" and x["trace_id"] == f"t-{x['n']}" for x in out)


def test_header_value() -> None:
    assert header([("a", b"1"), ("trace_id", b"abc")], "trace_id") == "abc"
    assert header([("trace_id", None), ("trace_id", "т".encode())], "trace_id") == "т"
    assert header(None, "trace_id") is None
