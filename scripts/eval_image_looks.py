"""Quick trial of the image engine's look settings on the hard families only.

    .venv/bin/python scripts/eval_image_looks.py [--reference-keypoints N] [--coarse-reference K:F]
        [--extra-retry-side S] [--merged-shortlist N] [--calibration-seed S] [--all-families] [--blur-look SIGMA]
        [--set NAME=VALUE ...] [--save RECORDS.pickle] [--calibration-only]

Runs the calibration and evaluation splits of ``eval_fingerprints.py`` restricted to the
reframe, picture-in-picture, crop and combination families (every never-registered query
kept), through the shortlist matcher only (no exhaustive column), and prints per split the
recall per family with matching.py's constants, the false positives, the most ORB inlier
cells on never-registered queries and the matching time. About 8 minutes on 2 cores instead
of the full evaluation's 50: for choosing what the full evaluation then measures (on the
calibration split's rows; the evaluation split's are only reported).

``--reference-keypoints`` changes how many ORB keypoints a registered picture keeps;
``--coarse-reference KEEP:FACTOR`` adds KEEP keypoints of its work frame shrunk by FACTOR
and enlarged back;
``--extra-retry-side`` adds a retry look at that long side, kept out of the merged look;
``--merged-shortlist`` sets how many images the merged look shortlists;
``--calibration-seed`` draws a fresh set of calibration-pool queries (another seed than the
calibration split's) and runs it alone: a second opinion for a choice that the calibration
split cannot make, without looking at the evaluation split; ``--all-families`` runs every
family (the full evaluation's shortlist column, without its exhaustive one: about twice
the time); ``--blur-look`` adds a retry look at the picture Gaussian-blurred by SIGMA
pixels; ``--set`` overrides a ``matching.py`` constant for the run; ``--save`` pickles the
records (``eval_fingerprints.Record``) for a closer look at fits and agreements;
``--calibration-only`` leaves the evaluation split out while a choice is being made.
"""

import argparse
import multiprocessing
import os
import pickle
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from registry.fingerprints import image as fpimage  # noqa: E402
from registry.fingerprints import matching  # noqa: E402
from scripts import eval_fingerprints as ef  # noqa: E402
from scripts import evalset, trial_settings  # noqa: E402

FAMILIES = ("reframe", "reframe_combo", "pip", "pip_combo", "crop", "combo")


def _init_worker():
    ef._single_thread()
    ef._MATCHER = ef._build_matcher(exhaustive=False)  # no exhaustive matcher: its column stays empty


def report(records: list[ef.Record], families: tuple[str, ...]) -> None:
    weights, copy_min = matching.SCORE_WEIGHTS, matching.COPY_MIN_SCORE
    for split in ("calibration", "evaluation"):
        rows = [r for r in records if r.split == split]
        if not rows:  # --calibration-seed runs one split
            continue
        print(f"\n## {split}\n")
        for family in families:
            copies = [r for r in rows if r.truth and r.family == family]
            hits = 0
            for r in copies:
                if ef.found(r, matching.ALL_CHANNELS, weights, copy_min):
                    hits += 1
                else:
                    own = dict(r.candidates).get(r.truth)
                    print(f"- miss {r.source} {r.params}: {own.orb_cells() if own else 0} cells")
            print(f"{family}: {hits}/{len(copies)}")
        negatives = [r for r in rows if r.role == "negative"]
        _, fpr, _ = ef.outcome(negatives, matching.ALL_CHANNELS, weights, copy_min)
        for r in negatives:
            best, value = ef.top(r, matching.ALL_CHANNELS, weights)
            if value >= copy_min:
                evidence = dict(r.candidates)[best]
                print(f"- false copy {r.source} {r.params} -> {best}: {evidence.orb_cells()} "
                      f"cells, agreement {evidence.agreement()}")
        cells = [max((e.orb_cells() for _, e in r.candidates), default=0) for r in negatives]
        agreements = [a for r in negatives for _, e in r.candidates
                      if (a := e.agreement()) is not None]
        ms = np.array([r.seconds[2] for r in rows]) * 1000
        print(f"never-registered: {round(fpr * len(negatives))}/{len(negatives)} false copies; "
              f"most inlier cells {max(cells)}, {sum(c >= 8 for c in cells)} with 8 or more; "
              f"{len(agreements)} fits checked for agreement, the highest "
              f"{max(agreements, default=float('nan')):.2f}; "
              f"matching p50 {np.percentile(ms, 50):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms")


def _merge_only_shipped_views() -> None:
    """Keep the looks a trial adds out of the merged look: it merges the shipped views only."""
    merged = matching._merged  # every trial adds its one look last
    matching._merged = lambda views, words: merged(views[:-1], words)


