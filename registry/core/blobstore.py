"""Content-addressed blob storage.

A small interface so that an object store can replace the local directory later; the
registry only ever needs put-by-digest, open, exists and (for failed uploads) discard.
"""

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

STAGED_PREFIX = "upload-"
ORPHAN_MIN_AGE_S = 60.0


class BlobStore(Protocol):
    def staging_file(self) -> AbstractContextManager[Path]: ...
    def put(self, staged: Path, sha256: str) -> bool: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def discard(self, sha256: str) -> None: ...


class LocalBlobStore:
    """Blobs live at ``root/sha256/ab/cd/<digest>``; writes are staged then renamed atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._staging.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("blob key must be a lowercase hex SHA-256 digest")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    @contextmanager
    def staging_file(self) -> Iterator[Path]:
        """A temp file on the same filesystem as the store, removed unless it was put()."""
        fd, name = tempfile.mkstemp(dir=self._staging, prefix=STAGED_PREFIX)
        path = Path(name)
        try:
            # Locked for as long as the upload lives: the lock dies with the process, so
            # remove_orphans tells a killed process's file from a live upload's.
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield path
        finally:
            path.unlink(missing_ok=True)
            os.close(fd)

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

    def discard(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def remove_orphans(self, min_age_s: float = ORPHAN_MIN_AGE_S) -> int:
        """Remove staged uploads left by a killed process (at start-up); returns how many.

        Only files no process holds locked, and not touched for ``min_age_s`` (a file is
        locked a moment after it is created): the uploads of other live processes sharing
        the data directory -- API replicas, a CLI ingest -- are left alone."""
        removed = 0
        for path in self._staging.glob(f"{STAGED_PREFIX}*"):
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
