"""The agency side's HTTP client of the gateway (``Authorization: Bearer <key>``) and the two ways a
call fails for the whole request, shared by :mod:`connectors.sdk` (publishing) and
:mod:`connectors.status` (status, receipts, requests). Both are also importable from
:mod:`connectors.sdk`.
"""

from __future__ import annotations

from typing import Any

import httpx


class TransportDown(RuntimeError):
    """The hub or the link is unavailable; pending reports stay in the outbox and are retried."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # the hub's Retry-After, when it sent one


class TransportRefused(RuntimeError):
    """The hub refuses the credential (401/403 for the whole request): retrying will not help until fixed."""


class GatewayClient:
    """Talks to the gateway with ``Authorization: Bearer <key>``: its URL, one connection pool."""

    KEY = "an agency key"  # what ``key`` is, for the message when it is missing

    def __init__(self, url: str, key: str, *, timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        if not key:
            raise ValueError(f"key: {self.KEY} is required (--key or HUB_AGENCY_KEY)")
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)
        self.headers = {"Authorization": f"Bearer {key}"}

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request; TransportDown when the gateway cannot be reached."""
        try:
            return self.client.request(method, f"{self.url}{path}", headers=self.headers, **kw)
        except httpx.HTTPError as exc:
            raise TransportDown(f"hub unreachable: {exc!r}") from exc

    def close(self) -> None:
        self.client.close()
