"""Projection names → classes (imported lazily: each lives in its slice)."""

from __future__ import annotations

import importlib

from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.projections.base import Projection

# the order `hub sink` starts them in (the officer's feed first)
MODULES = {
    "feeds": "hub.feeds.projection:FeedProjection",
    "audit": "hub.audit.projection:AuditProjection",
    "analyst": "hub.analyst.projection:AnalystProjection",
    "provider": "hub.provider.projection:ProviderProjection",
}
NAMES = tuple(MODULES)


class UnknownProjection(ValueError):
    pass


def check(names: list[str] | tuple[str, ...]) -> list[str]:
    """The names, validated (an error names the unknown one and the choices)."""
    out = []
    for n in names:
        if n not in MODULES:
            raise UnknownProjection(f"projection: {n!r} is not one of {', '.join(NAMES)}")
        if n not in out:
            out.append(n)
    return out


def projection_class(name: str) -> type[Projection]:
    module, cls = MODULES[check([name])[0]].split(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def build(names: list[str] | tuple[str, ...], db: Database, settings: Settings) -> list[Projection]:
    return [projection_class(n)(db, settings) for n in check(names)]
