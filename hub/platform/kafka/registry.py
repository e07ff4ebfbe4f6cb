"""A real Confluent-compatible Schema Registry on this machine: Apicurio Registry, fetched from Maven Central.

What ``hub registry start`` and the registry tests run. Apicurio Registry's Quarkus application is on
Maven Central as ``io.apicurio:apicurio-registry-app:<version>:tar.gz:all`` (a fast-jar); Maven
(``mvn dependency:unpack``) unpacks it once into the cache (``HUB_KAFKA_CACHE``, default
``~/.cache/caricc-hub/apicurio-registry-<version>``). It needs Java ≥ 21: :func:`java21` finds one
(``HUB_REGISTRY_JAVA``, ``$JAVA_HOME``, the JDKs under /usr/lib/jvm, ``java`` on PATH).

It serves the Confluent Schema Registry API under ``/apis/ccompat/v7`` -- the URL to give
``HUB_SCHEMA_REGISTRY_URL`` and Confluent clients -- and keeps its schemas in an H2 database file under
its work directory, so they survive a stop and a start. :class:`Registry` runs it as its own process
group on 127.0.0.1 and stops it by PID (``registry.pid``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from hub.platform.kafka.embedded import die_with_parent, free_port, port_open, start_time
from hub.platform.kafka.server import KafkaUnavailable, maven

log = structlog.get_logger(__name__)

APICURIO_VERSION = "3.3.3"
ARTIFACT = "io.apicurio:apicurio-registry-app"
MIN_JAVA = 21
CCOMPAT = "/apis/ccompat/v7"


def cache_dir(version: str = APICURIO_VERSION) -> Path:
    root = os.environ.get("HUB_KAFKA_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "caricc-hub"
    return base / f"apicurio-registry-{version}"


def app_dir(version: str = APICURIO_VERSION) -> Path:
    return cache_dir(version) / "app"


def fetched(version: str = APICURIO_VERSION) -> bool:
    return (app_dir(version) / ".complete").exists()


def fetch(version: str = APICURIO_VERSION, *, timeout: float = 900,
          progress: Callable[[str], None] | None = None) -> Path:
    """The directory holding ``quarkus-run.jar``, unpacking the app with Maven first when not cached yet
    (about 170 MB). Safe from several processes at once; a failed fetch leaves nothing behind."""
    app = app_dir(version)
    if fetched(version):
        return app
    root = cache_dir(version)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if fetched(version):
            return app
        tmp = root / "app.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(root / "${project.basedir}", ignore_errors=True)  # an old unpack marker would skip the unpack
        log.info("fetching Apicurio Registry with Maven", version=version, into=str(app))
        code, out = maven(["dependency:unpack", f"-Dartifact={ARTIFACT}:{version}:tar.gz:all",
                           f"-DoutputDirectory={tmp}"], progress=progress, timeout=timeout,
                          cwd=root)  # no pom: Maven's markers go under the cache, not the caller's directory
        if code != 0 or not (tmp / "quarkus-run.jar").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise KafkaUnavailable(f"mvn could not fetch {ARTIFACT}:{version}:tar.gz:all (exit {code}):\n{out[-3000:]}")
        (tmp / ".complete").write_text(f"{ARTIFACT}:{version}\n", encoding="utf-8")
        shutil.rmtree(app, ignore_errors=True)
        tmp.rename(app)
    return app


def _java_version(java: Path) -> int | None:
    """The feature version of the JDK/JRE of ``java`` (its ``release`` file, else ``java -version``)."""
    release = java.resolve().parent.parent / "release"
    text = ""
    with contextlib.suppress(OSError):
        text = release.read_text(encoding="utf-8")
    found = re.search(r'JAVA_VERSION="(\d+)', text)
    if not found:
        try:
            out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
        except OSError:
            return None
        found = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(found[1]) if found else None


def java21() -> str:
    """A ``java`` of version ≥ 21 (Apicurio Registry 3 needs it; Kafka's java may be 17): HUB_REGISTRY_JAVA
    if set, else the newest of $JAVA_HOME, the JDKs under /usr/lib/jvm and ``java`` on PATH."""
    if os.environ.get("HUB_REGISTRY_JAVA"):
        candidates = [Path(os.environ["HUB_REGISTRY_JAVA"])]
    else:
        candidates = sorted(Path("/usr/lib/jvm").glob("*/bin/java"))
        if os.environ.get("JAVA_HOME"):
            candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
        if shutil.which("java"):
            candidates.append(Path(str(shutil.which("java"))))
    versions = [(v, c) for c in candidates if c.exists() and (v := _java_version(c)) is not None]
    good = [(v, c) for v, c in versions if v >= MIN_JAVA]
    if not good:
        seen = ", ".join(f"{c} ({v})" for v, c in versions) or "none"
        raise KafkaUnavailable(f"Apicurio Registry needs Java ≥ {MIN_JAVA}; found {seen}. Install one "
                               f"(e.g. a Temurin 21+ JDK) or point HUB_REGISTRY_JAVA at its bin/java")
    return str(max(good, key=lambda vc: vc[0])[1])


def running_pid(workdir: Path) -> int | None:
    """The PID in ``workdir/registry.pid`` if it is still this directory's registry (not a recycled PID)."""
    try:
        pid, started = (int(x) for x in (workdir / "registry.pid").read_text().split())
    except (OSError, ValueError):
        return None
    return pid if start_time(pid) == started else None


@dataclass
class Registry:
    """One Apicurio Registry on 127.0.0.1:``port``, its H2 database and log under ``workdir``."""

    workdir: Path
    port: int = 0
    version: str = APICURIO_VERSION
    heap: str = "384m"
    die_with_parent: bool = False  # SIGKILLed when the process that started it dies
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        """The Confluent-compatible API (HUB_SCHEMA_REGISTRY_URL)."""
        return f"http://127.0.0.1:{self.port}{CCOMPAT}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def command(self) -> list[str]:
        app = fetch(self.version)
        db = self.workdir / "data" / "registry"
        return [java21(), f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                f"-Dquarkus.http.port={self.port}", "-Dquarkus.http.host=127.0.0.1",
                # its management interface (health, metrics) is built in: on loopback, a port of its own
                "-Dquarkus.management.host=127.0.0.1", f"-Dquarkus.management.port={free_port()}",
                "-Dquarkus.log.console.json=false",
                f"-Dapicurio.datasource.url=jdbc:h2:file:{db}", "-jar", str(app / "quarkus-run.jar")]

    def start(self, timeout: float = 240.0) -> Registry:
        if self.alive():
            return self
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=self.workdir, preexec_fn=die_with_parent() if self.die_with_parent else None)
        (self.workdir / "registry.pid").write_text(f"{self.proc.pid} {start_time(self.proc.pid)}\n", encoding="utf-8")
        self.wait_ready(timeout)
        log.info("schema registry started", url=self.url, pid=self.proc.pid, version=self.version)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Until the Confluent API answers (fails fast if the JVM exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the registry exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/subjects", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the registry did not answer on {self.url} within {timeout:g}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, SIGKILL after ``timeout``."""
        if not self.alive():
            return
        assert self.proc is not None
        stop_group(self.proc.pid, timeout)
        self.proc.wait(10)
        (self.workdir / "registry.pid").unlink(missing_ok=True)
        log.info("schema registry stopped", port=self.port)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_group(pid: int, timeout: float) -> bool:
    """SIGTERM to process group ``pid``, SIGKILL after ``timeout`` s; True if it had to be killed."""
    started = start_time(pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while start_time(pid) == started and started is not None and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
        time.sleep(0.2)
    if started is not None and start_time(pid) == started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        return True
    return False
