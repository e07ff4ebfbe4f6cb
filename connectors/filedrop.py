"""File drop (SPEC §7): watch a directory for .json / .ndjson / .csv report files and publish them.

Each file is processed once, recognised by its content hash (SHA-256), then moved to ``done/`` (every
report accepted) or ``failed/`` (the file or some rows could not be read or were rejected by the hub),
with ``NAME.report.json`` beside it listing every row's outcome and, for failures, ``NAME.errors.txt``
naming each bad row and field in plain words. Good rows of a partly bad file are still published --
nothing is lost and the agency only resubmits the rows it fixed. A file whose content was already
processed is moved to ``done/`` with a report saying it is a duplicate, and nothing is sent again.

Reports go through the store-and-forward SDK, so a hub outage only delays a file (it stays in the
drop directory until its reports are settled). State lives in ``DIR/.filedrop/state.db``: after a
restart, files not yet moved are processed again, which is safe (outbox and hub are idempotent).

Hostile input (whoever can write into the directory; docs/connectors.md, "File drop limits"):

* every file is isolated: a file that cannot be read (a CSV cell over 128 KiB, NUL bytes, bad
  encoding, JSON nested deeper than 1024, …) goes to ``failed/`` with its report and the scan goes on;
  an unexpected error is retried on the next scans and after :data:`MAX_ATTEMPTS` the file goes to
  ``failed/`` too, so no file blocks the directory;
* links are never followed: files are opened ``O_NOFOLLOW|O_NONBLOCK`` relative to a descriptor of
  the directory and checked with ``fstat`` on the open descriptor (a file swapped for a link, a FIFO
  or a device after the scan is refused, not read); symbolic links, hard-linked files (``st_nlink`` >
  1: a way to expose a file from outside) and non-regular files go to ``failed/`` unread (the link
  itself is moved, never its target); subdirectories are never entered; ``done/``, ``failed/`` and
  ``.filedrop/`` must be real directories (the connector refuses to start otherwise) and reports are
  created ``O_EXCL|O_NOFOLLOW`` inside them, so a planted link is never written through;
* a file over ``max_bytes`` (``HUB_FILEDROP_MAX_BYTES``, default 32 MiB) is refused unread; a file
  with more than ``max_rows`` reports (default 50,000) is refused as a whole.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog

from connectors.formats import FORMATS, read
from connectors.sdk import PENDING, Publisher, outbox_key

log = structlog.get_logger(__name__)

STATE_DDL = """CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    moved_to TEXT,
    processed_at REAL NOT NULL
)"""
ATTEMPTS_DDL = """CREATE TABLE IF NOT EXISTS attempts (
    name TEXT PRIMARY KEY,
    n INTEGER NOT NULL,
    error TEXT NOT NULL
)"""

MAX_BYTES = 32 * 2**20  # default size cap of one file (HUB_FILEDROP_MAX_BYTES)
MAX_ROWS = 50_000  # reports in one file
MAX_ATTEMPTS = 3  # scans that may fail unexpectedly on one file before it goes to failed/
WORK_DIRS = ("done", "failed", ".filedrop")


class UnsafeDirectory(RuntimeError):
    """A working directory of the drop is a link or not ours: the connector does not start."""


class Refused(Exception):
    """A file refused without reading it (a link, not a regular file, too big)."""


@dataclass
class FileOutcome:
    name: str
    sha256: str
    status: str  # done | failed | duplicate
    rows: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    moved_to: Path | None = None


class FileDrop:
    def __init__(self, directory: str | Path, publisher: Publisher, *, settle: float = 1.0,
                 max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> None:
        self.dir = Path(directory)
        self.done, self.failed = self.dir / "done", self.dir / "failed"
        self.state_dir = self.dir / ".filedrop"
        self.prepare(self.dir)
        self.dir_fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.done_fd = self._open_dir("done")
        self.failed_fd = self._open_dir("failed")
        self.publisher = publisher
        self.settle = settle
        self.max_bytes, self.max_rows = max_bytes, max_rows
        self.stop_event = threading.Event()
        self.db = sqlite3.connect(str(self.state_dir / "state.db"), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(STATE_DDL)
        self.db.execute(ATTEMPTS_DDL)

    @staticmethod
    def prepare(directory: str | Path) -> None:
        """Create the drop directory and its working directories; raise UnsafeDirectory when one of
        them is a symbolic link or not a directory, or ``.filedrop`` is not owned by this user. Call it
        before opening the outbox (which lives in ``.filedrop``)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name in WORK_DIRS:
            sub = d / name
            with contextlib.suppress(FileExistsError):
                sub.mkdir(mode=0o700 if name == ".filedrop" else 0o755)
            st = os.lstat(sub)
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeDirectory(f"{sub} is a symbolic link: the file drop never follows links out of its "
                                      "directory; replace it with a real directory")
            if not stat.S_ISDIR(st.st_mode):
                raise UnsafeDirectory(f"{sub} is not a directory")
            if name == ".filedrop" and st.st_uid != os.geteuid():
                raise UnsafeDirectory(f"{sub} belongs to uid {st.st_uid}, not to this connector (uid "
                                      f"{os.geteuid()}): its outbox and state must be the connector's own")

    def _open_dir(self, name: str) -> int:
        try:
            return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.dir_fd)
        except OSError as exc:
            raise UnsafeDirectory(f"{self.dir / name}: {exc.strerror} (a symbolic link?)") from exc

    @staticmethod
    def default_outbox(directory: str | Path) -> Path:
        return Path(directory) / ".filedrop" / "outbox.db"

    def candidates(self) -> list[Path]:
        """Entries to process: a known extension, not hidden, not a directory, and (for regular files)
        unchanged for ``settle`` seconds. Links and other non-regular entries are candidates too: they
        are refused and moved aside. Nothing is followed or entered."""
        now = time.time()
        out = []
        with os.scandir(self.dir_fd) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if e.name.startswith(".") or Path(e.name).suffix.lower() not in FORMATS:
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime < self.settle:
                continue  # still being written
            out.append(self.dir / e.name)
        return out

    def scan_once(self) -> list[FileOutcome]:
        outcomes = []
        for p in self.candidates():
            if self.stop_event.is_set():
                break
            try:
                o = self.process(p)
            except Exception as exc:  # one file never blocks the directory
                o = self._unexpected(p, exc)
            if o is not None:
                outcomes.append(o)
        return outcomes

    def _unexpected(self, path: Path, exc: Exception) -> FileOutcome | None:
        """Count a failed attempt; after MAX_ATTEMPTS move the file to failed/ with the error."""
        error = f"{type(exc).__name__}: {exc}"
        log.exception("file could not be processed", file=path.name)
        self.db.execute("INSERT INTO attempts (name, n, error) VALUES (?, 1, ?) "
                        "ON CONFLICT (name) DO UPDATE SET n = n + 1, error = excluded.error", (path.name, error))
        n = int(self.db.execute("SELECT n FROM attempts WHERE name = ?", (path.name,)).fetchone()[0])
        if n < MAX_ATTEMPTS:
            return None
        o = FileOutcome(path.name, "", "failed", problem=f"could not be processed ({n} attempts): {error}")
        try:
            self._finish(path, o, self.failed_fd)
        except Exception:
            log.exception("file could not be moved to failed/", file=path.name)
            return None
        return o

    def run(self, poll: float = 1.0) -> None:
        log.info("file drop watching", dir=str(self.dir))
        while not self.stop_event.is_set():
            try:
                self.scan_once()
            except Exception:
                log.exception("file drop scan failed; retrying")
            self.stop_event.wait(poll)

    def stop(self) -> None:
        self.stop_event.set()
        self.publisher.stop()

    def close(self) -> None:
        """Release the directory descriptors and the state database (the publisher is the caller's)."""
        for fd in (self.done_fd, self.failed_fd, self.dir_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.db.close()

    # -- one file ----------------------------------------------------------------------------------
    def process(self, path: Path) -> FileOutcome | None:
        """Publish one file and move it. None when stopped before its reports were settled."""
        try:
            data = self._read(path.name)
        except FileNotFoundError:
            return None  # gone since the scan
        except Refused as exc:
            o = FileOutcome(path.name, "", "failed", problem=str(exc))
            self._finish(path, o, self.failed_fd)
            log.warning("file refused", file=path.name, problem=str(exc))
            return o
        digest = hashlib.sha256(data).hexdigest()
        bound = log.bind(file=path.name, sha256=digest[:16])
        prior = self.db.execute("SELECT name, status, moved_to, processed_at FROM files WHERE sha256 = ?",
                                (digest,)).fetchone()
        if prior is not None and prior[1] in ("done", "failed"):
            o = FileOutcome(path.name, digest, "duplicate",
                            problem=f"same content as {prior[0]} ({prior[1]}, moved to {prior[2]}); not sent again")
            self._finish(path, o, self.done_fd)
            bound.info("duplicate file skipped", of=prior[0])
            return o
        try:
            rows = read(path.name, data)
            if len(rows) > self.max_rows:
                raise ValueError(f"the file holds {len(rows)} reports; a file may hold at most {self.max_rows} "
                                 "reports (split it)")
        except (ValueError, RecursionError, UnicodeError) as exc:
            o = FileOutcome(path.name, digest, "failed", problem=str(exc))
            self._finish(path, o, self.failed_fd)
            bound.warning("file unreadable", problem=str(exc))
            return o
        self.db.execute("INSERT OR REPLACE INTO files (sha256, name, status, processed_at) VALUES (?, ?, 'processing', ?)",
                        (digest, path.name, time.time()))
        keyed: list[tuple[int, str]] = []
        bodies: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            entry: dict[str, Any] = {"row": row.label}
            if row.body is not None:
                entry["source_ref"] = row.body.get("source_ref")
                entry["version"] = row.body.get("version", 1)
            if row.body is None:
                entry |= {"status": "unreadable", "errors": [{"field": "", "problem": row.problem}]}
            else:
                try:
                    keyed.append((i, outbox_key(row.body)))
                    bodies.append(row.body)
                except ValueError as exc:
                    field_name, _, problem = str(exc).partition(": ")
                    entry |= {"status": "rejected", "errors": [{"field": field_name, "problem": problem or str(exc)}]}
            results.append(entry)
        self.publisher.publish_many(bodies)  # one durable transaction per file
        bound.info("file queued", rows=len(rows), queued=len(keyed))
        keys = [k for _, k in keyed]
        while True:
            self.publisher.drain(timeout=None)
            outs = self.publisher.results(keys)
            if all(outs[k]["status"] != PENDING for k in keys):
                break
            if self.stop_event.is_set():
                bound.info("stopped before the file's reports were sent; it stays for the next start")
                return None
        for i, k in keyed:
            r = outs[k]
            if r["status"] == "sent":
                results[i] |= {"status": "accepted", "report_id": r["report_id"], "duplicate": r["duplicate"]}
            else:
                results[i] |= {"status": "rejected", "report_id": r["report_id"], "error": r["error"],
                               "errors": r["errors"] or [{"field": "", "problem": r["error"]}]}
        bad = [r for r in results if r["status"] != "accepted"]
        o = FileOutcome(path.name, digest, "failed" if bad or not rows else "done", results,
                        problem=None if rows else "the file holds no reports")
        self._finish(path, o, self.failed_fd if o.status == "failed" else self.done_fd)
        bound.info("file processed", status=o.status, rows=len(rows), bad=len(bad))
        return o

    def _read(self, name: str) -> bytes:
        """The bytes of the regular file ``name`` of the drop directory, never through a link, at most
        ``max_bytes``. Raises Refused (unread) or FileNotFoundError."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Refused("is a symbolic link: refused unread (the file drop never follows links; copy "
                              "the file into the directory instead)") from exc
            if exc.errno == errno.ENOENT:
                raise FileNotFoundError(name) from exc
            raise Refused(f"cannot be opened: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Refused("is not a regular file (a FIFO, socket or device): refused unread")
            if st.st_nlink > 1:
                raise Refused(f"has {st.st_nlink} hard links: refused unread (a hard link can expose a file from "
                              "outside the drop directory; copy the file instead)")
            if st.st_size > self.max_bytes:
                raise Refused(f"is {st.st_size} bytes, over the {self.max_bytes}-byte limit "
                              "(HUB_FILEDROP_MAX_BYTES): refused unread; split it")
            chunks, size = [], 0
            while size <= self.max_bytes:
                chunk = os.read(fd, min(1 << 20, self.max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > self.max_bytes:
                raise Refused(f"grew over the {self.max_bytes}-byte limit (HUB_FILEDROP_MAX_BYTES) while read")
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _exists(self, name: str, dir_fd: int) -> bool:
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def _create(self, name: str, dir_fd: int, data: bytes) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def _finish(self, path: Path, o: FileOutcome, target_fd: int) -> None:
        """Write the outcome's report(s) into the target directory and move the entry there (the entry
        itself: a link is moved as a link). Every name is created O_EXCL|O_NOFOLLOW inside the target
        directory's descriptor: an existing name or a planted link gets a fresh name instead."""
        target_dir = self.failed if target_fd == self.failed_fd else self.done
        report = {"file": path.name, "sha256": o.sha256 or None, "status": o.status, "problem": o.problem,
                  "processed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": o.rows}
        errors = None
        if o.status == "failed":
            lines = [f"{path.name}: {o.problem}"] if o.problem else []
            for r in o.rows:
                for e in r.get("errors") or []:
                    where = f"{r['row']}" + (f" ({r['source_ref']})" if r.get("source_ref") else "")
                    lines.append(f"{where}: {e['field']}: {e['problem']}" if e.get("field") else f"{where}: {e['problem']}")
            errors = ("\n".join(lines) + "\n").encode("utf-8")
        p = Path(path.name)
        name = path.name
        for _ in range(10):
            names = [name, f"{name}.report.json"] + ([f"{name}.errors.txt"] if errors is not None else [])
            if not any(self._exists(n, target_fd) for n in names):
                try:
                    self._create(f"{name}.report.json", target_fd, orjson.dumps(report, option=orjson.OPT_INDENT_2))
                    if errors is not None:
                        self._create(f"{name}.errors.txt", target_fd, errors)
                    break
                except FileExistsError:
                    pass
            name = f"{p.stem}.{(o.sha256 or secrets.token_hex(4))[:8]}.{time.time_ns()}{p.suffix}"
        else:
            raise RuntimeError(f"no free name for {path.name} in {target_dir}")
        os.rename(path.name, name, src_dir_fd=self.dir_fd, dst_dir_fd=target_fd)
        o.moved_to = target_dir / name
        self.db.execute("DELETE FROM attempts WHERE name = ?", (path.name,))
        if o.status != "duplicate" and o.sha256:
            self.db.execute("INSERT OR REPLACE INTO files (sha256, name, status, moved_to, processed_at) "
                            "VALUES (?, ?, ?, ?, ?)", (o.sha256, path.name, o.status, str(o.moved_to), time.time()))
