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
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
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


@dataclass
class FileOutcome:
    name: str
    sha256: str
    status: str  # done | failed | duplicate
    rows: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    moved_to: Path | None = None


class FileDrop:
    def __init__(self, directory: str | Path, publisher: Publisher, *, settle: float = 1.0) -> None:
        self.dir = Path(directory)
        self.done, self.failed = self.dir / "done", self.dir / "failed"
        self.state_dir = self.dir / ".filedrop"
        for d in (self.dir, self.done, self.failed, self.state_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.publisher = publisher
        self.settle = settle
        self.stop_event = threading.Event()
        self.db = sqlite3.connect(str(self.state_dir / "state.db"), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(STATE_DDL)

    @staticmethod
    def default_outbox(directory: str | Path) -> Path:
        return Path(directory) / ".filedrop" / "outbox.db"

    def candidates(self) -> list[Path]:
        """Files ready to process: a known extension, not hidden, unchanged for ``settle`` seconds."""
        now = time.time()
        out = []
        for p in sorted(self.dir.iterdir()):
            if not p.is_file() or p.name.startswith(".") or p.suffix.lower() not in FORMATS:
                continue
            try:
                if now - p.stat().st_mtime < self.settle:
                    continue  # still being written
            except FileNotFoundError:
                continue
            out.append(p)
        return out

    def scan_once(self) -> list[FileOutcome]:
        outcomes = []
        for p in self.candidates():
            if self.stop_event.is_set():
                break
            o = self.process(p)
            if o is not None:
                outcomes.append(o)
        return outcomes

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

    # -- one file ----------------------------------------------------------------------------------
    def process(self, path: Path) -> FileOutcome | None:
        """Publish one file and move it. None when stopped before its reports were settled."""
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        bound = log.bind(file=path.name, sha256=digest[:16])
        prior = self.db.execute("SELECT name, status, moved_to, processed_at FROM files WHERE sha256 = ?",
                                (digest,)).fetchone()
        if prior is not None and prior[1] in ("done", "failed"):
            o = FileOutcome(path.name, digest, "duplicate",
                            problem=f"same content as {prior[0]} ({prior[1]}, moved to {prior[2]}); not sent again")
            self._finish(path, o, self.done)
            bound.info("duplicate file skipped", of=prior[0])
            return o
        try:
            rows = read(path.name, data)
        except ValueError as exc:
            o = FileOutcome(path.name, digest, "failed", problem=str(exc))
            self._finish(path, o, self.failed)
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
        self._finish(path, o, self.failed if o.status == "failed" else self.done)
        bound.info("file processed", status=o.status, rows=len(rows), bad=len(bad))
        return o

    def _finish(self, path: Path, o: FileOutcome, target_dir: Path) -> None:
        target = target_dir / path.name
        if target.exists():
            target = target_dir / f"{path.stem}.{o.sha256[:8]}.{int(time.time())}{path.suffix}"
        report = {"file": path.name, "sha256": o.sha256, "status": o.status, "problem": o.problem,
                  "processed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": o.rows}
        Path(f"{target}.report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        if o.status == "failed":
            lines = [f"{path.name}: {o.problem}"] if o.problem else []
            for r in o.rows:
                for e in r.get("errors") or []:
                    where = f"{r['row']}" + (f" ({r['source_ref']})" if r.get("source_ref") else "")
                    lines.append(f"{where}: {e['field']}: {e['problem']}" if e.get("field") else f"{where}: {e['problem']}")
            Path(f"{target}.errors.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(path, target)
        o.moved_to = target
        if o.status != "duplicate":
            self.db.execute("INSERT OR REPLACE INTO files (sha256, name, status, moved_to, processed_at) "
                            "VALUES (?, ?, ?, ?, ?)", (o.sha256, path.name, o.status, str(target), time.time()))
