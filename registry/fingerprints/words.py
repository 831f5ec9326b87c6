"""ORB visual words: the shipped vocabulary and the inverted file over registered images.

Why words: comparing a query's ORB codes with every stored code costs time linear in the
registry (1.4 ms per registered image per check) and keeps 32 bytes per code in RAM. A
vocabulary maps each code to a word; the inverted file keeps, per word, the images that
contain it (4 bytes per posting), and a query reads only the postings of its own words.
Images sharing many rare words make the shortlist that the matcher then verifies
geometrically with their full descriptors, fetched from the database.

The vocabulary is a two-level tree trained once (scripts/train_vocabulary.py) on
synthetic pictures and shipped with the package, so every replica and every snapshot
agrees on what a word is. Word lookup is a faiss ``IndexBinaryIVF`` whose inverted lists
hold the leaf centroids under their coarse centroid.

The inverted file is a list of immutable segments (a log-structured merge): adding
writes a new small segment and merges neighbours of similar size, so building is
O(n log n) and readers never wait for writers: they take the tuple of segments that is
current when they start.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import faiss
import numpy as np

from registry.fingerprints import segments as segment_files

VOCABULARY_PATH = Path(__file__).parent / "data" / "orb_vocabulary.npz"
# Postings a query reads (rarest words first): a bound on query time whatever the
# registry's size. At 1 M images a query's ~950 words hold ~1.7 M postings; the first
# 100,000 still include enough of the words a true copy shares with it to shortlist it.
POSTINGS_BUDGET = 100_000  # chosen with matching.SHORTLIST (see there)
WORD_NPROBE = 1  # coarse cells searched per code (2 finds the nearest leaf more often, at 2.5x the cost)
_LOW32 = np.uint64(0xFFFFFFFF)
# Segments holding more postings than this per word on average are stored as CSR
# (4 bytes per posting + 4 per word); smaller ones as sorted (word, image) pairs.
_CSR_MIN_POSTINGS_PER_WORD = 4


class Vocabulary:
    def __init__(self, coarse: np.ndarray, leaves: np.ndarray) -> None:
        self._quantizer = faiss.IndexBinaryFlat(256)
        self._quantizer.add(np.ascontiguousarray(coarse))
        self._index = faiss.IndexBinaryIVF(self._quantizer, 256, len(coarse))
        self._index.is_trained = True
        self._index.add(np.ascontiguousarray(leaves))
        self._index.nprobe = WORD_NPROBE
        self.size = len(leaves)

    def words(self, codes: np.ndarray) -> np.ndarray:
        """The word (leaf number) of each ORB code, int64 (n,)."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, 32)
        if not len(codes):
            return np.empty(0, np.int64)
        _, ids = self._index.search(codes, 1)
        return ids.ravel()


