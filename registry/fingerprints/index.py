"""Exact Hamming range search over millions of 64-bit frame hashes.

Why not a faiss index (scripts/bench_fingerprints.py; radius 8, one thread):

* ``IndexBinaryFlat`` is exact but scans everything: ~5.6 ms per single-frame
  lookup at 10 M codes, ~9 s for the 3,000 lookups of a 1,500-frame clip.
* ``IndexBinaryHash`` buckets on one b-bit prefix and probes prefixes within
  ``nflip`` bits: exact only with nflip >= radius, i.e. nearly every bucket
  (recall 0.958 with 20 bits, nflip 3).
* ``IndexBinaryMultiHash`` is multi-index hashing, but it dedupes candidates through
  a ``std::unordered_set`` and keeps ``unordered_map<key, vector<id>>`` buckets: in
  its exact setting (4 x 16 bits, nflip 2) a lookup is ~6x *slower* than the flat
  scan at 1 M codes (~90 ms vs ~5 ms at 10 M in an exploratory run), it needs >= 40
  bytes per code, and it cannot remove ids. With nflip 1 it is fast but misses
  neighbours at distance 8.
* ``IndexBinaryIVF`` is approximate by design (recall 0.94 at nprobe 32 of 1024).

So this module implements multi-index hashing (Norouzi et al., "Fast exact search in
Hamming space with multi-index hashing") over flat numpy arrays: the 64 bits are cut
into m substrings of ~log2(n) bits; by the pigeonhole principle a code within
distance r of the query has some substring within r // m of the query's substring,
so probing those substring buckets and verifying the full distance is *exact*. Each
substring table is a counting sort: bucket offsets plus the codes copied in bucket
order, so a probe reads one contiguous run. Memory at 10 M codes is 47.4 bytes per
fingerprint (ids 8 + 3 tables x (code copy 8 + row 4) + bucket offsets); the codes
in insertion order are not kept, they are recovered from the first table when
needed. Small indexes pay more per code for the offsets (~57 B at 1 M, ~66 B at
100 k). A lookup at 10 M takes ~0.17 ms (p99 ~0.45 ms), exact results guaranteed.

Not thread-safe: serialise ``add``/``remove``/``rebuild`` against searches.

Updates: ``add`` appends to a small pending buffer that is scanned exhaustively and
merged (full rebuild, a few seconds at 10 M) once it passes ``merge_threshold``;
``remove`` tombstones ids (id -1) and ``rebuild`` compacts them away. The live index
uses ``SegmentedHashIndex`` (below): immutable indexes of geometric sizes, so that
loading stays O(n log n) and searches run beside adds.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from registry.fingerprints import segments as segment_files

FORMAT_VERSION = 1
DEFAULT_MERGE_THRESHOLD = 16_384
_PROBE_BUDGET = 2_000_000  # probe keys materialised at once (bounds temporary memory)
_TOMBSTONE = -1

try:
    _bitcount = np.bitwise_count
except AttributeError:  # numpy < 2.0
    _BYTE_POP = np.array([bin(i).count("1") for i in range(256)], np.uint8)

    def _bitcount(x: np.ndarray) -> np.ndarray:  # type: ignore[misc]  # the numpy 1.x fallback
        x = np.ascontiguousarray(x, dtype=np.uint64)
        return _BYTE_POP[x.view(np.uint8)].reshape(*x.shape, 8).sum(-1, dtype=np.uint8)


def popcount64(x: np.ndarray) -> np.ndarray:
    """Bit count of each uint64 (Hamming distance of XORed hashes)."""
    return _bitcount(np.asarray(x, dtype=np.uint64))


@lru_cache(maxsize=64)
def _flip_masks(bits: int, radius: int) -> np.ndarray:
    """All ``bits``-wide masks with at most ``radius`` set bits."""
    masks = [0]
    for k in range(1, min(radius, bits) + 1):
        masks.extend(sum(1 << i for i in c) for c in itertools.combinations(range(bits), k))
    return np.array(masks, dtype=np.int64)


def _n_masks(bits: int, radius: int) -> int:
    return sum(math.comb(bits, k) for k in range(min(radius, bits) + 1))


@dataclass
class _Table:
    """One substring table: rows grouped by the value of bits [shift, shift+bits)."""

    shift: int
    bits: int
    offsets: np.ndarray  # uint32 (2**bits + 1,) bucket starts
    rows: np.ndarray  # uint32 row numbers in bucket order
    codes: np.ndarray  # uint64 codes in bucket order (contiguous probes)

    def keys(self, codes: np.ndarray) -> np.ndarray:
        return ((codes >> np.uint64(self.shift)) & np.uint64((1 << self.bits) - 1)).astype(np.int64)


def _substring_widths(n: int) -> list[int]:
    # MIH is fastest with substrings of about log2(n) bits (one code per bucket).
    bits = max(8, min(32, int(math.log2(max(n, 2)))))
    m = max(2, math.ceil(64 / bits))
    base, extra = divmod(64, m)
    return [base + (1 if i >= m - extra else 0) for i in range(m)]


def _build_tables(codes: np.ndarray) -> list[_Table]:
    tables, shift = [], 0
    if len(codes) >= 2**32:
        raise ValueError("an index holds at most 2**32 - 1 fingerprints")
    row_type = np.uint32
    for bits in _substring_widths(len(codes)):
        t = _Table(shift, bits, np.empty(0), np.empty(0), np.empty(0))
        keys = t.keys(codes)
        # sorting (key << 32 | row) as one uint64 is ~2x faster than argsort(keys)
        packed = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(len(codes), dtype=np.uint64)
        packed.sort()
        order = (packed & np.uint64(0xFFFFFFFF)).astype(row_type)
        del packed
        counts = np.bincount(keys, minlength=1 << bits)
        offsets = np.zeros((1 << bits) + 1, dtype=row_type)
        np.cumsum(counts, out=offsets[1:])
        t.offsets, t.rows, t.codes = offsets, order, codes[order]
        tables.append(t)
        shift += bits
    return tables


def _table_radii(radius: int, m: int) -> list[int]:
    # Refined pigeonhole: with radius = m*s + a, the first a+1 tables need radius s and
    # the rest s-1 (a table with radius -1 is skipped): if every table missed, the
    # distance would be at least (a+1)(s+1) + (m-a-1)s = radius + 1.
    s, a = divmod(radius, m)
    return [s if i <= a else s - 1 for i in range(m)]


class FrameHashIndex:
    """Exact radius search over (id, uint64 hash) pairs; ids are non-negative int64.

    Ids are the caller's; ``frame_ids`` below packs (asset, frame time) into one so a
    hit needs no lookup. An id may carry several hashes; ``remove`` drops them all.
    """

    def __init__(self, *, merge_threshold: int = DEFAULT_MERGE_THRESHOLD) -> None:
        self.merge_threshold = merge_threshold
        self._ids = np.empty(0, np.int64)  # per row; the codes live in the tables
        self._tables: list[_Table] = []
        self._pending_codes = np.empty(0, np.uint64)
        self._pending_ids = np.empty(0, np.int64)
        self._dead = 0
        self.last_rebuild_s: float | None = None
        self.last_load_s: float | None = None

    # ------------------------------------------------------------------ updates

    @property
    def ntotal(self) -> int:
        """Live (not removed) fingerprints."""
        return len(self._ids) - self._dead + len(self._pending_codes)

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        hashes = np.asarray(hashes, dtype=np.uint64).ravel()
        if ids.shape != hashes.shape:
            raise ValueError("ids and hashes must have the same length")
        if len(ids) and ids.min() < 0:
            raise ValueError("ids must be non-negative")
        self._pending_codes = np.concatenate([self._pending_codes, hashes])
        self._pending_ids = np.concatenate([self._pending_ids, ids])
        if len(self._pending_codes) > self.merge_threshold:
            self.rebuild()

    def remove(self, ids: np.ndarray) -> int:
        """Drop every hash carrying one of ``ids``; returns how many were dropped."""
        ids = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        gone = np.isin(self._pending_ids, ids)
        removed = int(gone.sum())
        if removed:
            self._pending_codes = self._pending_codes[~gone]
            self._pending_ids = self._pending_ids[~gone]
        rows = _rows_with_ids(self._ids, ids)
        self._ids[rows] = _TOMBSTONE
        self._dead += len(rows)
        return removed + len(rows)

    def remove_id_range(self, lo: int, hi: int) -> int:
        """Drop every hash whose id is in [lo, hi) -- e.g. a whole asset, see frame_ids."""
        gone = (self._pending_ids >= lo) & (self._pending_ids < hi)
        removed = int(gone.sum())
        if removed:
            self._pending_codes = self._pending_codes[~gone]
            self._pending_ids = self._pending_ids[~gone]
        rows = np.flatnonzero((self._ids >= lo) & (self._ids < hi))
        self._ids[rows] = _TOMBSTONE
        self._dead += len(rows)
        return removed + len(rows)

    def rebuild(self) -> float:
        """Merge pending adds, drop tombstones and rebuild the tables; returns seconds."""
        t0 = time.perf_counter()
        live = self._ids != _TOMBSTONE
        codes = np.concatenate([self._row_codes()[live], self._pending_codes])
        ids = np.concatenate([self._ids[live], self._pending_ids])
        self._tables = []  # free the old tables before building the new ones
        self._tables = _build_tables(codes)
        self._ids, self._dead = ids, 0
        self._pending_codes = np.empty(0, np.uint64)
        self._pending_ids = np.empty(0, np.int64)
        self.last_rebuild_s = time.perf_counter() - t0
        return self.last_rebuild_s

    # ------------------------------------------------------------------ search

    def range_search(self, hashes: np.ndarray, radius: int) -> list[list[tuple[int, int]]]:
        """For each query hash, every ``(id, distance)`` with distance <= radius,
        sorted by distance then id. Exact: identical to an exhaustive scan."""
        lims, ids, dists = self.range_search_arrays(hashes, radius)
        return [list(zip(ids[a:b].tolist(), dists[a:b].tolist()))
                for a, b in zip(lims[:-1], lims[1:])]

    def range_search_arrays(self, hashes: np.ndarray, radius: int):
        """faiss-style result: query i owns ``ids[lims[i]:lims[i+1]]`` and ``dists``."""
        q = np.asarray(hashes, dtype=np.uint64).ravel()
        radius = int(radius)
        if radius < 0:
            raise ValueError("radius must be >= 0")
        parts = [self._search_main(q, radius), self._search_pending(q, radius)]
        qi = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        ds = np.concatenate([p[2] for p in parts])
        order = np.lexsort((ids, ds, qi))
        qi, ids, ds = qi[order], ids[order], ds[order]
        lims = np.searchsorted(qi, np.arange(len(q) + 1)).astype(np.int64)
        return lims, ids, ds.astype(np.int32)

    def _search_main(self, q: np.ndarray, radius: int):
        n = len(self._ids)
        if n == 0 or not len(q):
            return _empty_hits()
        radii = _table_radii(radius, len(self._tables))
        probes = sum(_n_masks(t.bits, r) for t, r in zip(self._tables, radii) if r >= 0)
        if probes * 4 > n:  # huge radius on a small index: scanning is cheaper
            t = self._tables[0]
            qi, pos, ds = _scan(q, t.codes, radius)
            rows = t.rows[pos].astype(np.int64)
        else:
            chunk = max(1, _PROBE_BUDGET // max(probes, 1))
            hits = [_probe(t, q[s:s + chunk], s, r, radius)
                    for s in range(0, len(q), chunk)
                    for t, r in zip(self._tables, radii) if r >= 0]
            qi = np.concatenate([h[0] for h in hits])
            rows = np.concatenate([h[1] for h in hits])
            ds = np.concatenate([h[2] for h in hits])
            # a code close in several substrings is found once per table
            _, first = np.unique(qi * n + rows, return_index=True)
            qi, rows, ds = qi[first], rows[first], ds[first]
        ids = self._ids[rows]
        live = ids != _TOMBSTONE
        return qi[live], ids[live], ds[live]

    def _search_pending(self, q: np.ndarray, radius: int):
        if not len(self._pending_codes) or not len(q):
            return _empty_hits()
        qi, rows, ds = _scan(q, self._pending_codes, radius)
        return qi, self._pending_ids[rows], ds

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """Write codes, ids and tables (so loading needs no rebuild). Pending adds are
        merged first; removed ids are kept as tombstones (compacting here would change an
        index readers may be searching). Written to a temporary name and renamed."""
        if len(self._pending_codes):
            self.rebuild()
        arrays = {"meta": np.array([FORMAT_VERSION, len(self._tables)], np.int64),
                  "codes": self._row_codes(), "ids": self._ids}
        for i, t in enumerate(self._tables):
            arrays[f"t{i}_geom"] = np.array([t.shift, t.bits], np.int64)
            arrays[f"t{i}_offsets"], arrays[f"t{i}_rows"] = t.offsets, t.rows
        path = os.fspath(path)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # no key is allow_pickle
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> FrameHashIndex:
        t0 = time.perf_counter()
        index = cls(**kwargs)
        with np.load(os.fspath(path), allow_pickle=False) as data:
            version, m = (int(v) for v in data["meta"])
            if version != FORMAT_VERSION:
                raise ValueError(f"unsupported index format version {version}")
            codes, index._ids = data["codes"], data["ids"]
            index._dead = int(np.count_nonzero(index._ids == _TOMBSTONE))
            for i in range(m):
                shift, bits = (int(v) for v in data[f"t{i}_geom"])
                rows = data[f"t{i}_rows"]
                # the code copy is derived, not stored: it would double the file size
                index._tables.append(_Table(shift, bits, data[f"t{i}_offsets"], rows,
                                            codes[rows]))
        index.last_load_s = time.perf_counter() - t0
        return index

    def _row_codes(self) -> np.ndarray:
        """Codes in row order, recovered from the first table (not kept twice)."""
        codes = np.empty(len(self._ids), np.uint64)
        if self._tables:
            codes[self._tables[0].rows] = self._tables[0].codes
        return codes

    def memory_bytes(self) -> int:
        arrays = [self._ids, self._pending_codes, self._pending_ids]
        arrays += [a for t in self._tables for a in (t.offsets, t.rows, t.codes)]
        return sum(a.nbytes for a in arrays)


# ----------------------------------------------------------------- id scheme
# A frame id packs the asset number and the frame time, so a hit needs no lookup table:
# id = asset_no << 32 | round(timestamp * 1000). Up to 2**31 assets, 49 days per asset.

_TS_BITS = 32


def frame_ids(asset_no: int, timestamps_s: np.ndarray) -> np.ndarray:
    if not 0 <= asset_no < 2**31:
        raise ValueError("asset_no must be in [0, 2**31)")
    ms = np.round(np.asarray(timestamps_s, dtype=np.float64) * 1000.0).astype(np.int64)
    if len(ms) and (ms.min() < 0 or ms.max() >= 2**_TS_BITS):
        raise ValueError("frame timestamps must be in [0, 49 days)")
    return (np.int64(asset_no) << np.int64(_TS_BITS)) | ms


def split_frame_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of frame_ids: (asset numbers, timestamps in seconds)."""
    ids = np.asarray(ids, dtype=np.int64)
    return ids >> np.int64(_TS_BITS), (ids & np.int64(2**_TS_BITS - 1)) / 1000.0


