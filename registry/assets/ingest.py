"""Bulk ingest: register every file under a folder into one source, in parallel.

The parent process walks the folder and hashes each file; content the source already holds
is skipped with one query per batch, so a re-run registers only what is missing. The rest
goes to a pool of worker processes, each with its own database session, through
``register_upload``: one transaction per file, so an interruption leaves only whole assets.

Stopping: the first SIGINT/SIGTERM stops submitting and lets the running files finish; a
second one makes the workers abandon theirs, whose transactions then roll back.
"""

import getpass
import hashlib
import multiprocessing
import os
import signal
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from registry.assets.errors import DuplicateAsset
from registry.assets.service import check_upload_target
from registry.auth.actor import Actor
from registry.auth.models import Role
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.errors import RegistryError

BATCH_FILES, BATCH_BYTES = 64, 256 * 1024 * 1024  # hashed, then looked up in one query
LOG_EVERY = 100  # files per progress line when there is no progress bar
SHOWN_FAILURES = 50
REGISTERED, SKIPPED, FAILED = "registered", "skipped", "failed"
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def cli_actor(name: str | None = None) -> Actor:
    """Who the audit log says did it: ``cli:<name>``, by default the operating-system user."""
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            name = f"uid{os.getuid()}"
    return Actor(key_id=f"cli:{name}"[:40], role=Role.curator)


@dataclass(frozen=True)
class FileItem:
    path: str  # absolute, for reading
    name: str  # relative to the ingested folder, for reports
    size: int


@dataclass(frozen=True)
class Outcome:
    item: FileItem
    status: str
    detail: str | None = None
    asset_id: str | None = None


@dataclass
class Summary:
    root: Path
    source_id: str
    total: int = 0
    total_bytes: int = 0
    registered: int = 0
    skipped: int = 0
    failures: list[Outcome] = field(default_factory=list)
    interrupted: bool = False
    elapsed_s: float = 0.0

    @property
    def done(self) -> int:
        return self.registered + self.skipped + len(self.failures)

    @property
    def not_processed(self) -> int:
        return self.total - self.done

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else 1 if self.failures else 0

    def add(self, outcome: Outcome) -> None:
        if outcome.status == REGISTERED:
            self.registered += 1
        elif outcome.status == SKIPPED:
            self.skipped += 1
        else:
            self.failures.append(outcome)

    def as_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "source_id": self.source_id, "total": self.total,
                "registered": self.registered, "skipped": self.skipped,
                "failed": len(self.failures), "not_processed": self.not_processed,
                "interrupted": self.interrupted, "elapsed_s": round(self.elapsed_s, 3),
                "failures": [{"file": f.item.name, "reason": f.detail}
                             for f in self.sorted_failures]}

    @property
    def sorted_failures(self) -> list[Outcome]:
        return sorted(self.failures, key=lambda f: Path(f.item.name).parts)


# --- the parent: walking, checking, hashing ------------------------------------------------

def walk(root: Path) -> tuple[list[FileItem], list[Outcome]]:
    """Regular files under ``root``, sorted, hidden files and folders left out; folders
    that cannot be read come back as failures rather than being skipped silently."""
    if root.is_file():
        return [FileItem(str(root), root.name, root.stat().st_size)], []
    files, errors = [], []

    def unreadable(exc: OSError) -> None:
        name = os.path.relpath(exc.filename, root) if exc.filename else "."
        errors.append(Outcome(FileItem(str(exc.filename), name, 0), FAILED,
                              f"cannot read it: {exc.strerror or exc}"))

    for folder, subfolders, names in os.walk(root, onerror=unreadable):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        for name in (n for n in names if not n.startswith(".")):
            path = Path(folder, name)
            try:
                info = path.stat()
            except OSError as exc:  # vanished, or a dangling symlink
                unreadable(exc)
                continue
            if stat.S_ISREG(info.st_mode):
                files.append(FileItem(str(path), str(path.relative_to(root)), info.st_size))
    files.sort(key=lambda f: Path(f.name).parts)
    return files, errors


