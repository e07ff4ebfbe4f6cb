"""Health and readiness (SPEC §10): pure aggregation of named checks plus the two common probes.

A check result is ``True`` (passed) or a short text saying what is wrong. Every process aggregates
its own checks the same way -- the gateway: broker + database; a worker: broker + "tables recovered"
(the worker sets that check itself)::

    from hub.platform.health import readiness
    ready, body = readiness({"broker": True, "tables": "recovering 3 of 8 partitions"})
    # -> (False, {"ready": False, "checks": {"broker": "ok", "tables": "recovering 3 of 8 partitions"}})
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaClient

from hub.platform.kafka.clients import client_settings
from hub.platform.settings import Settings

CheckResult = bool | str


def readiness(checks: Mapping[str, CheckResult | None]) -> tuple[bool, dict[str, Any]]:
    """Ready only when every check passed; a check not run yet (None) counts as not ready."""
    shown: dict[str, str] = {}
    for name, result in checks.items():
        if result is True:
            shown[name] = "ok"
        elif result is None:
            shown[name] = "not checked yet"
        else:
            shown[name] = str(result) if result is not False else "failed"
    ready = bool(checks) and all(v is True for v in checks.values())
    return ready, {"ready": ready, "checks": shown}


def database_check(db: Any) -> CheckResult:
    """The database answers ``SELECT 1``."""
    try:
        db.query("SELECT 1")
        return True
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}: {exc}"


class BrokerProbe:
    """Keeps one Kafka client; :meth:`check` refreshes cluster metadata and verifies topics exist."""

    def __init__(self, settings: Settings, required_topics: tuple[str, ...] = (), timeout: float = 3.0) -> None:
        self.settings = settings
        self.required = required_topics
        self.timeout = timeout
        self._client: AIOKafkaClient | None = None

    async def check(self) -> CheckResult:
        try:
            return await asyncio.wait_for(self._check(), self.timeout)
        except TimeoutError:
            await self.close()
            return f"broker {self.settings.bootstrap} did not answer within {self.timeout:g}s"
        except Exception as exc:
            await self.close()
            return f"broker {self.settings.bootstrap} unreachable: {type(exc).__name__}: {exc}"

    async def _check(self) -> CheckResult:
        if self._client is None:
            client = AIOKafkaClient(bootstrap_servers=self.settings.bootstrap, request_timeout_ms=int(self.timeout * 1000),
                                    **client_settings(self.settings).security)
            try:
                await client.bootstrap()
            except Exception:
                await client.close()
                raise
            self._client = client
        metadata = await self._client.fetch_all_metadata()
        if not metadata.brokers():
            return "broker metadata lists no brokers"
        missing = [t for t in self.required if t not in metadata.topics()]
        if missing:
            return f"topics missing: {', '.join(missing)} (run `hub topics create`)"
        return True

    async def close(self) -> None:
        if self._client is not None:
            c, self._client = self._client, None
            await c.close()
