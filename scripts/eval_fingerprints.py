"""Calibrate and evaluate the image and clip near-copy engines; print Markdown tables.

    .venv/bin/python scripts/eval_fingerprints.py [--workers 2] [--images-only | --clips-only]

Images (first section):

1. Registers the eval set's works (scripts/evalset.py) in a Matcher.
2. Calibration split: seed CALIBRATION_SEED transforms of the registered works plus
   the calibration pool of never-registered works. Fits the logistic score curves
   and picks the verdict thresholds (printed as a block to paste into matching.py).
3. Evaluation split: a different seed (held-out draws of the registered works) and
   the *other* pool of never-registered works, so the FPR is measured on works the
   thresholds never saw. Reports per-family recall and FPR for the engine (with the
   constants in matching.py) beside plain imagehash.phash with one threshold.
4. Ablation: each descriptor channel added in turn and removed in turn, thresholds
   re-calibrated per configuration at the same FPR target.

Clips (second section; scripts/clip_evalset.py):
5. Registers bigbuckbunny.mp4 and bikes.mp4 (minus one held-out shot) in a
   FrameHashIndex, renders the transformed excerpts and never-registered clips with
   PyAV, and reports per edit family whether match_video's top match is the right work
   at the right offset and speed, the false matches on unrelated clips, and two
   baselines: the same engine without mirrored-hash lookups and with the speed pinned
   to 1x, and a per-frame pHash vote without alignment.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import statistics
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import faiss  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from registry.fingerprints import matching  # noqa: E402
from registry.fingerprints.image import fingerprint_image, load_image, query_descriptors  # noqa: E402
from scripts import clip_evalset, evalset  # noqa: E402

CALIBRATION_DRAWS = 2  # per family per registered work
EVALUATION_DRAWS = 3
NEGATIVE_DRAWS = 2  # per family per never-registered work (plus its untouched image)
COPY_TARGET_FPR = 0.005  # half the 1% budget: margin for the held-out split
SIMILAR_TARGET_FPR = 0.05
COPY_FLOOR, SIMILAR_FLOOR = 0.5, 0.1  # score levels the thresholds never go below


@dataclass
class Record:
    split: str
    family: str
    params: str
    source: str
    truth: str | None
    role: str
    candidates: list[tuple[str, matching.Evidence]]
    seconds: tuple[float, float, float]  # make query, descriptors, matching
    exhaustive: list[tuple[str, matching.Evidence]]  # the same query, exhaustive ORB search
    exhaustive_s: float


# --------------------------------------------------------------------------- running

_WORKS: dict[str, evalset.Work] = {}  # filled before the pool forks
_MATCHER: matching.Matcher | None = None
_EXHAUSTIVE: matching.Matcher | None = None
_NAMES: dict[int, str] = {}  # matcher work id -> work key
_DISTRACTORS: list = []  # fingerprints of synthetic never-queried works, registered too


def _single_thread() -> None:
    # The pool already uses both cores; library thread pools on top only thrash.
    faiss.omp_set_num_threads(1)
    cv2.setNumThreads(1)


def _build_matcher(exhaustive: bool) -> matching.Matcher:
    # pHash candidates as far as any ablation row may score them, not just the product's
    matcher = matching.Matcher(exhaustive=exhaustive, phash_radius=matching.PHASH_CANDIDATE_DISTANCE,
                               windows=True)
    registered = [w for w in _WORKS.values() if w.role == "registered"]
    items = []
    for work_id, work in enumerate(registered):
        _NAMES[work_id] = work.key
        items.append((work_id, fingerprint_image(work.image)))
    for i, fp in enumerate(_DISTRACTORS):
        _NAMES[len(registered) + i] = f"synthetic#{i}"
        items.append((len(registered) + i, fp))
    matcher.add_many(items)
    return matcher


def _init_worker() -> None:
    global _MATCHER, _EXHAUSTIVE
    _single_thread()
    _MATCHER = _build_matcher(exhaustive=False)
    _EXHAUSTIVE = _build_matcher(exhaustive=True)


def _synthetic_fingerprint(seed: int):
    from scripts.synthetic_images import synthetic_image

    _single_thread()
    return fingerprint_image(synthetic_image(seed))


def load_distractors(n: int, workers: int) -> list:
    """Fingerprints of n synthetic pictures (seeds 0..n-1, as the scale benchmark's)."""
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return list(pool.imap(_synthetic_fingerprint, range(n), chunksize=8))


def _run(job: tuple[str, evalset.QuerySpec]) -> Record:
    split, spec = job
    t0 = time.perf_counter()
    query = evalset.make_query(_WORKS[spec.source], spec)
    t1 = time.perf_counter()
    # through the safe loader; every view now, so that both matchers are timed alone
    descriptors = query_descriptors(load_image(query.data)).computed()
    t2 = time.perf_counter()
    candidates = _MATCHER.query(descriptors, k=50)  # all candidates: scoring is redone offline
    t3 = time.perf_counter()
    # a worker without the exhaustive matcher (eval_image_looks.py) leaves its column empty
    exhaustive = _EXHAUSTIVE.query(descriptors, k=50) if _EXHAUSTIVE is not None else []
    t4 = time.perf_counter()
    return Record(split, query.family, query.params, query.source, query.truth, query.role,
                  [(_NAMES[c.work_id], c.evidence) for c in candidates], (t1 - t0, t2 - t1, t3 - t2),
                  [(_NAMES[c.work_id], c.evidence) for c in exhaustive], t4 - t3)


def query_jobs() -> list[tuple[str, evalset.QuerySpec]]:
    """(split, query) for both splits: the registered works with each split's own pool of
    never-registered ones."""
    works = list(_WORKS.values())
    registered = [w for w in works if w.role == "registered"]
    calibration = registered + [w for w in works if w.pool == "calibration"]
    evaluation = registered + [w for w in works if w.pool == "evaluation" or w.role == "twin"]
    jobs = [("calibration", s) for s in evalset.query_specs(
        calibration, evalset.CALIBRATION_SEED, CALIBRATION_DRAWS, NEGATIVE_DRAWS)]
    return jobs + [("evaluation", s) for s in evalset.query_specs(
        evaluation, evalset.EVALUATION_SEED, EVALUATION_DRAWS, NEGATIVE_DRAWS)]


def run_queries(workers: int) -> list[Record]:
    context = multiprocessing.get_context("fork")  # workers inherit the decoded works
    with context.Pool(workers, initializer=_init_worker) as pool:
        return list(pool.imap(_run, query_jobs(), chunksize=4))


# --------------------------------------------------------------------------- scoring


def top(record: Record, channels, weights) -> tuple[str | None, float]:
    """Best candidate and its score under a channel configuration."""
    best, best_score = None, 0.0
    for work_id, evidence in record.candidates:
        value = matching.score(evidence, channels, weights)
        if value > best_score:
            best, best_score = work_id, value
    return best, best_score


def found(record: Record, channels, weights, copy_min: float) -> bool:
    """A transformed copy is found when its best candidate is its own work at a copy score."""
    best, value = top(record, channels, weights)
    return best == record.truth and value >= copy_min


def threshold_at(negative_scores: list[float], target_fpr: float) -> float:
    """Lowest threshold whose false-positive rate on these scores is <= target."""
    ranked = sorted(negative_scores, reverse=True)
    allowed = int(target_fpr * len(ranked))
    if allowed >= len(ranked):
        return 0.0
    return float(np.nextafter(ranked[allowed], np.inf))


def fit_weights(records: list[Record]) -> tuple[float, float, float]:
    """Logistic regression on the evidence margins (matching.margins) over every
    (query, candidate) pair: label 1 for a transformed work and its own registration,
    0 for all other pairs. Classes weigh equally; a little L2 keeps separable data
    finite."""
    rows, labels = [], []
    for r in records:
        for work_id, evidence in r.candidates:
            rows.append(matching.margins(evidence))
            labels.append(float(work_id == r.truth))
        if r.truth and all(w != r.truth for w, _ in r.candidates):
            rows.append((0, 0))  # never retrieved: no evidence at all
            labels.append(1.0)
    x, y = np.array(rows, float), np.array(labels)
    w = np.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum())

    def loss(theta):
        z = theta[0] + x @ theta[1:]
        return float(np.sum(w * (np.logaddexp(0, z) - y * z)) + 1e-4 * theta[1:] @ theta[1:])

    fit = minimize(loss, x0=np.zeros(3), method="BFGS")
    return tuple(round(float(v), 3) for v in fit.x)


