"""Who is calling: the one auth dependency of every HTTP endpoint.

:func:`~hub.platform.http.bearer` is the one parser of ``Authorization: Bearer <token>``;
:class:`Auth` turns a token into a :class:`~hub.directory.auth.Principal` with a short-TTL cache
(:data:`TOKEN_TTL_S`): a revoked token is refused everywhere within that bound, and the
database lookup of a cache miss runs in a thread, never on the event loop.
:func:`authenticate` (plain function) and :func:`principal_of` (FastAPI dependency) answer 401
without a valid token and 403 for a token of another kind; :func:`officer_of_state` (dependency)
answers 403 and audits ``ACCESS_DENIED`` when the token is not an officer of the path's state.
The ready-made annotations :data:`AnyPrincipal`, :data:`AgencyKey`, :data:`AuditorToken` and
:data:`OfficerOfState` are what an endpoint declares.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request

from hub.directory.auth import AGENCY, AUDITOR, OFFICER, PREFIX, Credentials, Principal, hash_token
from hub.platform.http import ApiError, bearer, in_thread, mark_audited

log = structlog.get_logger(__name__)


TOKEN_TTL_S = 2.0  # a revoked token is refused by every endpoint and open stream within this bound


TOKEN_CACHE_ENTRIES = 10_000


class Auth:
    """Bearer tokens → principals, cached for :data:`TOKEN_TTL_S` seconds.

    Only valid tokens are cached (a token issued a moment ago works at once); a cache miss looks the
    token's hash up in a worker thread. Revocation is honoured within the TTL: a cached principal is
    looked up again once its entry is older than ``ttl``.
    """

    def __init__(self, credentials: Credentials, ttl: float = TOKEN_TTL_S, entries: int = TOKEN_CACHE_ENTRIES) -> None:
        self.credentials = credentials
        self.ttl = ttl
        self.entries = entries
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def principal(self, token: str | None) -> Principal | None:
        """The principal of a valid, unrevoked token (as of at most ``ttl`` seconds ago); else None."""
        if not token or not token.startswith(tuple(PREFIX.values())):
            return None
        h = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and hit[0] > now:
            return hit[1]
        p = await in_thread(self.credentials.authenticate, token)
        if p is None:
            self._cache.pop(h, None)
            return None
        self._cache[h] = (now + self.ttl, p)
        self._cache.move_to_end(h)
        while len(self._cache) > self.entries:
            self._cache.popitem(last=False)
        return p

    def forget(self) -> None:
        """Drop every cached principal (the next request looks each token up again)."""
        self._cache.clear()


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


WHAT = {AGENCY: "agency key", OFFICER: "officer token", AUDITOR: "auditor token"}


async def authenticate(request: Request, *kinds: str, action: str = "use this endpoint") -> Principal:
    """The principal of the request's bearer token, of one of ``kinds`` (any kind when empty).

    401 (``WWW-Authenticate: Bearer``) without a valid token; 403 for a token of another kind.
    Both are audited ACCESS_DENIED by the denial middleware.
    """
    what = " or ".join(WHAT[k] for k in kinds) if kinds else "token"
    header = request.headers.get("authorization")
    challenge = {"WWW-Authenticate": "Bearer"}
    if not header:
        raise ApiError(401, f"missing key: send 'Authorization: Bearer <{what}>'", challenge)
    token = bearer(header)
    if token is None or " " in token:
        raise ApiError(401, f"malformed Authorization header: expected 'Bearer <{what}>'", challenge)
    who = await request.app.state.auth.principal(token)
    if who is None:
        raise ApiError(401, "unknown or revoked key", challenge)
    if kinds and who.kind not in kinds:
        raise ApiError(403, f"{_a(who.kind)} {who.kind} key cannot {action}; use {_a(what)} {what}")
    request.scope.setdefault("state", {})["principal"] = who
    return who


def principal_of(*kinds: str, action: str = "use this endpoint") -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the request's principal, of one of ``kinds`` (any kind when none given)."""

    async def dependency(request: Request) -> Principal:
        return await authenticate(request, *kinds, action=action)

    return dependency


AnyPrincipal = Annotated[Principal, Depends(principal_of())]


AgencyKey = Annotated[Principal, Depends(principal_of(AGENCY))]


AuditorToken = Annotated[Principal, Depends(principal_of(AUDITOR, action="use the audit API"))]


@dataclass(frozen=True)
class StateOfficer:
    """An officer token checked against the ``{state}`` of the path."""

    who: Principal
    state: str


async def officer_of_state(request: Request, state: str) -> StateOfficer:
    """Dependency for paths with ``{state}``: the token must be an officer of that state (or of the centre
    for ``CARICC``). Otherwise 403 and an ``ACCESS_DENIED`` audit event naming the actor, the state asked
    for and the reason (aggregated per source and window, see :mod:`hub.gateway.denials`)."""
    who = await authenticate(request)
    state = state.upper()
    if who.kind == OFFICER and who.state == state:
        return StateOfficer(who, state)
    reason = (f"{who.kind} token cannot read feeds" if who.kind != OFFICER
              else f"officer of {who.state} asked for the feed of {state}")
    mark_audited(request)
    await request.app.state.denials.deny(request, 403, actor=who.label, reason=reason, state=state)
    log.warning("feed access denied", actor=who.label, state=state)
    raise ApiError(403, f"state: your token is not valid for the feed of {state}")


OfficerOfState = Annotated[StateOfficer, Depends(officer_of_state)]
