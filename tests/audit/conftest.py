"""Audit-store fixtures: a throwaway PostgreSQL cluster (initdb + pg_ctl as the postgres user)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest

from hub.platform.db import Database
from hub.platform.kafka.embedded import free_port


def _pg_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql (./dev test installs them)")
    return os.path.dirname(found[-1])


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a private PostgreSQL server (stopped and deleted at the end of the session)."""
    bindir = _pg_bin()
    root = tempfile.mkdtemp(prefix="hub-pg-")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                 "--no-sync"]), check=True, capture_output=True)
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l", f"{root}/pg.log", "-w",
                                 "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh database on the private server for one test."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = Database(pg_server)
    admin.execute(f"CREATE DATABASE {name}")
    admin.close()
    url = pg_server.rsplit("/", 1)[0] + "/" + name
    yield url
    admin = Database(pg_server)
    for _ in range(20):
        try:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            break
        except Exception:
            time.sleep(0.1)
    admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return request.getfixturevalue("pg_url")
