"""Content-addressed blob storage.

A small interface so that an object store can replace the local directory later; the
registry only ever needs put-by-digest, open, exists and, for a look-up's file, a cancelled
or failed job's or a failed upload's, discard -- which must not take a blob from under a
concurrent upload of the same content that found it stored already (``hold``,
``discard_unless``).
"""

import fcntl
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

STAGED_PREFIX = "upload-"
ORPHAN_MIN_AGE_S = 60.0


class BlobStore(Protocol):
    def staging_file(self) -> AbstractContextManager[Path]: ...
    def hold(self, sha256: str) -> AbstractContextManager[Path]: ...
    def put(self, staged: Path, sha256: str) -> bool: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def discard_unless(self, sha256: str, cited: Callable[[], bool], mine: Path | None = None) -> bool: ...


class LocalBlobStore:
    """Blobs live at ``root/sha256/ab/cd/<digest>``; writes are staged then renamed atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._staging.mkdir(parents=True, exist_ok=True)
        self._holds = root / ".holds"
        self._holds.mkdir(parents=True, exist_ok=True)
        self._aside = root / ".discarding"  # blobs being discarded (discard_unless)
        self._aside.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("blob key must be a lowercase hex SHA-256 digest")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    @contextmanager
    def staging_file(self) -> Iterator[Path]:
        """A temp file on the same filesystem as the store, removed unless it was put()."""
        with _locked_file(self._staging, STAGED_PREFIX) as path:
            yield path

    @contextmanager
    def hold(self, sha256: str) -> Iterator[Path]:
        """Marks an upload that relies on the blob ``sha256`` from before its ``put`` until
        the record citing the blob is committed: ``discard_unless`` keeps a held blob.
        Yields the mark (``discard_unless(mine=...)`` disregards the caller's own)."""
        self._path(sha256)  # a valid digest
        with _locked_file(self._holds, f"{sha256}.") as mark:
            yield mark

    def put(self, staged: Path, sha256: str) -> bool:
        """Move a staged file into place; returns False when the content was already stored."""
        target = self._path(sha256)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return True

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def path(self, sha256: str) -> Path:
        return self._path(sha256)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def discard_unless(self, sha256: str, cited: Callable[[], bool], mine: Path | None = None) -> bool:
        """Remove the blob unless an upload holds it or ``cited()`` -- asked once the blob
        is set aside -- finds a committed record citing it; returns whether the copy set
        aside went (an upload may have stored the content anew meanwhile).

        The caller has found the blob uncited already; what is decided here is the race
        with an upload of the same content. An upload holds before it looks for the blob
        and lets go after its record is committed, so once the blob is set aside, either
        its hold or its record is seen here (and the blob is put back), or it looks after
        the blob was set aside, finds none and stores its own copy."""
        target = self._path(sha256)
        aside = self._aside / f"{sha256}.{uuid.uuid4().hex}"
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            return False
        held = any(mark != mine for mark in self._holds.glob(f"{sha256}.*"))
        if held or cited():
            os.replace(aside, target)  # the same bytes, should an upload have stored them again
            return False
        aside.unlink(missing_ok=True)  # (or put back by a restart's remove_orphans meanwhile)
        return True

    def remove_orphans(self, min_age_s: float = ORPHAN_MIN_AGE_S) -> int:
        """Remove staged uploads and holds left by a killed process (at start-up), and put
        back a blob it was discarding (it may have been cited: keeping a file is the safe
        side); returns how many.

        Only files no process holds locked, and not touched for ``min_age_s`` (a file is
        locked a moment after it is created): the uploads of other live processes sharing
        the data directory -- API replicas, a CLI ingest -- are left alone."""
        removed = 0
        for aside in self._aside.glob("*"):
            try:  # setting it aside (a rename) set its ctime: older is no live discard's
                if time.time() - aside.stat().st_ctime >= min_age_s:
                    target = self._path(aside.name.split(".")[0])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(aside, target)
                    removed += 1
            except FileNotFoundError:
                continue  # that discard finished meanwhile
            except ValueError:
                continue  # not a blob set aside (no digest in its name): not ours to move
        for path in [*self._staging.glob(f"{STAGED_PREFIX}*"), *self._holds.glob("*")]:
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue  # finished meanwhile
            try:
                if time.time() - os.fstat(fd).st_mtime < min_age_s:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live upload
                path.unlink(missing_ok=True)
                removed += 1
            finally:
                os.close(fd)
        return removed


@contextmanager
def _locked_file(directory: Path, prefix: str) -> Iterator[Path]:
    """A new file in ``directory``, removed afterwards, and locked for as long as it lives:
    the lock dies with the process, so remove_orphans tells a killed process's file from a
    live one's."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix)
    path = Path(name)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
