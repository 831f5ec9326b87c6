"""The process's fingerprint indexes: a cache of the database, never the truth.

Each API process keeps one ``LiveIndex``. It is loaded from the data directory at start-up
(the frame index is saved there), caught up from the database before every query (rows
created since the last catch-up, with a margin for transactions that committed late), and
can be rebuilt from scratch with ``registry index rebuild``. Retired assets are filtered
against the database at query time, so they stop matching at once in every replica.
"""

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from registry.fingerprints.alignment import reference_entries
from registry.fingerprints.index import FrameHashIndex
from registry.fingerprints.matching import Matcher
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.records import load_clip_frames, load_image_fingerprint

log = logging.getLogger("registry.index")

# Transactions commit in a different order than they take created_at timestamps; rows up
# to this much older than the newest one seen are re-checked on every catch-up.
CATCH_UP_MARGIN = timedelta(minutes=2)
_BATCH = 500
MERGE_THRESHOLD = 262_144


class LiveIndex:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.lock = threading.RLock()
        self.images = Matcher()
        # Each reference frame adds 12 codes (crop variants): merge pending adds less often.
        self.frames = FrameHashIndex(merge_threshold=MERGE_THRESHOLD)
        self.asset_of: dict[int, str] = {}
        self.synced_until: datetime | None = None

    # -- building --------------------------------------------------------------------
    def add(self, record: FingerprintSet) -> None:
        with self.lock:
            if record.no in self.asset_of:
                return
            assert record.no is not None
            if record.kind == "image":
                self.images.add(record.no, load_image_fingerprint(record))
            else:
                clip = load_clip_frames(record)
                self.frames.add(*reference_entries(record.no, clip.timestamps, clip.hashes,
                                                   clip.informative, clip.variant_hashes))
            self.asset_of[record.no] = record.asset_id
            if self.synced_until is None or record.created_at > self.synced_until:
                self.synced_until = record.created_at

    def _records(self, session: Session, nos: list[int]) -> Iterator[FingerprintSet]:
        for start in range(0, len(nos), _BATCH):
            yield from session.exec(select(FingerprintSet).where(
                FingerprintSet.no.in_(nos[start:start + _BATCH]))).all()
            session.expunge_all()

    def catch_up(self, session: Session, progress: Callable[[int, int], None] | None = None) -> int:
        """Load fingerprints the database has and this process has not; returns how many."""
        stmt = select(FingerprintSet.no)
        if self.synced_until is not None:
            stmt = stmt.where(FingerprintSet.created_at >= self.synced_until - CATCH_UP_MARGIN)
        missing = [no for no in session.exec(stmt.order_by(FingerprintSet.no)).all()
                   if no not in self.asset_of]
        for done, record in enumerate(self._records(session, missing), start=1):
            self.add(record)
            if progress:
                progress(done, len(missing))
        return len(missing)

    def caught_up(self, session: Session) -> "LiveIndex":
        """This index with every committed fingerprint loaded, so that assets registered by
        any replica are matchable at once; for request handlers that match."""
        with self.lock:
            self.catch_up(session)
        return self

    # -- persistence -----------------------------------------------------------------
    @property
    def _frames_file(self) -> Path:
        return self.directory / "frames.npz"

    @property
    def _state_file(self) -> Path:
        return self.directory / "state.json"

    def save(self) -> None:
        """Persist the frame index and what it covers (images reload from the database:
        their verification step needs the full descriptors in memory anyway)."""
        with self.lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.frames.save(self._frames_file)
            frame_nos = sorted(no for no, _ in self.asset_of.items() if no not in self._image_nos())
            state = {"synced_until": self.synced_until.isoformat() if self.synced_until else None,
                     "frames": {str(no): self.asset_of[no] for no in frame_nos}}
            tmp = self._state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self._state_file)

    def _image_nos(self) -> set[int]:
        return set(self.images._fingerprints)  # noqa: SLF001 (the matcher's registered works)

    @classmethod
    def open(cls, directory: Path, session: Session) -> "LiveIndex":
        """Reload the saved frame index, re-add images from the database, catch up."""
        index = cls(directory)
        if index._frames_file.exists() and index._state_file.exists():
            try:
                state = json.loads(index._state_file.read_text())
                index.frames = FrameHashIndex.load(index._frames_file, merge_threshold=MERGE_THRESHOLD)
                index.asset_of = {int(no): asset for no, asset in state["frames"].items()}
            except (OSError, ValueError, KeyError) as exc:
                log.warning("saved frame index unusable (%s); rebuilding from the database", exc)
                index = cls(directory)
        images = session.exec(select(FingerprintSet.no).where(FingerprintSet.kind == "image")).all()
        for record in index._records(session, list(images)):
            index.add(record)
        # The saved state may predate the catch-up margin: compare every row number once.
        index.synced_until = None
        index.catch_up(session)
        return index

    @classmethod
    def rebuild(cls, directory: Path, session: Session,
                progress: Callable[[int, int], None] | None = None,
                save_every: int = 2000) -> "LiveIndex":
        """Build from the database alone, saving as it goes: an interrupted rebuild is
        resumed by ``open`` (which keeps what was saved and loads the rest)."""
        index = cls(directory)

        def step(done: int, total: int) -> None:
            if progress:
                progress(done, total)
            if done % save_every == 0:
                index.save()

        index.catch_up(session, step)
        index.save()
        return index
