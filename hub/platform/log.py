"""structlog setup: JSON lines when not on a terminal, coloured console when interactive.

Bind ``report_id`` and ``trace_id`` (``structlog.contextvars.bound_contextvars``) around work on a
report so every line about it carries them.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

import structlog


def configure(level: str = "INFO", fmt: str = "auto", service: str | None = None) -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    lvl = getattr(logging, level.upper(), logging.INFO)
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer] if use_json
        else [*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(lvl, logging.WARNING), stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    if service:
        structlog.contextvars.bind_contextvars(service=service)


@contextlib.contextmanager
def report_context(report_id: str | None, trace_id: str | None = None, **extra: Any) -> Iterator[None]:
    """Bind ``report_id`` and ``trace_id`` (and ``extra``) to every log line inside the block.

    Uses ``structlog.contextvars`` so it follows the current asyncio task (concurrent reports in
    other tasks keep their own ids) and is undone on exit, also when the block raises::

        with report_context(report["report_id"], report["trace_id"]):
            log.info("routed", recipients=...)
    """
    values: dict[str, Any] = {"report_id": report_id, "trace_id": trace_id, **extra}
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in values.items() if v is not None}):
        yield
