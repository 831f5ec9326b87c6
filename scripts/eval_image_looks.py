"""Quick trial of the image engine's look settings on the hard families only.

    .venv/bin/python scripts/eval_image_looks.py [--reference-keypoints N] [--extra-retry-side S]

Runs the calibration and evaluation splits of ``eval_fingerprints.py`` restricted to the
reframe, picture-in-picture, crop and combination families (every never-registered query
kept), through the shortlist matcher only (no exhaustive column), and prints per split the
recall per family with matching.py's constants, the false positives, the most ORB inlier
cells on never-registered queries and the matching time. About 8 minutes on 2 cores instead
of the full evaluation's 50: for choosing what the full evaluation then measures (on the
calibration split's rows; the evaluation split's are only reported).

``--reference-keypoints`` changes how many ORB keypoints a registered picture keeps;
``--extra-retry-side`` adds a retry look at that long side, kept out of the merged look.
"""

import argparse
import multiprocessing
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from registry.fingerprints import image as fpimage  # noqa: E402
from registry.fingerprints import matching  # noqa: E402
from scripts import eval_fingerprints as ef  # noqa: E402
from scripts import evalset  # noqa: E402

FAMILIES = ("reframe", "reframe_combo", "pip", "pip_combo", "crop", "combo")


def _run(job):
    split, spec = job
    query = evalset.make_query(ef._WORKS[spec.source], spec)
    descriptors = fpimage.query_descriptors(fpimage.load_image(query.data)).computed()
    started = time.perf_counter()
    candidates = ef._MATCHER.query(descriptors, k=50)
    record = ef.Record(split, query.family, query.params, query.source, query.truth, query.role,
                       [(ef._NAMES[c.work_id], c.evidence) for c in candidates], (0, 0, 0), [], 0)
    return record, time.perf_counter() - started


def _init_worker():
    ef._single_thread()
    ef._MATCHER = ef._build_matcher(exhaustive=False)


def _jobs():
    works = list(ef._WORKS.values())
    registered = [w for w in works if w.role == "registered"]
    splits = (("calibration", [w for w in works if w.pool == "calibration"],
               evalset.CALIBRATION_SEED, ef.CALIBRATION_DRAWS),
              ("evaluation", [w for w in works if w.pool == "evaluation" or w.role == "twin"],
               evalset.EVALUATION_SEED, ef.EVALUATION_DRAWS))
    for split, others, seed, draws in splits:
        for spec in evalset.query_specs(registered + others, seed, draws, ef.NEGATIVE_DRAWS):
            if ef._WORKS[spec.source].role != "registered" or spec.family in FAMILIES:
                yield split, spec


def report(results) -> None:
    weights, copy_min = matching.SCORE_WEIGHTS, matching.COPY_MIN_SCORE
    for split in ("calibration", "evaluation"):
        rows = [(r, s) for r, s in results if r.split == split]
        print(f"\n## {split}\n")
        for family in FAMILIES:
            found = []
            for r, _ in rows:
                if r.truth and r.family == family:
                    best, value = ef.top(r, matching.ALL_CHANNELS, weights)
                    found.append(best == r.truth and value >= copy_min)
                    if not found[-1]:
                        own = dict(r.candidates).get(r.truth)
                        print(f"- miss {r.source} {r.params}: {own.orb_cells() if own else 0} cells")
            print(f"{family}: {sum(found)}/{len(found)}")
        negatives = [r for r, _ in rows if r.role == "negative"]
        false = sum(ef.top(r, matching.ALL_CHANNELS, weights)[1] >= copy_min for r in negatives)
        cells = [max((e.orb_cells() for _, e in r.candidates), default=0) for r in negatives]
        ms = np.array([s for _, s in rows]) * 1000
        print(f"never-registered: {false}/{len(negatives)} false copies; most inlier cells "
              f"{max(cells)}, {sum(c >= 8 for c in cells)} with 8 or more; matching p50 "
              f"{np.percentile(ms, 50):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-keypoints", type=int, default=fpimage.ORB_REFERENCE_FEATURES)
    parser.add_argument("--extra-retry-side", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    fpimage.ORB_REFERENCE_FEATURES = args.reference_keypoints
    if args.extra_retry_side:
        merged, sides = matching._merged, len(fpimage.QUERY_RETRY_SIDES) + 1
        fpimage.QUERY_RETRY_SIDES = (*fpimage.QUERY_RETRY_SIDES, args.extra_retry_side)
        matching._merged = lambda views: merged(views[:sides])
    ef._WORKS.update({w.key: w for w in evalset.load_works()})
    ef._DISTRACTORS.extend(ef.load_distractors(1000, args.workers))
    jobs = list(_jobs())
    print(f"# Image looks trial: {args.reference_keypoints} reference keypoints, retry sides "
          f"{fpimage.QUERY_RETRY_SIDES}; {len(jobs)} queries")
    with multiprocessing.get_context("fork").Pool(args.workers, initializer=_init_worker) as pool:
        report(list(pool.imap(_run, jobs, chunksize=4)))


if __name__ == "__main__":
    main()
