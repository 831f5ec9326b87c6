"""Scale benchmark of the reframe search (registry/fingerprints/reframe.py); Markdown table.

    .venv/bin/python scripts/bench_reframe.py [--sizes 1000 10000 100000 1000000]
        [--exhaustive-max 10000] [--real 2000]

A clip check whose frame hashes find no long span searches the registered clips'
keyframes (one a second: 100,000 keyframes are 28 hours of film, 1,000,000 are 280).
The registry here: the clip evaluation's two registered films (their 14 real keyframes)
plus bulk keyframes built as scripts/bench_matcher.py builds bulk images (300 ORB codes
drawn from the codes of ``--real`` synthetic pictures, bits flipped, fresh positions).

Queries: the evaluation split's reframed copies (one per family and film) and its reframed
never-registered clips (clip_evalset.reframe_queries), rendered once. Per size: the median
and p90 time of ``find_reframed`` per query (reading the query's looks and grey frames
included, the in-between looks only when the search takes them, as a check does), and the
median of the never-registered ones, with the engine's keyframe matcher (visual
words, shortlist) and, up to ``--exhaustive-max``, with the exhaustive one (every stored
ORB code searched: the naive baseline, linear in the keyframes); beside them the frame
hash check alone (``match_video``), whose cost the search adds to. One core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import faiss  # noqa: E402
import numpy as np  # noqa: E402

from registry.fingerprints.alignment import match_video  # noqa: E402
from registry.fingerprints.clip_query import ClipDescriptors  # noqa: E402
from registry.fingerprints.keyframes import keyframe_id  # noqa: E402
from registry.fingerprints.matching import Matcher, MemoryStore  # noqa: E402
from registry.fingerprints.reframe import find_reframed  # noqa: E402
from registry.fingerprints.video import fingerprint_video  # noqa: E402
from scripts import clip_evalset as ce  # noqa: E402
from scripts.bench_matcher import Bulk, BulkStore, real_fingerprints, rss, table  # noqa: E402

BULK_CLIP = 1_000  # bulk keyframes are numbered as keyframes of clips from here on


def _queries() -> list[tuple[ce.ClipQuery, bytes]]:
    picked, seen = [], set()
    for q in ce.reframe_queries("evaluation"):
        key = (q.family, q.clip if q.truth is None else q.truth)
        if key not in seen:
            seen.add(key)
            picked.append((q, ce.render(q)))
    return picked


def _real_keyframes(refs) -> dict:
    return {keyframe_id(work, k): fp.keyframes.fingerprint(k, int(fp.hashes[f]))
            for work, fp in refs.items() for k, f in enumerate(fp.keyframes.frames)}


def _bulk_ids(n: int) -> list[int]:
    per_clip = 1 << 13  # keyframes per bulk clip (2.3 hours)
    return [keyframe_id(BULK_CLIP + i // per_clip, i % per_clip) for i in range(n)]


def build(n: int, bulk: Bulk, real: dict, exhaustive: bool) -> tuple[Matcher, float, int]:
    before = rss()
    matcher = Matcher(exhaustive=True) if exhaustive else Matcher(BulkStore(real, bulk))
    matcher.add_many(list(real.items()))
    ids = _bulk_ids(max(0, n - len(real)))
    t0 = time.perf_counter()
    for start in range(0, len(ids), 5000):
        batch = ids[start:start + 5000]
        if exhaustive:
            matcher.add_many([(i, bulk.make(i)) for i in batch])
        else:
            prepared = [bulk.indexed(i) for i in batch]
            matcher.add_prepared(batch, [p for p, _ in prepared], [w for _, w in prepared])
    return matcher, time.perf_counter() - t0, rss() - before


def run(matcher: Matcher, queries, refs, grids) -> tuple[list[float], list[float], int, int]:
    """Search times of every query and of the never-registered ones, copies found, false
    matches."""
    times, unrelated, found, false = [], [], 0, 0
    for q, data in queries:
        fp = fingerprint_video(data, reference=False)
        t0 = time.perf_counter()  # reading the query's looks and grey frames included
        clip = ClipDescriptors(fp, path=data, max_duration_s=3600.0, max_pixels=8192 * 4320)
        matches = find_reframed(clip.reframe, matcher, lambda nos: {k: grids[k] for k in nos if k in grids},
                                complete=lambda clip=clip: clip.complete_reframe)
        times.append(time.perf_counter() - t0)
        if q.truth is None:
            unrelated.append(times[-1])
        top = matches[0].match.ref_asset_id if matches else None
        found += q.truth is not None and top == q.truth
        false += any(m.match.ref_asset_id != q.truth for m in matches)
    return times, unrelated, found, false


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--exhaustive-max", type=int, default=10_000)
    parser.add_argument("--real", type=int, default=2_000)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    refs = ce.reference_fingerprints()
    grids = ce.reference_grids(refs)
    real = _real_keyframes(refs)
    queries = _queries()
    positives = sum(q.truth is not None for q, _ in queries)
    index = ce.build_index(refs)
    hash_times = []
    for _, data in queries:
        fp = fingerprint_video(data, reference=False)
        t0 = time.perf_counter()
        match_video(fp, index)
        hash_times.append(time.perf_counter() - t0)
    bulk = Bulk(real_fingerprints(args.real), Matcher(MemoryStore()).vocabulary)
    rows = []
    for n in args.sizes:
        for exhaustive in (False, True):
            if exhaustive and n > args.exhaustive_max:
                continue
            matcher, seconds, grown = build(n, bulk, real, exhaustive)
            times, unrelated, found, false = run(matcher, queries, refs, grids)
            rows.append([f"{n:,}", "exhaustive (baseline)" if exhaustive else "engine",
                         f"{1000 * statistics.median(times):.0f}",
                         f"{1000 * float(np.percentile(times, 90)):.0f}",
                         f"{1000 * statistics.median(unrelated):.0f}" if unrelated else "-",
                         f"{found}/{positives}", f"{false}/{len(queries)}",
                         f"{seconds:.1f}", f"{grown / max(n, 1):.0f}"])
            print(rows[-1], file=sys.stderr, flush=True)
            del matcher
    print(f"{len(queries)} queries ({positives} reframed copies, {len(queries) - positives} reframed "
          f"never-registered clips), 2-3 s each. Frame-hash check alone (`match_video`, "
          f"what every clip check costs before the search): median "
          f"{1000 * statistics.median(hash_times):.1f} ms.\n")
    print(table(["keyframes", "keyframe matcher", "search p50 (ms)", "search p90 (ms)",
                 "never-registered p50 (ms)",
                 "copies found (right film)", "queries with a false match",
                 "build (s)", "RAM per keyframe (B)"], rows))


if __name__ == "__main__":
    main()
