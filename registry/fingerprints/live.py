"""The process's fingerprint indexes: a cache of the database, never the truth.

Each API process keeps one ``LiveIndex``. It is loaded from a snapshot in the data
directory at start-up, caught up from the database before every query, and can be rebuilt
from scratch with ``registry index rebuild``. Retired assets are filtered against the
database at query time, so they stop matching at once in every replica.

Catch-up reads by sequence: fingerprint sets are numbered (``no``) in insertion order,
but transactions commit in another order, so a number below the highest one seen may
still appear. Such *gaps* are re-asked for by number until they are older than
``CATCH_UP_MARGIN`` (then their transaction rolled back). Each catch-up is one indexed
query for ``no > high OR no IN (gaps)``: its cost follows what changed, not the registry.

Searches never take the lock: the indexes publish immutable segments (see
``SegmentedHashIndex`` and ``InvertedFile``). Catch-up, saving and rebuilding serialise
on ``lock``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select

from registry.fingerprints.alignment import reference_entries
from registry.fingerprints.image import ImageFingerprint
from registry.fingerprints.index import SegmentedHashIndex
from registry.fingerprints.keyframes import keyframe_id, split_keyframe_id
from registry.fingerprints.matching import Matcher
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.records import load_clip_frames, load_image_fingerprint
from registry.fingerprints.segments import prune

log = logging.getLogger("registry.index")

CATCH_UP_MARGIN_S = 120.0  # longer than any transaction that writes fingerprints
# Holes are tracked among the newest GAP_WINDOW numbers of what a catch-up finds: a
# transaction still open holds a recent number; older holes are rollbacks.
GAP_WINDOW = 10_000
_BATCH = 500
_MAX_GAPS_PER_QUERY = 900  # below SQLite's bound-parameter limit
SNAPSHOT_FORMAT = 3  # 3: the keyframe matcher's indexes
_CACHED_FINGERPRINTS = 4096


class DatabaseStore:
    """Image descriptors read from the database for verification, with a bounded cache:
    the matcher keeps none of them in RAM for good."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._cache: OrderedDict[int, ImageFingerprint] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, work_ids: list[int]) -> dict[int, ImageFingerprint]:
        found, missing = {}, []
        with self._lock:
            for no in work_ids:
                if no in self._cache:
                    self._cache.move_to_end(no)
                    found[no] = self._cache[no]
                else:
                    missing.append(no)
        if missing:
            with Session(self.engine) as session:
                rows = session.exec(select(FingerprintSet).where(
                    FingerprintSet.no.in_(missing), FingerprintSet.kind == "image")).all()
                loaded = {row.no: load_image_fingerprint(row) for row in rows}
            with self._lock:
                for no, fp in loaded.items():
                    self._cache[no] = fp
                while len(self._cache) > _CACHED_FINGERPRINTS:
                    self._cache.popitem(last=False)
            found.update(loaded)
        return found


class KeyframeStore:
    """Keyframe descriptors (keyframes.py) read from the clips' rows, with a bounded cache."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._cache: OrderedDict[int, ImageFingerprint] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, work_ids: list[int]) -> dict[int, ImageFingerprint]:
        with self._lock:
            found = {i: self._cache[i] for i in work_ids if i in self._cache}
            for i in found:
                self._cache.move_to_end(i)
        clips = sorted({split_keyframe_id(i)[0] for i in work_ids if i not in found})
        if clips:
            with Session(self.engine) as session:
                rows = session.exec(select(FingerprintSet).where(
                    FingerprintSet.no.in_(clips), FingerprintSet.kind == "video")).all()
                loaded = dict(item for row in rows for item in keyframe_items(row))
            found.update((i, loaded[i]) for i in work_ids if i in loaded)
            with self._lock:
                self._cache.update(loaded)
                while len(self._cache) > _CACHED_FINGERPRINTS:
                    self._cache.popitem(last=False)
        return found


def keyframe_items(record: FingerprintSet) -> list[tuple[int, ImageFingerprint]]:
    """A clip row's keyframes as (matcher id, still fingerprint); none for old rows."""
    clip = load_clip_frames(record)
    if clip.keyframes is None:
        return []
    kf = clip.keyframes
    return [(keyframe_id(record.no, k), kf.fingerprint(k, int(clip.hashes[kf.frames[k]])))
            for k in range(len(kf))]