def calibrate_thresholds(records, channels, weights) -> tuple[float, float]:
    """Copy: the fitted even-odds boundary (0.5), which sits in the gap between the
    classes rather than on the edge of the negatives, raised if the calibration FPR
    would exceed its target there. Similar: likewise from a floor of 0.1."""
    negatives = [top(r, channels, weights)[1] for r in records if r.role == "negative"]
    return (max(COPY_FLOOR, threshold_at(negatives, COPY_TARGET_FPR)),
            max(SIMILAR_FLOOR, threshold_at(negatives, SIMILAR_TARGET_FPR)))


def outcome(records, channels, weights, copy_min):
    """Per-family recall (copy verdict on the right work), FPR, wrong-work copies."""
    recall: dict[str, list[bool]] = {}
    negatives, wrong = [], 0
    for r in records:
        best, value = top(r, channels, weights)
        if r.truth:
            recall.setdefault(r.family, []).append(best == r.truth and value >= copy_min)
            wrong += best != r.truth and value >= copy_min
        elif r.role == "negative":
            negatives.append(value >= copy_min)
    return {f: float(np.mean(v)) for f, v in recall.items()}, float(np.mean(negatives)), wrong


# --------------------------------------------------------------------------- baseline


def baseline_distance(record: Record) -> tuple[str | None, int]:
    best = min(record.candidates, key=lambda c: c[1].phash["phash"], default=None)
    return (best[0], best[1].phash["phash"]) if best else (None, 64)


