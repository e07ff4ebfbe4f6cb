"""A real Apache Kafka broker on this machine: fetched from Maven Central, KRaft, single node.

What the test suite and ``hub kafka start`` run (SPEC §12). The jars of the pinned
``org.apache.kafka:kafka_2.13`` and its runtime dependencies are copied by Maven
(``mvn dependency:copy-dependencies`` on a generated pom) into a cache directory
(``HUB_KAFKA_CACHE``, default ``~/.cache/caricc-hub/kafka-<version>``) once; later runs reuse them.
Needs a JDK ≥ 17 (``java``, or ``$JAVA_HOME/bin/java``) and Maven (``mvn``): ``./dev test`` installs
both from Debian when missing.

A broker is the repository's ``deploy/kafka/server.properties`` (or ``server-sasl.properties``:
SASL/SCRAM over TLS with ACLs) plus the host-specific keys appended by :class:`KafkaBroker`
(node id, listeners on free loopback ports, quorum voters, log directory, key and trust stores).
Storage is formatted with ``kafka.tools.StorageTool format`` (SCRAM users added there), the broker
runs as ``java kafka.Kafka`` in its own process group, ``start()`` returns once an admin client gets
metadata, and ``stop()``/``kill()`` end it by PID. Its log directory survives ``stop``/``kill`` and
``start`` again (durability tests); :meth:`KafkaBroker.wipe` deletes it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from hub.platform import settings as settings_mod
from hub.platform.kafka.embedded import die_with_parent, free_port, port_open, stop_process
from hub.platform.settings import Settings

log = structlog.get_logger(__name__)

KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
ARTIFACT = f"org.apache.kafka:kafka_{SCALA_VERSION}"
# slf4j 1.7 binding for Kafka's log4j2, so the broker's log says what it does
LOG_BINDING = "org.apache.logging.log4j:log4j-slf4j-impl:2.25.5"
CONFIG_DIR = Path(__file__).resolve().parents[3] / "deploy" / "kafka"
PLAIN_CONFIG = CONFIG_DIR / "server.properties"
SASL_CONFIG = CONFIG_DIR / "server-sasl.properties"
ADMIN = "admin"  # the broker's own principal (super user) in the SASL profile
MECHANISM = "SCRAM-SHA-512"
# the keys a deployment adds to deploy/kafka/*.properties (compose does the same: tests/platform/kafka)
HOST_KEYS = frozenset({"node.id", "listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs",
                       "ssl.keystore.location", "ssl.truststore.location"})


class KafkaUnavailable(RuntimeError):
    """Java, Maven or the Kafka jars cannot be had (the message says which and how to fix it)."""


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    root = os.environ.get("HUB_KAFKA_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "caricc-hub"
    return base / f"kafka-{version}"


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise KafkaUnavailable("no java on PATH (Kafka 4 needs a JDK ≥ 17: apt-get install default-jdk-headless)")
    return found


def _pom(version: str) -> str:
    group, artifact = ARTIFACT.split(":")
    lg, la, lv = LOG_BINDING.split(":")
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.caricc-hub</groupId><artifactId>kafka-broker-jars</artifactId><version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>
    <dependency><groupId>{lg}</groupId><artifactId>{la}</artifactId><version>{lv}</version></dependency>
  </dependencies>
</project>
"""


def libs_dir(version: str = KAFKA_VERSION) -> Path:
    return cache_dir(version) / "libs"


def fetched(version: str = KAFKA_VERSION) -> bool:
    return (libs_dir(version) / ".complete").exists()


