"""The one audit emitter of HTTP processes (``app.state.audit``): :meth:`Audit.emit` puts the events of
one call in one ``AuditBatch`` record (schema release v2) and awaits its acknowledgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from hub.domain.wire import audit_batch_records
from hub.platform.kafka.producer import BrokerUnavailable, Producer

log = structlog.get_logger(__name__)


class Audit:
    """The one audit emitter of the gateway (``app.state.audit``)."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer

    async def emit(self, events: Sequence[Mapping[str, Any]], *, required: bool = True) -> bool:
        """Put ``events`` on hub.audit (one AuditBatch record per call, split every
        :data:`hub.domain.wire.AUDIT_BATCH_EVENTS` events) and wait for the acknowledgement.

        ``required``: raise BrokerUnavailable when it fails (e.g. an acknowledgement must not be
        answered unless audited); otherwise log the gap loudly and return False.
        """
        if not events:
            return True
        try:
            await self.producer.send(audit_batch_records(events))
            return True
        except BrokerUnavailable as exc:
            if required:
                raise
            log.error("audit events not sent", error=str(exc), events=len(events),
                      stages=sorted({e["stage"] for e in events}))
            return False