def baseline_threshold(records) -> int:
    """Largest plain-pHash distance whose calibration FPR stays within the target."""
    negatives = [baseline_distance(r)[1] for r in records if r.role == "negative"]
    chosen = -1
    for t in range(65):
        if np.mean([d <= t for d in negatives]) <= COPY_TARGET_FPR:
            chosen = t
    return chosen


def baseline_outcome(records, t):
    recall: dict[str, list[bool]] = {}
    negatives = []
    for r in records:
        best, d = baseline_distance(r)
        if r.truth:
            recall.setdefault(r.family, []).append(best == r.truth and d <= t)
        elif r.role == "negative":
            negatives.append(d <= t)
    return {f: float(np.mean(v)) for f, v in recall.items()}, float(np.mean(negatives))


# --------------------------------------------------------------------------- report


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def image_section(args) -> None:
    started = time.perf_counter()
    _WORKS.update({w.key: w for w in evalset.load_works()})
    if args.cache and os.path.exists(args.cache):
        with open(args.cache, "rb") as f:
            records = pickle.load(f)
    else:
        _DISTRACTORS.extend(load_distractors(args.distractors, args.workers))
        records = run_queries(args.workers)
        if args.cache:
            with open(args.cache, "wb") as f:
                pickle.dump(records, f)
    calibration = [r for r in records if r.split == "calibration"]
    evaluation = [r for r in records if r.split == "evaluation"]
    families = evalset.FAMILIES
    n_fam = {f: sum(1 for r in evaluation if r.truth and r.family == f) for f in families}
    n_neg = sum(1 for r in evaluation if r.role == "negative")
    n_cal_neg = sum(1 for r in calibration if r.role == "negative")
    print(f"# Image near-copy engine evaluation\n\n{len(_WORKS)} works "
          f"({sum(w.role == 'registered' for w in _WORKS.values())} registered); "
          f"calibration split: {len(calibration)} queries (seed {evalset.CALIBRATION_SEED}, "
          f"{n_cal_neg} never-registered); evaluation split: {len(evaluation)} queries "
          f"(seed {evalset.EVALUATION_SEED}, {n_neg} never-registered from a disjoint pool of works).\n")

    # -- calibration -----------------------------------------------------------
    weights = fit_weights(calibration)
    copy_min, similar_min = calibrate_thresholds(calibration, matching.ALL_CHANNELS, weights)
    base_t = baseline_threshold(calibration)
    fresh = (weights, round(copy_min, 4), round(similar_min, 4), base_t)
    print("## Calibrated constants (calibration split)\n\n```python")
    print(f"SCORE_WEIGHTS = {weights}\nCOPY_MIN_SCORE = {fresh[1]}\n"
          f"SIMILAR_MIN_SCORE = {fresh[2]}\nPHASH_LOOKUP_MAX_DISTANCE = {base_t}\n```")
    module = (matching.SCORE_WEIGHTS, matching.COPY_MIN_SCORE, matching.SIMILAR_MIN_SCORE,
              matching.PHASH_LOOKUP_MAX_DISTANCE)
    if module != fresh:
        print("\n**matching.py holds different constants**; the tables below use matching.py's.")
    cal_neg = [r for r in calibration if r.role == "negative"]
    closest = min((e.phash_distance() for r in cal_neg for _, e in r.candidates), default=64)
    cells = max((e.orb_cells() for r in cal_neg for _, e in r.candidates), default=0)
    print(f"\nChance levels on calibration never-registered queries: closest pHash {closest} bits "
          f"(any variant pair), most ORB inlier cells {cells} (matching.PHASH_CHANCE_DISTANCE = "
          f"{matching.PHASH_CHANCE_DISTANCE}, ORB_CHANCE_CELLS = {matching.ORB_CHANCE_CELLS}).")
    print(f"\nBaseline: plain 64-bit imagehash.phash, copy when distance <= {base_t} "
          f"(calibrated at the same FPR target, {pct(COPY_TARGET_FPR)}).\n")

    # -- main table (module constants: what the product ships) -------------------
    live = matching.SCORE_WEIGHTS
    engine, fpr, wrong = outcome(evaluation, matching.ALL_CHANNELS, live, matching.COPY_MIN_SCORE)
    flat = [Record(**{**r.__dict__, "candidates": r.exhaustive}) for r in evaluation]
    flat_engine, flat_fpr, _ = outcome(flat, matching.ALL_CHANNELS, live, matching.COPY_MIN_SCORE)
    base, base_fpr = baseline_outcome(evaluation, base_t)
    print("## Evaluation split: recall per family (copy verdict on the right work)\n")
    n_registered = sum(w.role == "registered" for w in _WORKS.values())
    print(f"Registered beside the {n_registered} works: {len(_DISTRACTORS)} "
          "synthetic distractors. *exhaustive*: every stored ORB code searched (the old path); "
          "*engine*: visual-word shortlist, then the same verification.\n")
    print("| family | queries | phash baseline | exhaustive | engine |\n|---|---:|---:|---:|---:|")
    for f in families:
        print(f"| {f} | {n_fam[f]} | {pct(base[f])} | {pct(flat_engine[f])} | {pct(engine[f])} |")
    pos = [r for r in evaluation if r.truth]
    all_base = np.mean([base[r.family] for r in pos])
    all_flat = np.mean([flat_engine[r.family] for r in pos])
    all_engine = np.mean([engine[r.family] for r in pos])
    print(f"| **all transformed copies** | {len(pos)} | {pct(all_base)} | {pct(all_flat)} | "
          f"{pct(all_engine)} |")
    print(f"| **FPR, never-registered works** | {n_neg} | {pct(base_fpr)} | {pct(flat_fpr)} | "
          f"{pct(fpr)} |")
    flat_ms = np.median([r.exhaustive_s for r in records]) * 1000
    print(f"\nMatching per query (median, one core): exhaustive {flat_ms:.0f} ms, engine "
          f"{np.median([r.seconds[2] for r in records]) * 1000:.0f} ms.")
    print(f"\nWrong-work copy verdicts on transformed copies: {wrong}.")
    similar = np.mean([top(r, matching.ALL_CHANNELS, live)[1] >= matching.SIMILAR_MIN_SCORE
                       for r in evaluation if r.role == "negative"])
    print(f"Never-registered queries reaching 'similar' or above: {pct(similar)}.")
    twins = [r for r in evaluation if r.role == "twin"]
    if twins:
        verdicts = [matching.verdict(top(r, matching.ALL_CHANNELS, live)[1]) for r in twins]
        counts = {v: verdicts.count(v) for v in ("copy", "similar", "clear")}
        print(f"Stereo twin (motorcycle_right vs registered motorcycle_left, not counted): {counts}.")
    misses = [r for r in pos if not found(r, matching.ALL_CHANNELS, live, matching.COPY_MIN_SCORE)]
    if misses:
        print("\nMissed copies:\n")
        for r in misses[:25]:
            ev = [e for w, e in r.candidates if w == r.truth]
            detail = (f"pHash {ev[0].phash_distance()}, ORB cells {ev[0].orb_cells()}"
                      if ev else "not retrieved")
            print(f"- {r.source} [{r.family}] {r.params} -> {detail}")

    # -- ablation -----------------------------------------------------------------
    print("\n## Ablation (evaluation split; thresholds re-calibrated per row)\n")
    ch = matching.ALL_CHANNELS
    configs = [("phash (plain)", ("phash",)),
               ("+ phash_mirror", ("phash", "phash_mirror")),
               ("+ phash_trim", ("phash", "phash_mirror", "phash_trim")),
               ("+ phash_trim_mirror", ("phash", "phash_mirror", "phash_trim", "phash_trim_mirror")),
               ("+ orb", (*matching.PHASH_CHANNELS, "orb")),
               ("+ orb_mirror", (*matching.PHASH_CHANNELS, "orb", "orb_mirror")),
               ("+ crop window (full engine)", ch)]
    configs += [(f"full - {c}", tuple(x for x in ch if x != c)) for c in ch]
    hash_variants = ("phash_mirror", "phash_trim", "phash_trim_mirror")
    configs += [("full - all pHash variants", tuple(x for x in ch if x not in hash_variants)),
                ("full - every pHash channel", ("orb", "orb_mirror", matching.WINDOW_CHANNEL))]
    print("| configuration | " + " | ".join(families) + " | FPR |")
    print("|---|" + "---:|" * (len(families) + 1))
    results = {}
    for name, channels in configs:
        copy_t, _ = calibrate_thresholds(calibration, channels, weights)
        rec, f_rate, _ = outcome(evaluation, channels, weights, copy_t)
        results[name] = rec
        print(f"| {name} | " + " | ".join(pct(rec[f]) for f in families) + f" | {pct(f_rate)} |")
    print("\nWhat each descriptor rescues (recall lost when it alone is removed from the full engine;"
          " forward gains in the first rows above):\n")
    full = results["+ crop window (full engine)"]
    for c in list(ch) + ["all pHash variants", "every pHash channel"]:
        lost = {f: full[f] - results[f"full - {c}"][f] for f in families}
        lost = ", ".join(f"{f} -{pct(v)}" for f, v in lost.items() if v > 1e-9) or "nothing on its own"
        print(f"- {c}: {lost}")

    # -- cost ---------------------------------------------------------------------
    fps = [fingerprint_image(w.image) for w in _WORKS.values() if w.role == "registered"]
    n_kp = statistics.mean(fp.orb_count for fp in fps)
    print("\n## Storage per registered image\n")
    print("| descriptor | bytes |\n|---|---:|")
    print("| phash (64-bit) | 8 |\n| phash_trimmed (64-bit) | 8 |")
    print(f"| ORB codes (256-bit x {n_kp:.0f} keypoints on average) | {32 * n_kp:.0f} |")
    print(f"| ORB keypoint positions (2 x uint16) | {4 * n_kp:.0f} |")
    print(f"| ORB keypoint angles (uint8) | {n_kp:.0f} |")
    thumbnail = statistics.mean(len(fp.thumbnail) for fp in fps)
    print(f"| grey thumbnail for the aligned-picture check (JPEG) | {thumbnail:.0f} |")
    print(f"| **total** | {16 + 37 * n_kp + thumbnail:.0f} |")
    stage = np.array([r.seconds for r in records]) * 1000
    print(f"\nPer query (median ms, one core): make query {np.median(stage[:, 0]):.0f}, "
          f"descriptors {np.median(stage[:, 1]):.0f}, matching {np.median(stage[:, 2]):.0f}. "
          f"Total wall time {time.perf_counter() - started:.0f} s with {args.workers} workers.")