@cache
def vocabulary(path: Path = VOCABULARY_PATH) -> Vocabulary:
    with np.load(path) as data:
        return Vocabulary(data["coarse"], data["leaves"])


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class _Segment:
    """Postings sorted by word: either ``offsets`` (CSR, one start per word) with
    ``images`` uint32, or ``pairs`` uint64 = word << 32 | image."""

    n_images: int
    n_postings: int
    offsets: np.ndarray | None
    images: np.ndarray | None
    pairs: np.ndarray | None

    @classmethod
    def build(cls, pairs: np.ndarray, n_images: int, n_words: int) -> _Segment:
        pairs = np.sort(pairs)
        if len(pairs) < _CSR_MIN_POSTINGS_PER_WORD * n_words:
            return cls(n_images, len(pairs), None, None, pairs)
        words = (pairs >> np.uint64(32)).astype(np.int64)
        offsets = np.zeros(n_words + 1, np.int64)
        np.cumsum(np.bincount(words, minlength=n_words), out=offsets[1:])
        return cls(n_images, len(pairs), offsets, (pairs & _LOW32).astype(np.uint32), None)

    def all_pairs(self) -> np.ndarray:
        if self.pairs is not None:
            return self.pairs
        assert self.offsets is not None and self.images is not None  # the CSR form
        words = np.repeat(np.arange(len(self.offsets) - 1, dtype=np.uint64), np.diff(self.offsets))
        return (words << np.uint64(32)) | self.images.astype(np.uint64)

    def ranges(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.offsets is not None:
            return self.offsets[words], self.offsets[words + 1]
        assert self.pairs is not None  # the sorted-pairs form
        keys = words.astype(np.uint64) << np.uint64(32)
        return (np.searchsorted(self.pairs, keys, "left"),
                np.searchsorted(self.pairs, keys + (_LOW32 + np.uint64(1)), "left"))

    def images_in(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The image numbers at positions [start, end) of each range, int64."""
        if not len(starts):
            return np.empty(0, np.int64)
        if self.images is not None:
            runs = zip(starts.tolist(), ends.tolist(), strict=True)
            return np.concatenate([self.images[a:b] for a, b in runs]).astype(np.int64)
        assert self.pairs is not None
        return (self.pairs[_positions(starts, ends)] & _LOW32).astype(np.int64)

    def save(self, path: Path) -> None:
        arrays = {"meta": np.array([self.n_images, self.n_postings], np.int64)}
        for key in ("offsets", "images", "pairs"):
            if getattr(self, key) is not None:
                arrays[key] = getattr(self, key)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # no key is allow_pickle

    @classmethod
    def load(cls, path: Path) -> _Segment:
        with np.load(path, allow_pickle=False) as data:
            n_images, n_postings = (int(v) for v in data["meta"])
            return cls(n_images, n_postings, *(data[k] if k in data else None
                                               for k in ("offsets", "images", "pairs")))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.offsets, self.images, self.pairs) if a is not None)


def _positions(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Every position covered by the ranges [start, end), range by range."""
    counts = ends - starts
    first = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - first, counts)


def _top_images(images: np.ndarray, scores: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` best-scored distinct images among ``images`` (postings, so an image
    repeats once per shared word). Ranking the postings' scores and de-duplicating the
    best of them is exact as soon as they hold ``limit`` distinct images: every image
    left out scores at most the lowest one taken (ties there may go either way). It spares
    a pass over all images."""
    at = scores[images]
    take = limit * 8
    while True:
        if take >= len(images):
            return np.unique(images)
        best = np.unique(images[np.argpartition(-at, take)[:take]])
        if len(best) >= limit:
            return best
        take *= 4


class InvertedFile:
    """Image numbers (< 2**32) per visual word, scored by shared rare words (tf-idf)."""

    def __init__(self, n_words: int) -> None:
        self.n_words = n_words
        self._segments: tuple[_Segment, ...] = ()
        self._names: tuple[str, ...] = ()
        self._write = threading.Lock()

    @property
    def n_images(self) -> int:
        return sum(s.n_images for s in self._segments)

    @property
    def segments(self) -> tuple[_Segment, ...]:
        return self._segments

    def add(self, images: list[int], words: list[np.ndarray]) -> None:
        """Register images with their words (duplicates within an image count once)."""
        if not images:
            return
        parts = []
        for image, w in zip(images, words, strict=True):
            if not 0 <= image < 2**32:
                raise ValueError("image numbers must be in [0, 2**32)")
            w = np.unique(np.asarray(w, np.int64))
            parts.append((w.astype(np.uint64) << np.uint64(32)) | np.uint64(image))
        segment = _Segment.build(np.concatenate(parts), len(images), self.n_words)
        with self._write:
            segments = list(self._segments) + [segment]
            names = list(self._names) + [segment_files.new_name()]
            # Merge while the newest segment is at least half its older neighbour: sizes
            # stay geometric, so each posting is rewritten O(log n) times in all.
            while len(segments) > 1 and segments[-2].n_postings <= 2 * segments[-1].n_postings:
                newer, older = segments.pop(), segments.pop()
                segments.append(_Segment.build(
                    np.concatenate([older.all_pairs(), newer.all_pairs()]),
                    older.n_images + newer.n_images, self.n_words))
                names[-2:] = [segment_files.new_name()]
            self._segments, self._names = tuple(segments), tuple(names)

    def save(self, directory: Path) -> list[str]:
        """Write the segments not on disk yet; returns the names a state file must list."""
        with self._write:
            named = list(zip(self._names, self._segments, strict=True))
        return segment_files.write_new(directory, named, _Segment.save, lambda s: False)

    def load(self, directory: Path, names: list[str]) -> None:
        segments = tuple(_Segment.load(directory / f"{n}.npz") for n in names)
        with self._write:
            self._segments, self._names = segments, tuple(names)

    def shortlist(self, words: np.ndarray, limit: int,
                  budget: int = POSTINGS_BUDGET) -> list[tuple[int, float]]:
        """The ``limit`` images sharing the most idf-weighted words with ``words``,
        counting the query's rarest words only, up to ``budget`` postings in all."""
        segments = self._segments  # one consistent view, whatever writers do meanwhile
        n_images = sum(s.n_images for s in segments)
        words = np.unique(np.asarray(words, np.int64))
        if not len(words) or not n_images:
            return []
        ranges = [s.ranges(words) for s in segments]
        df = sum(end - start for start, end in ranges)
        # Common words carry little weight (low idf) but most of the postings: reading
        # them all made every query linear in the registry. Rarest first, then stop.
        order = np.argsort(df, kind="stable")
        chosen = order[np.cumsum(df[order]) <= budget]
        idf = np.log(n_images / np.maximum(df[chosen], 1))
        images, weights = [], []
        for segment, (start, end) in zip(segments, ranges, strict=True):
            start, end = start[chosen], end[chosen]
            images.append(segment.images_in(start, end))
            weights.append(np.repeat(idf, end - start))
        images_all = np.concatenate(images)
        if not len(images_all):
            return []
        scores = np.bincount(images_all, weights=np.concatenate(weights))
        top = _top_images(images_all, scores, limit)
        top = top[scores[top] > 0]  # sharing only words every image has is no evidence
        top = top[np.lexsort((top, -scores[top]))][:limit]
        return [(int(i), float(scores[i])) for i in top]

    def memory_bytes(self) -> int:
        return sum(s.nbytes() for s in self._segments)