def maven(args: list[str], *, progress: Callable[[str], None] | None = None, timeout: float = 900,
          cwd: Path | None = None) -> tuple[int, str]:
    """Run ``mvn -B ARGS`` in ``cwd``; its exit code and the tail of its output. ``progress`` gets a line per
    file Maven downloads ("12 files, 48.3 MB so far: NAME"), so a first run shows what it is waiting for.
    A goal run without a pom writes its ``${project.basedir}/target`` under ``cwd``: give the cache."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaUnavailable("no mvn on PATH (apt-get install maven), needed once to fetch the jars")
    proc = subprocess.Popen([mvn, "-B", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=cwd)
    tail: list[str] = []
    files, size = 0, 0.0
    timer = threading.Timer(timeout, proc.kill)  # a stuck download ends as a failed fetch
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail[-60:], line]
            got = DOWNLOADED.search(line)
            if got and progress is not None:
                files += 1
                size += float(got["n"]) * UNITS.get(got["unit"], 1) / 1e6
                progress(f"{files} files, {size:.1f} MB so far: {got['name']}")
        return proc.wait(), "".join(tail)
    finally:
        timer.cancel()


DOWNLOADED = re.compile(r"Downloaded from \S+: \S+/(?P<name>[^/\s]+) \((?P<n>[\d.]+) (?P<unit>[kMG]?B)")
UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def fetch(version: str = KAFKA_VERSION, *, timeout: float = 900, progress: Callable[[str], None] | None = None
          ) -> Path:
    """The directory holding Kafka's jars, copying them with Maven first when not cached yet.

    Safe to call from several processes at once (a file lock); a failed copy leaves nothing behind."""
    libs = libs_dir(version)
    if fetched(version):
        return libs
    root = cache_dir(version)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if fetched(version):
            return libs
        (root / "pom.xml").write_text(_pom(version), encoding="utf-8")
        tmp = root / "libs.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        log.info("fetching Apache Kafka with Maven", version=version, into=str(libs))
        code, out = maven(["-f", str(root / "pom.xml"), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}",
                           "-DincludeScope=runtime"], progress=progress, timeout=timeout)
        jars = sorted(p.name for p in tmp.glob("*.jar")) if tmp.exists() else []
        if code != 0 or f"kafka_{SCALA_VERSION}-{version}.jar" not in jars:
            shutil.rmtree(tmp, ignore_errors=True)
            raise KafkaUnavailable(f"mvn could not fetch {ARTIFACT}:{version} (exit {code}):\n{out[-3000:]}")
        (tmp / ".complete").write_text("\n".join(jars) + "\n", encoding="utf-8")
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
    return libs


def read_properties(text: str) -> dict[str, str]:
    """``key=value`` lines (later keys win, as in java.util.Properties; no continuation lines)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def _cluster_id() -> str:
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@dataclass
class KafkaBroker:
    """One single-node KRaft Kafka (broker + controller) on 127.0.0.1, its files under ``workdir``.

    ``sasl=True``: the SASL_SSL profile (deploy/kafka/server-sasl.properties) with a CA made for it
    (``workdir/tls/ca.pem``), the super user ``admin`` and a SCRAM-SHA-512 user per name in
    ``users`` (passwords in :attr:`passwords`). Else PLAINTEXT (deploy/kafka/server.properties).
    """

    workdir: Path
    sasl: bool = False
    users: tuple[str, ...] = ()
    port: int = 0
    controller_port: int = 0
    version: str = KAFKA_VERSION
    heap: str = "512m"
    passwords: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    die_with_parent: bool = False  # SIGKILLed when the process that started it dies (`hub up --durable`)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        saved = self.workdir / "passwords.json"
        if saved.exists():  # a broker formatted earlier: its SCRAM users and TLS password
            stored = json.loads(saved.read_text(encoding="utf-8"))
            self.passwords = stored["users"] | self.passwords
            self.users = tuple(dict.fromkeys((*self.users, *(u for u in stored["users"] if u != ADMIN))))
            self._ssl_password = stored["ssl"]
        else:
            self._ssl_password = secrets.token_urlsafe(18)
        for name in (ADMIN, *self.users):
            self.passwords.setdefault(name, secrets.token_urlsafe(18))

    # ------------------------------------------------------------------ files
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kafka.log"

    @property
    def config_path(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "tls" / "ca.pem"

    @property
    def base_config(self) -> Path:
        return SASL_CONFIG if self.sasl else PLAIN_CONFIG

    def host_properties(self) -> dict[str, str]:
        """The host-specific keys appended to the repository's file (see HOST_KEYS)."""
        listener = "SASL_SSL" if self.sasl else "PLAINTEXT"
        props = {
            "node.id": "1",
            "listeners": f"{listener}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"{listener}://127.0.0.1:{self.port}",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "log.dirs": str(self.log_dir),
        }
        if self.sasl:
            props |= {"ssl.keystore.location": str(self.workdir / "tls" / "broker.p12"),
                      "ssl.truststore.location": str(self.ca_file)}
        assert set(props) <= HOST_KEYS
        return props

    def properties(self) -> dict[str, str]:
        """The configuration the broker runs with (file + host keys)."""
        return read_properties(self.config_path.read_text(encoding="utf-8"))

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        text = self.base_config.read_text(encoding="utf-8")
        extra = "".join(f"{k}={v}\n" for k, v in self.host_properties().items())
        self.config_path.write_text(f"{text}\n# host-specific (hub.platform.kafka.server)\n{extra}", encoding="utf-8")
        if self.sasl and not (self.workdir / "tls" / "broker.p12").exists():
            from hub.platform.kafka.tls import make_tls

            make_tls(self.workdir / "tls", self._ssl_password)
        saved = self.workdir / "passwords.json"
        if self.sasl and not saved.exists():
            saved.touch(0o600)
            saved.write_text(json.dumps({"users": self.passwords, "ssl": self._ssl_password}), encoding="utf-8")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("KAFKA_OPTS", None)
        if self.sasl:  # read by the broker through its env config provider (server-sasl.properties)
            env |= {"KAFKA_SSL_PASSWORD": self._ssl_password, "KAFKA_ADMIN_PASSWORD": self.passwords[ADMIN]}
        return env

    def _java(self, main: str, *args: str, **popen: Any) -> list[str]:
        libs = fetch(self.version)
        log4j = self.workdir / "log4j2.properties"
        if not log4j.exists():
            log4j.write_text(LOG4J2, encoding="utf-8")
        return [java(), f"-Xmx{self.heap}", f"-Xms{min(256, int(self.heap.rstrip('m')))}m",
                "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*", main, *args]

    @property
    def formatted(self) -> bool:
        return (self.log_dir / "meta.properties").exists()

    def format(self) -> None:
        """``kafka-storage format`` (with the SCRAM users of the SASL profile) unless done already."""
        self._write_config()
        if self.formatted:
            return
        args = ["format", "--config", str(self.config_path), "--cluster-id", _cluster_id()]
        if self.sasl:
            for name, password in self.passwords.items():
                for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                    args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        proc = subprocess.run(self._java("kafka.tools.StorageTool", *args), capture_output=True, text=True,
                              env=self._env(), timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"kafka storage format failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")

    # ------------------------------------------------------------------ process
    def start(self, timeout: float = 90.0) -> KafkaBroker:
        if self.alive():
            return self
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use")
        self.format()
        out = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        try:
            self.proc = subprocess.Popen(self._java("kafka.Kafka", str(self.config_path)), stdout=out,
                                         stderr=subprocess.STDOUT, env=self._env(), start_new_session=True,
                                         preexec_fn=die_with_parent() if self.die_with_parent else None)
        finally:
            out.close()
        self.starts += 1
        (self.workdir / "kafka.pid").write_text(f"{self.proc.pid}\n", encoding="utf-8")
        self.wait_ready(timeout)
        log.info("kafka started", bootstrap=self.bootstrap, pid=self.proc.pid, version=self.version)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Until an admin client gets metadata listing this broker (fails fast if the JVM exits)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"kafka exited with {self.proc.returncode}:\n{self.log_tail()}")
            if port_open(self.port):
                try:
                    asyncio.run(asyncio.wait_for(self._probe(), 10))
                    return
                except Exception as exc:  # not ready yet
                    last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"kafka did not answer on {self.bootstrap} within {timeout:g}s ({last}):\n{self.log_tail()}")

    async def _probe(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        from hub.platform.kafka.clients import client_settings

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000,
                                    **client_settings(self.settings(ADMIN if self.sasl else None)).admin)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown), SIGKILL after ``timeout``."""
        if self.alive():
            stop_process(self.proc, timeout)
            log.info("kafka stopped", port=self.port)

    def kill(self) -> None:
        """SIGKILL the JVM (a crash: nothing flushed that the OS did not have)."""
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""

    # ------------------------------------------------------------------ hub settings
    def settings(self, principal: str | None = None, **overrides: Any) -> Settings:
        """Hub settings pointing at this broker; on the SASL profile as ``principal`` (SCRAM over TLS)."""
        env: Mapping[str, str] = {}
        values: dict[str, Any] = {"kafka_bootstrap": self.bootstrap}
        if self.sasl:
            name = principal or ADMIN
            values |= {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": MECHANISM,
                       "kafka_sasl_username": name, "kafka_sasl_password": self.passwords.get(name, ""),
                       "kafka_ssl_cafile": str(self.ca_file)}
        return settings_mod.load(env, **(values | overrides))

    def env(self, principal: str | None = None) -> dict[str, str]:
        """``HUB_KAFKA_*`` variables for a ``hub`` process using this broker."""
        s = self.settings(principal)
        out = {"HUB_KAFKA_BOOTSTRAP": s.kafka_bootstrap, "HUB_KAFKA_SECURITY_PROTOCOL": s.kafka_security_protocol}
        if self.sasl:
            out |= {"HUB_KAFKA_SASL_MECHANISM": s.kafka_sasl_mechanism, "HUB_KAFKA_SASL_USERNAME": s.kafka_sasl_username,
                    "HUB_KAFKA_SASL_PASSWORD": s.kafka_sasl_password, "HUB_KAFKA_SSL_CAFILE": s.kafka_ssl_cafile}
        return out

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = INFO
"""