# --------------------------------------------------------------------------- clips

_CLIP_REFS: dict = {}
_CLIP_INDEX = None
_CLIP_KEYFRAMES = None


def _run_clip(query: clip_evalset.ClipQuery) -> clip_evalset.ClipResult:
    return clip_evalset.evaluate_one(query, _CLIP_REFS, _CLIP_INDEX, _CLIP_KEYFRAMES)


def run_clip_queries(workers: int, split: str, reframes_only: bool = False
                     ) -> list[clip_evalset.ClipResult]:
    """Every clip query; references and index are built once and inherited by the
    forked workers (each decodes the source clips it needs itself)."""
    global _CLIP_INDEX, _CLIP_KEYFRAMES
    _CLIP_REFS.update(clip_evalset.reference_fingerprints())
    _CLIP_INDEX = clip_evalset.build_index(_CLIP_REFS)
    _CLIP_KEYFRAMES = clip_evalset.build_keyframe_matcher(_CLIP_REFS)
    queries = (clip_evalset.reframe_queries(split) if reframes_only
               else clip_evalset.all_queries(split))
    if workers <= 1:
        return [_run_clip(q) for q in queries]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return list(pool.imap(_run_clip, queries, chunksize=1))


def _count(results, method: str, attr: str) -> int:
    return sum(getattr(r.verdicts[method], attr) for r in results)