def asset_id_range(asset_no: int) -> tuple[int, int]:
    """The [lo, hi) id range of one asset, for FrameHashIndex.remove_id_range."""
    return asset_no << _TS_BITS, (asset_no + 1) << _TS_BITS


def _empty_hits():
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)


def _rows_with_ids(all_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if not len(ids) or not len(all_ids):
        return np.empty(0, np.int64)
    if len(ids) <= 32:  # a few linear scans beat sorting 10 M ids
        return np.flatnonzero(np.logical_or.reduce([all_ids == i for i in ids]))
    return np.flatnonzero(np.isin(all_ids, ids))


def _probe(t: _Table, q: np.ndarray, q_offset: int, table_radius: int, radius: int):
    """Hits of queries ``q`` found through table ``t``: (query number, row, distance)."""
    masks = _flip_masks(t.bits, table_radius)
    keys = (t.keys(q)[:, None] ^ masks[None, :]).ravel()
    starts = t.offsets[keys].astype(np.int64)
    counts = t.offsets[keys + 1].astype(np.int64) - starts
    nonempty = np.flatnonzero(counts)
    starts, counts = starts[nonempty], counts[nonempty]
    qnum = nonempty // len(masks)
    # expand each bucket [start, start+count) into candidate positions, vectorised
    total = int(counts.sum())
    first = np.cumsum(counts) - counts
    pos = np.arange(total, dtype=np.int64) + np.repeat(starts - first, counts)
    cq = np.repeat(qnum, counts)
    d = _bitcount(t.codes[pos] ^ q[cq])
    hit = np.flatnonzero(d <= radius)
    return cq[hit] + q_offset, t.rows[pos[hit]].astype(np.int64), d[hit].astype(np.int64)


def _scan(q: np.ndarray, codes: np.ndarray, radius: int):
    """Exhaustive search, chunked so the distance matrix stays small."""
    out = []
    step = max(1, 4_000_000 // max(len(codes), 1))
    for s in range(0, len(q), step):
        d = _bitcount(q[s:s + step, None] ^ codes[None, :])
        qi, rows = np.nonzero(d <= radius)
        out.append((qi + s, rows, d[qi, rows].astype(np.int64)))
    if not out:
        return _empty_hits()
    return tuple(np.concatenate([o[i] for o in out]).astype(np.int64) for i in range(3))


# ----------------------------------------------------------------- segments


class SegmentedHashIndex:
    """``FrameHashIndex`` segments behind one interface: a log-structured merge.

    Each ``add`` builds a new, immutable segment and merges it with older neighbours
    of similar size, so building from n hashes costs O(n log n) whatever the batch size
    (one index with a pending buffer rebuilds everything at every merge: quadratic).
    Searches read the tuple of segments current when they start and never wait for an
    add; ``remove`` only tombstones ids in place, which a reader sees or not, harmlessly.
    Saved as one file per segment: segments never change, so a save writes new ones only.
    """

    def __init__(self) -> None:
        self._segments: tuple[FrameHashIndex, ...] = ()
        self._names: tuple[str, ...] = ()
        self._write = threading.Lock()

    @property
    def ntotal(self) -> int:
        return sum(s.ntotal for s in self._segments)

    def _segment(self, ids: np.ndarray, hashes: np.ndarray) -> FrameHashIndex:
        segment = FrameHashIndex(merge_threshold=len(ids) + 1)
        segment.add(ids, hashes)
        segment.rebuild()
        return segment

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if not len(ids):
            return
        segment = self._segment(ids, hashes)
        with self._write:
            segments, names = list(self._segments), list(self._names)
            segments.append(segment)
            names.append(segment_files.new_name())
            while len(segments) > 1 and segments[-2].ntotal <= 2 * segments[-1].ntotal:
                newer, older = segments.pop(), segments.pop()
                names[-2:] = [segment_files.new_name()]
                segments.append(self._segment(*_live_entries([older, newer])))
            self._segments, self._names = tuple(segments), tuple(names)

    def remove_id_range(self, lo: int, hi: int) -> int:
        return sum(s.remove_id_range(lo, hi) for s in self._segments)

    def range_search(self, hashes: np.ndarray, radius: int) -> list[list[tuple[int, int]]]:
        lims, ids, dists = self.range_search_arrays(hashes, radius)
        return [list(zip(ids[a:b].tolist(), dists[a:b].tolist()))
                for a, b in zip(lims[:-1], lims[1:])]

    def range_search_arrays(self, hashes: np.ndarray, radius: int):
        """As ``FrameHashIndex.range_search_arrays``, over every segment."""
        q = np.asarray(hashes, dtype=np.uint64).ravel()
        segments = self._segments
        if len(segments) == 1:
            return segments[0].range_search_arrays(q, radius)
        parts = [s.range_search_arrays(q, radius) for s in segments]
        qi = np.concatenate([np.repeat(np.arange(len(q)), np.diff(p[0])) for p in parts]
                            or [np.empty(0, np.int64)])
        ids = np.concatenate([p[1] for p in parts] or [np.empty(0, np.int64)])
        ds = np.concatenate([p[2] for p in parts] or [np.empty(0, np.int32)])
        order = np.lexsort((ids, ds, qi))
        qi, ids, ds = qi[order], ids[order], ds[order]
        lims = np.searchsorted(qi, np.arange(len(q) + 1)).astype(np.int64)
        return lims, ids, ds.astype(np.int32)

    def memory_bytes(self) -> int:
        return sum(s.memory_bytes() for s in self._segments)

    # -- persistence -------------------------------------------------------------
    def save(self, directory: Path) -> list[str]:
        """Write the segments not on disk yet; returns the names a state file must list."""
        with self._write:
            named = list(zip(self._names, self._segments, strict=True))
        return segment_files.write_new(directory, named, lambda s, path: s.save(path),
                                       lambda s: bool(s._dead))  # noqa: SLF001 (tombstones)

    @classmethod
    def load(cls, directory: Path, names: list[str]) -> SegmentedHashIndex:
        index = cls()
        index._segments = tuple(FrameHashIndex.load(directory / f"{n}.npz") for n in names)
        index._names = tuple(names)
        return index


def _live_entries(segments: list[FrameHashIndex]) -> tuple[np.ndarray, np.ndarray]:
    ids, codes = [], []
    for s in segments:
        live = s._ids != _TOMBSTONE  # noqa: SLF001
        ids.append(s._ids[live])  # noqa: SLF001
        codes.append(s._row_codes()[live])  # noqa: SLF001
    return np.concatenate(ids), np.concatenate(codes)