def batches(files: list[FileItem]) -> Iterator[list[FileItem]]:
    batch: list[FileItem] = []
    size = 0
    for item in files:
        batch.append(item)
        size += item.size
        if len(batch) == BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def sha256_file(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def present_in_source(session: Session, source_id: str, digests: set[str]) -> set[str]:
    from registry.assets.models import Asset

    if not digests:
        return set()
    try:
        found = session.exec(select(Asset.sha256).where(
            Asset.source_id == source_id, Asset.sha256.in_(digests)))  # type: ignore[attr-defined]
        return set(found.all())
    finally:
        session.rollback()  # hold no transaction open between batches


def check_target(session: Session, source_id: str, holder_id: str | None,
                 licence_id: str | None) -> None:
    """Refuse up front what would make every file fail (raises ``RegistryError``)."""
    try:
        check_upload_target(session, source_id, holder_id, licence_id)
    finally:
        session.rollback()


# --- the workers ---------------------------------------------------------------------------

class Aborted(BaseException):
    """Raised in a worker told to abandon its file: register_upload rolls it back."""


_worker: dict[str, Any] = {}


def _init_worker(settings: Settings, actor: Actor, source_id: str, holder_id: str | None,
                 licence_id: str | None) -> None:
    """Runs once in each worker process: its own engine and session, for the process's life."""
    # Ctrl-C reaches the whole process group: the parent decides what stops, and asks a
    # worker to abandon its file with SIGTERM. Both were blocked while the worker started.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _abort)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    from multiprocessing.util import Finalize

    from registry.core.db import standalone_session
    from registry.models import import_all_models

    import_all_models()
    resources = ExitStack()
    session = resources.enter_context(standalone_session(settings.effective_database_url))
    Finalize(None, resources.close, exitpriority=10)  # close its connections when the pool ends
    _worker.update(session=session, settings=settings, actor=actor, source_id=source_id,
                   holder_id=holder_id, licence_id=licence_id, busy=False, aborted=False,
                   blobs=LocalBlobStore(settings.effective_blob_dir))


def _abort(signum: int, frame: Any) -> None:
    first, _worker["aborted"] = not _worker.get("aborted"), True
    if first and _worker.get("busy"):
        raise Aborted()


def _register(item: FileItem, sha256: str) -> Outcome:
    from registry.assets.service import find_in_source, register_upload

    w, session = _worker, _worker["session"]
    if w["aborted"]:
        raise Aborted()
    w["busy"] = True
    try:
        with open(item.path, "rb") as stream:
            asset = register_upload(session, w["actor"], w["blobs"], w["settings"],
                                    w["source_id"], stream, holder_id=w["holder_id"],
                                    licence_id=w["licence_id"])
        return Outcome(item, REGISTERED, asset_id=asset.id)
    except DuplicateAsset as exc:
        return Outcome(item, SKIPPED, asset_id=exc.existing_asset_id)
    except RegistryError as exc:
        return Outcome(item, FAILED, exc.detail)
    except IntegrityError as exc:
        session.rollback()
        existing = find_in_source(session, w["source_id"], sha256)
        if existing is not None:  # another writer registered the same content meanwhile
            return Outcome(item, SKIPPED, asset_id=existing.id)
        return Outcome(item, FAILED, f"rejected by the database: {_first_line(exc.orig or exc)}")
    except OSError as exc:
        return Outcome(item, FAILED, f"cannot read it: {exc.strerror or exc}")
    finally:
        w["busy"] = False
        session.rollback()  # end any read transaction; the next file starts afresh
        session.expunge_all()


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


# --- the run -------------------------------------------------------------------------------

class _StopSignals:
    """Counts SIGINT/SIGTERM received by the parent while the ingest runs."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # handlers can only be set from the main thread; keep the defaults
            return
        previous = {sig: signal.signal(sig, self) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Workers are spawned (if need be) by submit(): they inherit this mask, so a Ctrl-C
    cannot kill one half-started; each unblocks the signals once its handlers are set."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


Pending = dict[Future, tuple[FileItem, str]]


class Ingest:
    def __init__(self, settings: Settings, actor: Actor, source_id: str, *, workers: int,
                 holder_id: str | None, licence_id: str | None, reporter: "Reporter") -> None:
        self.settings, self.actor, self.source_id = settings, actor, source_id
        self.workers, self.holder_id, self.licence_id = workers, holder_id, licence_id
        self.reporter = reporter
        self.signals = _StopSignals()
        self.stopping = self.aborting = self.broken = False
        # Content submitted and not finished yet -> later files with the same content.
        self.in_flight: dict[str, list[FileItem]] = {}

    def run(self, root: Path) -> Summary:
        from registry.core.db import standalone_session

        started = time.monotonic()
        summary = self.summary = Summary(root=root, source_id=self.source_id)
        with standalone_session(self.settings.effective_database_url) as session:
            check_target(session, self.source_id, self.holder_id, self.licence_id)
            try:
                files, unreadable = walk(root)
            except KeyboardInterrupt:  # nothing was registered yet
                self.signals.count += 1
                files, unreadable = [], []
            summary.total = len(files) + len(unreadable)
            summary.total_bytes = sum(f.size for f in files)
            with self.signals.installed(), self.reporter.running(summary):
                for outcome in unreadable:
                    self._finish(outcome)
                self._register_all(self._to_register(session, files))
        summary.interrupted = self.signals.count > 0
        summary.elapsed_s = time.monotonic() - started
        return summary

    def _to_register(self, session: Session,
                     files: list[FileItem]) -> Iterator[tuple[FileItem, str]]:
        """Hash a batch, skip what the source already holds, yield the rest."""
        for batch in batches(files):
            hashed = []
            for item in batch:
                if self.signals.count or self.broken:
                    return
                try:
                    hashed.append((item, sha256_file(item.path)))
                except OSError as exc:
                    self._finish(Outcome(item, FAILED, f"cannot read it: {exc.strerror or exc}"))
            present = present_in_source(session, self.source_id, {d for _, d in hashed})
            for item, digest in hashed:
                if digest in present:
                    self._finish(Outcome(item, SKIPPED))
                elif digest in self.in_flight:  # same content as a file being registered
                    self.in_flight[digest].append(item)
                else:
                    self.in_flight[digest] = []
                    yield item, digest

    def _register_all(self, todo: Iterator[tuple[FileItem, str]]) -> None:
        # Spawned, not forked: the parent holds an engine and runs threads (progress bar).
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker,
                                   initargs=(self.settings, self.actor, self.source_id,
                                             self.holder_id, self.licence_id))
        # One file running per worker plus one queued: the pool hands each to a worker at
        # once, so nothing waits in the pool where a broken pool could strand it.
        limit = self.workers + 1
        pending: Pending = {}
        try:
            for item, digest in todo:
                try:
                    with _signals_blocked():
                        pending[pool.submit(_register, item, digest)] = (item, digest)
                except BrokenProcessPool:
                    self._worker_died(item)
                    break
                while len(pending) >= limit:
                    self._collect(pending)
                if self.signals.count or self.broken:
                    break
            while pending:
                self._collect(pending)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, pending: Pending) -> None:
        done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
        for future in done:
            item, digest = pending.pop(future)
            twins = self.in_flight.pop(digest, [])
            try:
                outcome = future.result()
            except Aborted:
                continue  # rolled back: not processed
            except BrokenProcessPool:
                self._worker_died(item)
                continue
            except Exception as exc:  # e.g. a lost database connection: report it, go on
                outcome = Outcome(item, FAILED, f"{type(exc).__name__}: {_first_line(exc)}")
            self._finish(outcome)
            for twin in twins:
                self._finish(Outcome(twin, FAILED if outcome.status == FAILED else SKIPPED,
                                     outcome.detail, outcome.asset_id))
        if self.signals.count:
            self._stop(pending)

    def _stop(self, pending: Pending) -> None:
        for future in [f for f in pending if f.cancel()]:
            self.in_flight.pop(pending.pop(future)[1], None)
        if not self.stopping:
            self.stopping = True
            self.reporter.note(f"stopping: letting {len(pending)} running file(s) finish "
                               "(interrupt again to abandon them)")
        if self.signals.count > 1 and pending and not self.aborting:
            self.aborting = True
            self.reporter.note(f"abandoning {len(pending)} running file(s); they roll back")
            for worker in multiprocessing.active_children():  # the pool's processes
                os.kill(worker.pid, signal.SIGTERM)  # type: ignore[arg-type]

    def _worker_died(self, item: FileItem) -> None:
        self._finish(Outcome(item, FAILED, "a worker process died (out of memory?) while this "
                                           "or another file was being registered"))
        if not self.broken:
            self.broken = True
            self.reporter.note("a worker process died; stopping (run again to continue)")

    def _finish(self, outcome: Outcome) -> None:
        self.summary.add(outcome)
        self.reporter.advance(self.summary, outcome)


def ingest(root: Path, source_id: str, settings: Settings, actor: Actor, *, workers: int,
           holder_id: str | None = None, licence_id: str | None = None,
           progress: bool = True) -> Summary:
    """Register every file under ``root`` into the source; raises ``RegistryError`` when the
    source (or the holder or licence) cannot take new assets."""
    # a previous ingest killed mid-file left its staged copy behind
    LocalBlobStore(settings.effective_blob_dir).remove_orphans()
    reporter = Reporter(Console(stderr=True), bar=progress)
    return Ingest(settings, actor, source_id, workers=workers, holder_id=holder_id,
                  licence_id=licence_id, reporter=reporter).run(root)


# --- reporting -----------------------------------------------------------------------------

class _FilesPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:.1f} files/s", style="progress.data.speed")


class _Bytes(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{decimal(task.fields['bytes'])}/{decimal(task.fields['total_bytes'])}",
                    style="progress.download")


class Reporter:
    """A progress bar on a terminal, else (and with --no-progress) a line per LOG_EVERY files."""

    def __init__(self, console: Console, bar: bool) -> None:
        self.console = console
        self.bar = bar and console.is_terminal
        self.progress: Progress | None = None
        self.bytes = 0
        self.started = time.monotonic()

    @contextmanager
    def running(self, summary: Summary) -> Iterator[None]:
        self.started = time.monotonic()
        if not self.bar:
            yield
            return
        self.progress = Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(),
                                 _Bytes(), _FilesPerSecond(), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(),
                                 console=self.console, transient=True)
        self.task = self.progress.add_task("ingest", total=summary.total, bytes=0,
                                           total_bytes=summary.total_bytes)
        with self.progress:
            yield

    def advance(self, summary: Summary, outcome: Outcome) -> None:
        self.bytes += outcome.item.size
        if self.progress is not None:
            self.progress.update(self.task, advance=1, bytes=self.bytes)
        elif summary.done % LOG_EVERY == 0:
            rate = summary.done / max(time.monotonic() - self.started, 1e-9)
            self.console.print(
                f"{summary.done}/{summary.total} files, {decimal(self.bytes)}, {rate:.1f} files/s: "
                f"{summary.registered} registered, {summary.skipped} skipped, "
                f"{len(summary.failures)} failed", highlight=False, soft_wrap=True)

    def note(self, message: str) -> None:
        self.console.print(message, style="yellow", highlight=False, soft_wrap=True)


def print_summary(summary: Summary, console: Console) -> None:
    console.print(
        f"{summary.registered} registered, {summary.skipped} skipped (already present), "
        f"{len(summary.failures)} failed, in {summary.elapsed_s:.1f} s", highlight=False)
    if summary.not_processed:
        console.print(f"{'interrupted: ' if summary.interrupted else ''}{summary.not_processed} "
                      "file(s) not processed; run the same command again to finish",
                      style="yellow", highlight=False)
    if summary.failures:
        table = Table("file", "reason", title="failures", title_justify="left")
        for failure in summary.sorted_failures[:SHOWN_FAILURES]:
            table.add_row(Text(failure.item.name), Text(failure.detail or ""))
        console.print(table)
        if len(summary.failures) > SHOWN_FAILURES:
            console.print(f"... and {len(summary.failures) - SHOWN_FAILURES} more "
                          "(--json lists them all)")