class LiveIndex:
    def __init__(self, directory: Path, engine: sa.Engine) -> None:
        self.directory = directory
        self.lock = threading.RLock()
        self.images = Matcher(DatabaseStore(engine), windows=True)
        self.frames = SegmentedHashIndex()
        self.keyframes = Matcher(KeyframeStore(engine))  # reframed copies of clips
        self.known: set[int] = set()
        self.high = 0  # highest fingerprint-set number loaded
        self.gaps: dict[int, float] = {}  # missing number -> wall time first missed
        self.last_catch_up_s: float | None = None
        self.last_catch_up_count = 0
        self.loaded_from_snapshot = 0  # fingerprint sets the snapshot covered at start

    # -- building --------------------------------------------------------------------
    def _add_batch(self, records: list[FingerprintSet]) -> None:
        images = [(r.no, load_image_fingerprint(r)) for r in records
                  if r.kind == "image" and r.no not in self.known]
        self.images.add_many(images)
        frame_ids, frame_codes, keyframes = [], [], []
        for record in records:
            if record.kind != "image" and record.no not in self.known:
                clip = load_clip_frames(record)
                ids, codes = reference_entries(record.no, clip.timestamps, clip.hashes,
                                               clip.informative, clip.variant_hashes)
                frame_ids.append(ids)
                frame_codes.append(codes)
                keyframes += keyframe_items(record)
        self.keyframes.add_many(keyframes)
        if frame_ids:
            self.frames.add(np.concatenate(frame_ids), np.concatenate(frame_codes))
        self.known.update(r.no for r in records)

    def _records(self, session: Session, nos: list[int]) -> Iterator[list[FingerprintSet]]:
        for start in range(0, len(nos), _BATCH):
            yield list(session.exec(select(FingerprintSet).where(
                FingerprintSet.no.in_(nos[start:start + _BATCH]))).all())
            session.expunge_all()

    def catch_up(self, session: Session, progress: Callable[[int, int], None] | None = None) -> int:
        """Load fingerprint sets the database has and this process has not; returns how
        many. One indexed query when nothing changed."""
        t0 = time.perf_counter()
        now = time.time()
        self.gaps = {no: seen for no, seen in self.gaps.items() if now - seen < CATCH_UP_MARGIN_S}
        wanted = FingerprintSet.no > self.high
        gaps = sorted(self.gaps)
        if gaps and len(gaps) <= _MAX_GAPS_PER_QUERY:
            wanted = sa.or_(wanted, FingerprintSet.no.in_(gaps))
        elif gaps:
            wanted = FingerprintSet.no >= gaps[0]
        nos = [no for no in session.exec(select(FingerprintSet.no).where(wanted)
                                         .order_by(FingerprintSet.no)).all()
               if no not in self.known]
        done = 0
        for batch in self._records(session, nos):
            self._add_batch(batch)
            done += len(batch)
            if progress:
                progress(done, len(nos))
        if nos:
            top = max(nos)
            for no in range(max(self.high + 1, top - GAP_WINDOW), top):
                if no not in self.known:
                    self.gaps[no] = now
            self.high = max(self.high, top)
        for no in nos:
            self.gaps.pop(no, None)
        self.last_catch_up_s = time.perf_counter() - t0
        self.last_catch_up_count = len(nos)
        return len(nos)

    def caught_up(self, session: Session) -> LiveIndex:
        """This index with every committed fingerprint loaded, so that assets registered by
        any replica are matchable at once; for request handlers that match."""
        with self.lock:
            self.catch_up(session)
        return self

    @staticmethod
    def asset_ids(session: Session, nos: set[int]) -> dict[int, str]:
        """The asset behind each index number (the index itself keeps numbers only)."""
        rows = session.exec(select(FingerprintSet.no, FingerprintSet.asset_id).where(
            FingerprintSet.no.in_(sorted(nos)))).all() if nos else []
        return dict(rows)

    # -- persistence -----------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.directory / "state.json"

    def save(self) -> None:
        """Write a snapshot: new segment files, then the state that lists them (atomic
        rename), then drop files no state lists. Segments never change once written, so
        a save costs what was added since the last one."""
        with self.lock:
            parts = {"phash": (self.images.phash_index, self.directory / "phash"),
                     "words": (self.images.words, self.directory / "words"),
                     "frames": (self.frames, self.directory / "frames"),
                     "keyframe_phash": (self.keyframes.phash_index,
                                        self.directory / "keyframe_phash"),
                     "keyframe_words": (self.keyframes.words, self.directory / "keyframe_words")}
            names = {key: index.save(folder) for key, (index, folder) in parts.items()}
            known = self.directory / "known.npy"
            tmp_known = self.directory / "known.tmp.npy"
            np.save(tmp_known, np.fromiter(self.known, np.int64, len(self.known)))
            tmp_known.replace(known)
            state = {"format": SNAPSHOT_FORMAT, "high": self.high,
                     "gaps": {str(no): seen for no, seen in self.gaps.items()},
                     "image_count": self.images._count,  # noqa: SLF001
                     "keyframe_count": self.keyframes._count,  # noqa: SLF001
                     "segments": names}
            tmp = self._state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self._state_file)
            for key, (_, folder) in parts.items():
                prune(folder, names[key])

    def _load_snapshot(self) -> bool:
        if not self._state_file.exists():
            return False
        try:
            state = json.loads(self._state_file.read_text())
            if state.get("format") != SNAPSHOT_FORMAT:
                raise ValueError(f"snapshot format {state.get('format')}")
            names = state["segments"]
            self.images.phash_index = SegmentedHashIndex.load(self.directory / "phash", names["phash"])
            self.images.words.load(self.directory / "words", names["words"])
            self.images._count = int(state["image_count"])  # noqa: SLF001
            self.keyframes.phash_index = SegmentedHashIndex.load(
                self.directory / "keyframe_phash", names["keyframe_phash"])
            self.keyframes.words.load(self.directory / "keyframe_words", names["keyframe_words"])
            self.keyframes._count = int(state["keyframe_count"])  # noqa: SLF001
            self.frames = SegmentedHashIndex.load(self.directory / "frames", names["frames"])
            self.known = set(np.load(self.directory / "known.npy").tolist())
            self.high = int(state["high"])
            self.gaps = {int(no): float(seen) for no, seen in state["gaps"].items()}
            self.loaded_from_snapshot = len(self.known)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("index snapshot unusable (%s); rebuilding from the database", exc)
            return False
        return True

    @classmethod
    def open(cls, directory: Path, session: Session) -> LiveIndex:
        """Load the snapshot (if any) and catch up from the database."""
        engine = session.get_bind()
        index = cls(directory, engine)
        if not index._load_snapshot():
            index = cls(directory, engine)
        index.catch_up(session)
        return index

    @classmethod
    def rebuild(cls, directory: Path, session: Session,
                progress: Callable[[int, int], None] | None = None,
                save_every: int = 50_000) -> LiveIndex:
        """Build from the database alone, saving as it goes: an interrupted rebuild is
        resumed by ``open`` (which keeps what was saved and loads the rest)."""
        index = cls(directory, session.get_bind())
        saved = 0

        def step(done: int, total: int) -> None:
            nonlocal saved
            if progress:
                progress(done, total)
            if done - saved >= save_every:
                index.save()
                saved = done

        index.catch_up(session, step)
        index.save()
        return index