def _add_blur_look(sigma: float) -> None:
    """A retry look at QUERY_WORK_SIDE of the picture blurred by ``sigma`` pixels (a trial
    against JPEG blocking), kept out of the merged look."""
    from functools import cached_property

    from PIL import ImageFilter

    plain_retries = fpimage.QueryDescriptors.retries.func
    _merge_only_shipped_views()

    def retries(self):  # type: ignore[no-untyped-def]
        views = plain_retries(self)
        if self.picture is None or self.retry_views is not None:
            return views
        blurred = self.picture.filter(ImageFilter.GaussianBlur(sigma))
        return (*views, fpimage._orb_view(blurred, fpimage.QUERY_WORK_SIDE))

    prop = cached_property(retries)
    prop.__set_name__(fpimage.QueryDescriptors, "retries")
    fpimage.QueryDescriptors.retries = prop  # type: ignore[method-assign,assignment]


def _add_coarse_reference(keep: int, factor: float) -> None:
    """Registered pictures also keep ``keep`` keypoints of their work frame shrunk by ``factor``
    and enlarged back (a trial: a tiny query's keypoints look like those of a blurred frame)."""
    plain = ef.fingerprint_image

    def fingerprint(image):  # type: ignore[no-untyped-def]
        import dataclasses

        import cv2

        fp = plain(image)
        gray = fpimage._work_gray(fpimage.normalize_image(image), fpimage.WORK_SIDE)
        h, w = gray.shape
        small = cv2.resize(gray, (max(1, round(w * factor)), max(1, round(h * factor))),
                           interpolation=cv2.INTER_AREA)
        coarse = np.ascontiguousarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC))
        codes, xy, angle = fpimage.orb_features(coarse, keep)
        return dataclasses.replace(
            fp, orb_descriptors=fp.orb_descriptors + codes.tobytes(),
            orb_points=fp.orb_points + np.round(xy).astype("<u2").tobytes(),
            orb_angles=fp.orb_angles + angle.tobytes())

    ef.fingerprint_image = fingerprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-keypoints", type=int, default=fpimage.ORB_REFERENCE_FEATURES)
    parser.add_argument("--extra-retry-side", type=int, default=0)
    parser.add_argument("--merged-shortlist", type=int, default=matching.MERGED_SHORTLIST)
    parser.add_argument("--calibration-seed", type=int, default=0)
    parser.add_argument("--all-families", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", default="")
    parser.add_argument("--calibration-only", action="store_true",
                        help="leave the evaluation split out (while choosing)")
    parser.add_argument("--blur-look", type=float, default=0)
    parser.add_argument("--coarse-reference", default="", metavar="KEEP:FACTOR")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a matching.py constant read at query time (a trial setting)")
    args = parser.parse_args()
    fpimage.ORB_REFERENCE_FEATURES = args.reference_keypoints
    matching.MERGED_SHORTLIST = args.merged_shortlist
    for setting in args.set:  # after the flags, so that --set MERGED_SHORTLIST=... holds
        setattr(*trial_settings.parse(setting, (matching,)))
    if args.coarse_reference:
        keep, factor = args.coarse_reference.split(":")
        _add_coarse_reference(int(keep), float(factor))
    if args.blur_look:
        _add_blur_look(args.blur_look)
    if args.extra_retry_side:
        _merge_only_shipped_views()
        fpimage.QUERY_RETRY_SIDES = (*fpimage.QUERY_RETRY_SIDES, args.extra_retry_side)
        fpimage.SMALL_QUERY_RETRY_SIDES = (*fpimage.SMALL_QUERY_RETRY_SIDES, args.extra_retry_side)
    ef._WORKS.update({w.key: w for w in evalset.load_works()})
    ef._DISTRACTORS.extend(ef.load_distractors(1000, args.workers))
    if args.calibration_seed:
        evalset.CALIBRATION_SEED = args.calibration_seed
    families = tuple(evalset.FAMILIES) if args.all_families else FAMILIES
    jobs = [(split, spec) for split, spec in ef.query_jobs()
            if (ef._WORKS[spec.source].role != "registered" or spec.family in families)
            and not ((args.calibration_seed or args.calibration_only) and split == "evaluation")]
    print(f"# Image looks trial: {args.reference_keypoints} reference keypoints, retry sides "
          f"{fpimage.QUERY_RETRY_SIDES} (small pictures {fpimage.SMALL_QUERY_RETRY_SIDES}), "
          f"merged-look shortlist {matching.MERGED_SHORTLIST}; "
          f"blur look {args.blur_look}, set {args.set}; {len(jobs)} queries")
    with multiprocessing.get_context("fork").Pool(args.workers, initializer=_init_worker) as pool:
        records = list(pool.imap(ef._run, jobs, chunksize=4))
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump(records, f)
    report(records, families)


if __name__ == "__main__":
    main()
