"""The hub's secrets: the id key (keyed report and incident ids, SPEC §5) and the audit key
(HMAC chain of the audit store, SPEC §9).

Each comes from its setting (``HUB_ID_KEY``, ``HUB_AUDIT_KEY``). When unset, the development
profile (embedded broker) creates a random key in the data directory on first start
(``id.key`` / ``audit.key``, mode 0600, created atomically so processes starting together agree)
and reads it on later starts. The production profile (``HUB_KAFKA_BOOTSTRAP`` set) requires the
settings: a key generated on one machine would silently differ from the next machine's.

A key must never change for a running hub: report ids, incident ids and the audit chain are all
derived from it (a new id key makes every report look new; a new audit key makes ``hub audit
verify`` fail from the first record).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cache, lru_cache
from pathlib import Path

from hub.platform.settings import Settings, env_name

MIN_KEY_CHARS = 16


class MissingSecret(RuntimeError):
    """A required secret is not configured (production profile)."""


def _from_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(32).encode())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic; fails if another process created it first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_bytes().strip()
    if len(value) < MIN_KEY_CHARS:
        raise MissingSecret(f"{path}: the key file is shorter than {MIN_KEY_CHARS} characters")
    return value


def _secret(settings: Settings, name: str) -> bytes:
    value: str = getattr(settings, name)
    if value:
        if len(value) < MIN_KEY_CHARS:
            raise MissingSecret(f"{env_name(name)}: should have at least {MIN_KEY_CHARS} characters")
        return value.encode()
    if not settings.embedded:
        raise MissingSecret(f"{env_name(name)} is required with HUB_KAFKA_BOOTSTRAP (production profile); "
                            f"generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return _from_file(Path(settings.data_dir) / f"{name.removesuffix('_key')}.key")


@cache
def _cached(settings: Settings, name: str) -> bytes:
    return _secret(settings, name)


def id_key(settings: Settings) -> bytes:
    """The key of report and incident ids."""
    return _cached(settings, "id_key")


def audit_key(settings: Settings) -> bytes:
    """The key of the audit store's HMAC chain."""
    return _cached(settings, "audit_key")


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 with the key already absorbed (copied per id: ~3 µs against ~5 µs one-shot)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def keyed_id(key: bytes, prefix: str, *parts: str, length: int = 24) -> str:
    """``prefix`` + the first ``length`` hex digits of HMAC-SHA256(key, parts joined by US)."""
    mac = _keyed(key).copy()
    mac.update("\x1f".join(parts).encode("utf-8"))
    return f"{prefix}{mac.hexdigest()[:length]}"
