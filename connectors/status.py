"""The provider's view of its reports over HTTP (SPEC §13), for agency systems and ``hub status``.

:class:`StatusClient` calls the gateway with the agency key (or a desk user's token):

* :meth:`~StatusClient.status` — ``GET /v1/reports/{report_id}``: per version every stage outcome
  with its reason, the recipients with delivery kind, ``delivered_at``, ``acknowledged_at`` and by
  whom, time to acknowledge.
* :meth:`~StatusClient.lookup` — the same by ``source_ref`` (and version): Kafka-native agencies do
  not learn the hub's keyed report id when they send.
* :meth:`~StatusClient.receipts` — ``GET /v1/agency/receipts?after=&limit=``: one page of the
  agency's status changes; pass the returned ``next_after`` to continue (resumable).
* :meth:`~StatusClient.requests` / :meth:`~StatusClient.answer` — the request inbox.

:class:`connectors.sdk.Publisher` exposes ``status()`` and ``receipts()`` through it.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.gateway import GatewayClient, TransportDown, TransportRefused


class StatusNotFound(LookupError):
    """No report of this agency has that id (or source_ref) — or the hub has not seen it yet."""


class StatusClient(GatewayClient):
    KEY = "an agency key or desk token"

    @classmethod
    def for_transport(cls, transport: Any) -> StatusClient:
        """The client for a REST transport (same URL, key and connection pool)."""
        url, headers, client = (getattr(transport, a, None) for a in ("url", "headers", "client"))
        if not url or not headers or not isinstance(client, httpx.Client):
            raise ValueError("status: this transport has no gateway URL; set Publisher.status_client = "
                             "StatusClient(url, key) (Kafka-native agencies query status over HTTP)")
        out = cls(url, headers["Authorization"].split(" ", 1)[1], client=client)
        return out

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        return self._answer(self.call("GET", path, params={k: v for k, v in params.items() if v is not None}))

    def _answer(self, r: httpx.Response) -> dict[str, Any]:
        if r.status_code in (401, 403):
            raise TransportRefused(f"hub refused the key ({r.status_code}): {_detail(r)}")
        if r.status_code == 404:
            raise StatusNotFound(_detail(r))
        if r.status_code in (409, 422, 429):
            raise ValueError(_detail(r))
        if r.status_code >= 400:
            raise TransportDown(f"hub answered {r.status_code}: {_detail(r)}")
        return r.json()

    def status(self, report_id: str) -> dict[str, Any]:
        return self._get(f"/v1/reports/{report_id}")

    def lookup(self, source_ref: str, version: int | None = None) -> dict[str, Any]:
        return self._get("/v1/agency/reports", source_ref=source_ref, version=version)["reports"][0]

    def receipts(self, after: int = 0, limit: int = 100) -> dict[str, Any]:
        return self._get("/v1/agency/receipts", after=after, limit=limit)

    def requests(self, status: str = "open") -> list[dict[str, Any]]:
        return self._get("/v1/agency/requests", status=status)["requests"]

    def answer(self, request_id: str, decision: str, text: str, conditions: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"decision": decision, "text": text}
        if conditions:
            body["conditions"] = conditions
        return self._answer(self.call("POST", f"/v1/agency/requests/{request_id}/answer", json=body))


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    return str(body.get("error") or body.get("detail") or body)[:500]
