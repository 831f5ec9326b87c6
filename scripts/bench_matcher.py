"""Scale benchmark of the image matcher, the frame index and catch-up; Markdown tables.

    .venv/bin/python scripts/bench_matcher.py [--sizes 10000 100000 1000000]
        [--exhaustive-max 100000] [--frames 10000000] [--real 2000]
        [--compare NAME=VALUE[,NAME=VALUE] ...]

The registry: the evaluation set's 18 registered works (scripts/evalset.py),
plus the bulk. The bulk is built from ``--real`` real fingerprints of synthetic pictures
(scripts/synthetic_images.py, seeds 0..real-1): each bulk image takes 300 ORB codes drawn
from that pool with 0-12 of their bits flipped, fresh keypoint positions and angles, and
a random pHash. So codes (and their visual words) are distributed as real ORB codes are,
without near-duplicate clusters no real collection has at that density.

Queries: one evaluation-split draw per family of each registered work and of each
never-registered evaluation work (the eval's transforms), descriptors computed once.
Timings run on one core (faiss and OpenCV single-threaded); the exhaustive baseline (the
old path: every ORB code in one flat faiss index) is measured at every size up to
``--exhaustive-max`` and extrapolated linearly beyond it (it is linear: said in the
table). Memory is the process RSS growth while the matcher is built, per image.
``--compare`` times the engine with other ``matching.py`` settings as well (e.g.
``WINDOW_CANDIDATES=0``: no crop-window look), in the same process and index, each query
under every setting in turn, so that a change of a setting is measured in one machine state.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import faiss  # noqa: E402
import numpy as np  # noqa: E402

from registry.fingerprints import descriptors as descriptor_format  # noqa: E402
from registry.fingerprints import matching  # noqa: E402
from registry.fingerprints.image import (  # noqa: E402
    FINGERPRINT_VERSION,
    ImageFingerprint,
    fingerprint_image,
    load_image,
    query_descriptors,
)
from registry.fingerprints.index import FrameHashIndex, SegmentedHashIndex  # noqa: E402
from scripts import evalset, trial_settings  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "registry-bench-matcher"


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _real(seed: int) -> ImageFingerprint:
    from scripts.synthetic_images import synthetic_image

    cv2.setNumThreads(1)
    return fingerprint_image(synthetic_image(seed))


def real_fingerprints(n: int) -> list[ImageFingerprint]:
    path = CACHE / f"real-{n}-v{FINGERPRINT_VERSION}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        fps = list(pool.imap(_real, range(n), chunksize=16))
    CACHE.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(fps))
    return fps


class Bulk:
    """Bulk fingerprints, generated on demand from the real pool: image i is the same
    every time (its own seed), so the matcher's store can hand it out again."""

    def __init__(self, real: list[ImageFingerprint], vocabulary) -> None:
        self.pool = np.concatenate([fp.orb_codes() for fp in real])
        self.pool_words = vocabulary.words(self.pool)  # a flipped bit rarely moves a word
        # a real picture's thumbnail, so that a chance fit pays for its agreement check
        self.thumbnails = [fp.thumbnail for fp in real]

    def _draw(self, index: int):
        rng = np.random.default_rng(index)
        picks = rng.integers(0, len(self.pool), 300)
        phashes = (int(rng.integers(0, 2**63)) * 2 + 1, int(rng.integers(0, 2**63)))
        return rng, picks, phashes

    def indexed(self, index: int) -> tuple[tuple[int, int], np.ndarray]:
        """What the indexes need of image i: its pHashes and words."""
        _, picks, phashes = self._draw(index)
        return phashes, self.pool_words[picks]

    def make(self, index: int) -> ImageFingerprint:
        rng, picks, phashes = self._draw(index)
        codes = self.pool[picks].copy()
        # flip up to 12 random bits per code (a repeated position flips back: "up to")
        bits = rng.integers(0, 256, (300, 12))
        used = np.arange(12)[None, :] < rng.integers(0, 13, 300)[:, None]
        rows = np.repeat(np.arange(300), 12).reshape(300, 12)[used]
        np.bitwise_xor.at(codes, (rows, bits[used] // 8), (1 << (bits[used] % 8)).astype(np.uint8))
        xy = rng.integers(0, 512, (300, 2)).astype("<u2")
        return ImageFingerprint(phashes[0], phashes[1], codes.tobytes(), xy.tobytes(),
                                rng.integers(0, 256, 300, np.uint8).tobytes(), 640, 480,
                                thumbnail=self.thumbnails[index % len(self.thumbnails)])


class BulkStore:
    """The fingerprint store of the benchmark: the registered works in memory, the bulk
    regenerated on demand. Its time is kept apart (the app reads the database instead:
    measured separately)."""

    def __init__(self, refs: dict[int, ImageFingerprint], bulk: Bulk) -> None:
        self.refs, self.bulk, self.seconds = refs, bulk, 0.0

    def get(self, work_ids: list[int]) -> dict[int, ImageFingerprint]:
        t0 = time.perf_counter()
        out = {w: self.refs[w] if w in self.refs else self.bulk.make(w) for w in work_ids}
        self.seconds += time.perf_counter() - t0
        return out


def queries(split: str = "evaluation") -> tuple[list, dict[int, ImageFingerprint], dict[int, str]]:
    """One draw per family of each registered work and each never-registered work of
    ``split`` (the matcher's shortlist and postings budget were chosen on "calibration";
    the tables report "evaluation")."""
    # named after the descriptor format: a cache of another version's retry views would
    # be matched silently
    path = CACHE / f"queries-{split}-v{descriptor_format.VERSION}.pickle"
    works = evalset.load_works()
    registered = [w for w in works if w.role == "registered"]
    names = dict(enumerate(w.key for w in registered))
    refs = {i: fingerprint_image(w.image) for i, w in enumerate(registered)}
    if path.exists():
        return pickle.loads(path.read_bytes()), refs, names
    pool = registered + [w for w in works if w.pool == split]
    seed = evalset.EVALUATION_SEED if split == "evaluation" else evalset.CALIBRATION_SEED
    qs = [(q.truth, q.family, query_descriptors(load_image(q.data)).computed())
          for q in evalset.build_queries(pool, seed, draws=1, negative_draws=1)]
    CACHE.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(qs))
    return qs, refs, names


def build(n: int, bulk: Bulk, refs, exhaustive: bool):
    """A matcher holding the registered works and n - len(refs) bulk images; returns it
    with the seconds its adds took and the RSS it grew by."""
    gc.collect()
    before = rss()
    # The old path kept every fingerprint in RAM (a MemoryStore); the engine reads them
    # from the store (the database in the app).
    matcher = (matching.Matcher(exhaustive=True, windows=True) if exhaustive
               else matching.Matcher(BulkStore(refs, bulk), windows=True))
    matcher.add_many(list(refs.items()))
    seconds, batch = 0.0, 5000
    for start in range(len(refs), n, batch):
        ids = list(range(start, min(n, start + batch)))
        if exhaustive:
            items = [(i, bulk.make(i)) for i in ids]
            t0 = time.perf_counter()
            matcher.add_many(items)
        else:
            prepared = [bulk.indexed(i) for i in ids]
            t0 = time.perf_counter()
            matcher.add_prepared(ids, [p for p, _ in prepared], [w for _, w in prepared])
        seconds += time.perf_counter() - t0
    return matcher, seconds, rss() - before


def run_queries(matcher, qs, names, limit=None, arms=({},)):
    """(times, recall, FPR) of the queries under each arm's ``matching`` settings; the arms
    take turns query by query, so that every arm sees the same machine state."""
    runs = [([], [0, 0, 0, 0]) for _ in arms]  # times; hits, copies, false copies, negatives
    for truth, _family, descriptors in qs[:limit]:
        for arm, (times, counts) in zip(arms, runs, strict=True):
            shipped = {name: getattr(matching, name) for name in arm}
            for name, value in arm.items():
                setattr(matching, name, value)
            fetched = getattr(matcher.store, "seconds", 0.0)
            t0 = time.perf_counter()
            found = matcher.query(descriptors, k=5)
            times.append(time.perf_counter() - t0 - (getattr(matcher.store, "seconds", 0.0) - fetched))
            for name, value in shipped.items():
                setattr(matching, name, value)
            best = found[0] if found else None
            is_copy = best is not None and best.verdict == "copy"
            if truth is not None:
                counts[0] += is_copy and names.get(best.work_id) == truth
                counts[1] += 1
            else:
                counts[2] += is_copy
                counts[3] += 1
    return [(times, c[0] / max(c[1], 1), c[2] / max(c[3], 1)) for times, c in runs]


def pct(values, q):
    return float(np.percentile(np.array(values) * 1000, q))


def image_section(args) -> None:
    qs, refs, names = queries(args.split)
    if args.queries:
        qs = qs[::args.queries]
    real = real_fingerprints(args.real)
    bulk = Bulk(real, matching.Matcher().vocabulary)
    rows, flat_rows = [], {}
    for n in args.sizes:
        if n <= args.exhaustive_max:
            flat, _, grew = build(n, bulk, refs, exhaustive=True)
            limit = None if n <= args.exhaustive_recall_max else 3  # timing only beyond
            [(times, recall, fpr)] = run_queries(flat, qs, names, limit)
            flat_rows[n] = (statistics.median(times), recall if limit is None else None,
                            fpr if limit is None else None, grew / n)
            del flat
            gc.collect()
        matcher, build_s, grew = build(n, bulk, refs, exhaustive=False)
        add_rate = (n - len(refs)) / max(build_s, 1e-9)
        (times, recall, fpr), *compared = run_queries(matcher, qs, names, arms=({}, *args.compare))
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            names_p = matcher.phash_index.save(Path(tmp) / "phash")
            names_w = matcher.words.save(Path(tmp) / "words")
            save_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = matching.Matcher()
            again.phash_index = SegmentedHashIndex.load(Path(tmp) / "phash", names_p)
            again.words.load(Path(tmp) / "words", names_w)
            load_s = time.perf_counter() - t0
            del again
        if n in flat_rows:
            f_med, f_recall, f_fpr, f_mem = flat_rows[n]
            flat_note = "measured"
        else:
            top = max(flat_rows)
            f_med, f_mem = flat_rows[top][0] * n / top, flat_rows[top][3]
            f_recall = f_fpr = None
            flat_note = f"extrapolated from {top:,}"
        rows.append([f"{n:,}", f"{pct(times, 50):.0f} / {pct(times, 99):.0f}",
                     *(f"{pct(t, 50):.0f} / {pct(t, 99):.0f} ({r:.1%} / {f:.1%})"
                       for t, r, f in compared),
                     f"{f_med * 1000:,.0f} ({flat_note})",
                     f"{recall:.1%} / {fpr:.1%}",
                     f"{f_recall:.1%} / {f_fpr:.1%}" if f_recall is not None else "-",
                     f"{grew / n:,.0f}", f"{f_mem:,.0f}",
                     f"{add_rate:,.0f}", f"{save_s:.1f} / {load_s:.1f}"])
        print(f"  n={n:,} done", file=sys.stderr, flush=True)
        del matcher
        gc.collect()
    print(f"## Image matcher at scale ({len(qs)} queries, one core, merged-look shortlist "
          f"{matching.MERGED_SHORTLIST})\n")
    print(table(["registered images", "engine p50 / p99 ms",
                 *(f"with {', '.join(f'{k}={v}' for k, v in arm.items())}: p50 / p99 ms "
                   "(recall / FPR)" for arm in args.compare), "exhaustive p50 ms",
                 "engine recall / FPR", "exhaustive recall / FPR", "engine RAM B/image",
                 "exhaustive RAM B/image", "engine adds/s", "snapshot save / load s"], rows))


def frames_section(args) -> None:
    rng = np.random.default_rng(7)
    n = args.frames
    codes = rng.integers(0, 2**63, n, dtype=np.int64).view(np.uint64) * np.uint64(2) + np.uint64(1)
    ids = np.arange(n, dtype=np.int64)
    batch = 12 * 300  # one 5-minute clip at 1 fps with its crop variants per catch-up batch
    out = []
    for label, make in (("segmented (LSM)", SegmentedHashIndex),
                        ("one index, merge every 262,144", lambda: FrameHashIndex(merge_threshold=262_144))):
        index = make()
        t0 = time.perf_counter()
        stop = n if label.startswith("segmented") else min(n, args.frames_baseline)
        for start in range(0, stop, batch * 50):
            index.add(ids[start:start + batch * 50], codes[start:start + batch * 50])
        seconds = time.perf_counter() - t0
        q = codes[rng.integers(0, stop, 200)]
        t0 = time.perf_counter()
        for code in q:
            index.range_search_arrays(np.array([code]), 8)
        look = (time.perf_counter() - t0) / len(q) * 1000
        snapshot = "-"
        if isinstance(index, SegmentedHashIndex):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                names = index.save(Path(tmp))
                saved = time.perf_counter() - t0
                t0 = time.perf_counter()
                SegmentedHashIndex.load(Path(tmp), names)
                snapshot = f"{saved:.1f} / {time.perf_counter() - t0:.1f}"
        out.append([label, f"{stop:,}", f"{seconds:.0f}", f"{stop / seconds:,.0f}", f"{look:.2f}",
                    snapshot])
        del index
        gc.collect()
    print(f"\n## Frame index build ({n:,} frame hashes, batches of {batch * 50:,})\n")
    print(table(["index", "hashes", "build s", "hashes/s", "lookup ms", "save / load s"], out))


def _settings(text: str) -> dict:
    """"NAME=VALUE,..." as matching.py settings (trial_settings.parse each)."""
    return {name: value for _, name, value in
            (trial_settings.parse(item, (matching,)) for item in text.split(","))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--exhaustive-max", type=int, default=100_000)
    parser.add_argument("--exhaustive-recall-max", type=int, default=10_000,
                        help="beyond this size the exhaustive path is timed on 3 queries only")
    parser.add_argument("--queries", type=int, default=0, help="use every k-th query (0: all)")
    parser.add_argument("--split", choices=["evaluation", "calibration"], default="evaluation")
    parser.add_argument("--real", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=10_000_000)
    parser.add_argument("--frames-baseline", type=int, default=3_000_000)
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-frames", action="store_true")
    parser.add_argument("--merged-shortlist", type=int, default=matching.MERGED_SHORTLIST,
                        help="images the merged look shortlists")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=VALUE[,NAME=VALUE]",
                        help="also time every query with these matching.py settings, taking "
                             "turns with the shipped ones query by query (a column each)")
    args = parser.parse_args()
    args.compare = [_settings(arm) for arm in args.compare]
    matching.MERGED_SHORTLIST = args.merged_shortlist
    faiss.omp_set_num_threads(1)
    cv2.setNumThreads(1)
    if not args.skip_images:
        image_section(args)
    if not args.skip_frames:
        frames_section(args)


if __name__ == "__main__":
    main()