def clip_section(args) -> None:
    started = time.perf_counter()
    results = run_clip_queries(args.workers, args.clip_split, args.reframes_only)
    refs, ce = _CLIP_REFS, clip_evalset
    pos = [r for r in results if r.query.truth is not None]
    neg = [r for r in results if r.query.truth is None]
    lo, hi = ce.HELD_OUT_FRAMES[ce.BIKES]
    print("\n# Clip (video) near-copy engine evaluation\n")
    print("Registered in one FrameHashIndex: " + ", ".join(
        f"{ce.WORK_NAMES[w]} ({fp.width}x{fp.height}, {fp.frame_rate:g} fps, {len(fp)} frames"
        + (f"; frames {lo}-{hi - 1} = {lo / 25:.2f}-{(hi - 1) / 25:.2f} s cut out before "
           "registering" if w in ce.HELD_OUT_FRAMES else "") + ")"
        for w, fp in refs.items())
        + f" = {_CLIP_INDEX.ntotal} frame hashes, and their {len(_CLIP_KEYFRAMES)} ORB keyframes. "
        f"Engine: `match_video` with its defaults (radius {clip_evalset.DEFAULT_RADIUS} bits, "
        "`AlignParams()`: speeds 0.5-2x, mirror lookups), then, when it finds nothing, the "
        "reframe search (`reframe.find_reframed`), as a check of an uploaded clip does.\n")
    print(f"{len(pos)} transformed excerpts of the registered clips (H.264 via PyAV, 25 fps) and "
          f"{len(neg)} never-registered clips. A transformed clip is *right work* when the top "
          f"ClipMatch is its work, and *right offset & speed* when in addition |offset - truth| "
          f"<= {ce.OFFSET_TOLERANCE_S:g} s (one reference frame) and the speed is within "
          f"{100 * ce.SPEED_TOLERANCE:g}%. Exception, marked in the last column: when the true "
          "reference span is static (median pHash distance between consecutive reference frames "
          "0, so the fingerprint holds no frame-accurate timing), timing is judged by span "
          f"overlap instead (>= {100 * ce.MIN_SPAN_OVERLAP:g}% of the matched reference span "
          "inside the true span). *False matches*: matches on any work the clip does not come "
          "from (for an unrelated clip: any match at all).\n")
    print("Baselines: **no mirror, 1x** = the same index and alignment, but only the frames' own "
          "hashes are looked up and `AlignParams(min_speed=1, max_speed=1)` (slopes within 5% of "
          "1x); **frame vote** = no alignment, a clip matches the work for which >= "
          f"{100 * ce.FRAME_VOTE_SHARE:g}% of its frames have a registered frame within "
          f"{ce.FRAME_VOTE_RADIUS} bits (per-frame 64-bit pHash), no offset.\n")
    e, b, v = ce.METHODS
    print("| family | queries | engine: right work | engine: right offset & speed | engine: "
          "+-1 frame & 5% speed, static shots too | engine: false "
          "matches | no mirror, 1x: right work | no mirror, 1x: right offset & speed | "
          "no mirror, 1x: false matches | frame vote: right work | frame vote: false matches | "
          "timing judged by |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")

    def criteria(rs) -> str:
        static = sum(r.criterion == "overlap" for r in rs)
        if not static:
            return "offset & speed"
        return f"offset & speed; span overlap for {static} static"

    def row(label, rs, positive=True):
        n = len(rs)
        if positive:
            cells = [f"{_count(rs, e, 'right_work')}/{n}", f"{_count(rs, e, 'right_timing')}/{n}",
                     f"{_count(rs, e, 'offset_ok')}/{n}", f"{_count(rs, e, 'false_match')}",
                     f"{_count(rs, b, 'right_work')}/{n}",
                     f"{_count(rs, b, 'right_timing')}/{n}", f"{_count(rs, b, 'false_match')}",
                     f"{_count(rs, v, 'right_work')}/{n}", f"{_count(rs, v, 'false_match')}",
                     criteria(rs)]
        else:
            cells = ["-", "-", "-", f"**{_count(rs, e, 'false_match')}/{n}**", "-", "-",
                     f"{_count(rs, b, 'false_match')}/{n}", "-",
                     f"{_count(rs, v, 'false_match')}/{n}", "-"]
        print(f"| {label} | {n} | " + " | ".join(cells) + " |")

    for family in [*ce.FAMILIES, *ce.REFRAME_FAMILIES]:
        if any(r.query.family == family for r in pos):
            row(family, [r for r in pos if r.query.family == family])
    row("**all transformed clips**", pos)
    for family in dict.fromkeys(r.query.family for r in neg):
        row(f"unrelated: {family}", [r for r in neg if r.query.family == family], False)
    row("**unrelated clips, all**", neg, False)

    print("\nPer query where the engine's timing was judged by span overlap, or where it "
          "missed (found = the top match):\n")
    for r in pos:
        ver = r.verdicts[e]
        if r.criterion == "overlap" or not ver.right_timing:
            status = "ok" if ver.right_timing else ("WRONG TIMING" if ver.right_work else "MISSED")
            strict = ""
            if r.criterion == "overlap" and ver.right_work:
                strict = " (the +-1 frame offset & speed test would " + (
                    "also pass)" if ver.offset_ok else "fail)")
            lo_s, hi_s = r.query.expected_span
            print(f"- {r.query.name} [{r.query.edit.describe()}; truth ref {lo_s:.2f}-{hi_s:.2f} s,"
                  f" {r.criterion}] {status}{strict}: {ver.found}")
    fp_neg = [r for r in neg if any(r.verdicts[m].false_match for m in ce.METHODS)]
    print("\nUnrelated clips: " + ", ".join(f"{r.query.name} ({r.query.describe()})" for r in neg)
          + ".")
    for r in fp_neg:
        print(f"- false match on {r.query.name}: " + "; ".join(
            f"{m}: {r.verdicts[m].found}" for m in ce.METHODS if r.verdicts[m].false_match))
    sec = np.array([r.seconds for r in results]) * 1000
    print(f"\nPer clip query (median ms, one core): render {np.median(sec[:, 0]):.0f}, fingerprint "
          f"{np.median(sec[:, 1]):.0f}, match {np.median(sec[:, 2]):.1f}. Clip section wall time "
          f"{time.perf_counter() - started:.0f} s with {args.workers} workers.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--distractors", type=int, default=1000,
                        help="synthetic works registered beside the eval's own (never queried)")
    parser.add_argument("--cache", help="pickle of the image query results: reused if present "
                        "(to iterate on calibration only), written otherwise")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--images-only", action="store_true", help="skip the clip section")
    only.add_argument("--clips-only", action="store_true", help="skip the image section")
    parser.add_argument("--reframes-only", action="store_true",
                        help="clips: only the reframe families and reframed negatives")
    parser.add_argument("--clip-split", choices=sorted(clip_evalset.SPLIT_SEEDS),
                        default="evaluation", help="which draw of the clip reframe families "
                        "(thresholds are chosen on calibration; report evaluation)")
    args = parser.parse_args()
    started = time.perf_counter()
    _single_thread()
    if not args.clips_only:
        image_section(args)
    if not args.images_only:
        clip_section(args)
    print(f"\nTotal wall time {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
