"""Reframed copies of registered clips -- vertical (9:16) and cinema crops, pan-and-scan,
picture-in-picture, deep off-centre crops -- found through the ORB keyframes
(keyframes.py) when no frame hash matches.

0. **When.** After the frame hashes (alignment.match_video), when they found nothing or
   only a short span (``reframe_wanted``); per registered clip the search's match
   replaces the hashes' when it aligns more frames (``prefer_reframed``).
1. **Look-up.** The query's looks (clip_query.py: a frame every half second, fewer for
   long queries) are each looked up in the keyframe matcher like a still: a hit names a registered clip, a keyframe
   (so a second of it) and the similarity transform taking the query frame into it.
2. **Coarse line.** Per clip with hits on at least ``MIN_HIT_FRAMES`` sampled frames,
   ``ref_t = speed * query_t + offset`` through the hits -- only to within about half
   a second, as keyframes are a second apart and the speed is barely pinned.
3. **Re-fit.** Every look in the window is looked up again, and keeps its fit on the
   keyframe it agrees with best within a second of the coarse line (``_refits``), so
   that the transforms follow a moving window (pan-and-scan) look by look. Fits whose
   scale or rotation disagree with the others are dropped, and the transform at any
   moment is a local line through the fits around it (``_motion_at``). When those
   transforms find no copy, the 1x lines through the strongest hits off the coarse line
   are re-fitted on in turn (``_lines``).
4. **Refinement.** Every grey query frame of the window (``REFINE_WINDOW_S`` around the
   hits) is sampled, through the transform interpolated to its time, at the cells of
   the registered frames' grey grids; a candidate line is scored by how the query's
   cells agree with the registered grids interpolated at ``speed * t + offset``:
   the Pearson correlation of the spatial pattern frame by frame (which shot, which
   part of it) plus that of every cell's variation over time (when, to the frame). A
   coarse-to-fine grid search over speeds in [0.5, 2] and offsets around the coarse
   line keeps the best.
5. **Verdict.** A line is a match when both correlations reach ``MIN_SPATIAL`` and
   ``MIN_TEMPORAL``: a neighbouring shot of the same film, caught by a chance fit on
   a shared background, does not vary in time with the query.

Colour changes and re-encoding are affine in luminance, which Pearson correlation
ignores; mirroring is the mirrored query's fit (the transform then applies to the
flipped frame). The search reads the query only through its ``ReframeQuery``
(clip_query.py), which a query descriptor can carry: a clip sent as a descriptor is
searched exactly as its upload is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from registry.fingerprints.alignment import AlignParams, ClipMatch
from registry.fingerprints.clip_query import ReframeQuery
from registry.fingerprints.frames import work_size
from registry.fingerprints.image import QUERY_WORK_SIDE, WORK_SIDE, QueryDescriptors
from registry.fingerprints.keyframes import GRID_SIDE, split_keyframe_id
from registry.fingerprints.matching import Fit, Matcher

MIN_HIT_FRAMES = 2  # sampled frames that must find keyframes of one clip
REFINE_WINDOW_S = 20.0  # query seconds refined around the hits (bounds memory and time)
MAX_CLIPS = 3  # registered clips refined per query, most hits first
PARTIAL_SPAN = 0.5  # share of the query a frame-hash span must cover to skip the search
# Chosen on the calibration split (clip_evalset.reframe_queries("calibration")): the
# weakest true copies scored 0.67 spatial / 0.70 temporal, while the best line through
# another shot of the same film, with the copy's own fitted transform, scored at most
# 0.40 / 0.34; and a log-speed penalty of 0.15 (per unit of |ln speed|) is the middle of
# the range (0.135-0.17) that put every calibration copy at its true speed without
# pulling the 1.25x and 1.5x ones to 1x.
MIN_SPATIAL = 0.6
MIN_TEMPORAL = 0.6
SPEED_PRIOR = 0.15
SPEED_PRIOR_SLACK = 0.005
MIN_CELLS = 8  # registered grid cells a query frame must show to be compared
_COARSE_TOLERANCE_S = 0.6
_MAX_ANCHORS = 8
EXTRA_LINES = 2  # re-fits on other lines when the coarse line's finds no copy (_lines)
STANDARD_SPEEDS = AlignParams().standard_speeds
_SUB = 4  # samples per cell side when a cell is read through the transform
_FIT_SCALE_SLACK = 0.15
MOTION_BANDWIDTH_S = 0.75  # set from the looks' spacing (0.5 s), not tuned
REFIT_REACH_S = 1.0
HIT_CANDIDATES = 3  # a look's candidates the coarse line goes through
REFIT_CANDIDATES = 10  # a look's candidates a re-fit chooses among
_FIT_MAX_ROTATION_DEG = 10.0


@dataclass(frozen=True)
class ReferenceGrid:
    times: np.ndarray  # (n,) seconds
    grid: np.ndarray  # (n, GRID_SIDE**2) uint8
    size: tuple[int, int]  # the clip's frame (width, height)
    key_times: np.ndarray  # (k,) seconds of its keyframes


@dataclass(frozen=True)
class ReframedMatch:
    match: ClipMatch
    fit: Fit  # the strongest re-fitted transform (query frame -> registered frame)
    spatial: float
    temporal: float


@dataclass(frozen=True)
class _Hit:
    query_t: float
    clip_no: int
    k: int  # the keyframe's number
    fit: Fit
    mirrored: bool
    rank: int  # the keyframe's place among the look's candidates


def reframe_wanted(hashed: list[ClipMatch], timestamps: np.ndarray) -> bool:
    """Whether a clip is searched for reframed copies after its frame hashes: when they
    found nothing, or no span over half the clip (a pan-and-scan window meets a
    registered crop window only part of the way, and pins the timing poorly there).
    The clip's length is its sampled frames' (``timestamps``), which a descriptor
    carries too, not its container's."""
    spans = [m.query_end_s - m.query_start_s for m in hashed]
    length = float(timestamps[-1]) if len(timestamps) else 0.0
    return max(spans, default=0.0) < PARTIAL_SPAN * length


def prefer_reframed(hashed: list[ClipMatch], reframed: list[ReframedMatch]
                    ) -> tuple[list[ClipMatch], list[ReframedMatch]]:
    """Per registered clip, the reframe search's match where it aligned more query
    frames than the frame hashes' best span did, else the hash matches."""
    hashed_frames: dict = defaultdict(int)
    for m in hashed:
        hashed_frames[m.ref_asset_id] = max(hashed_frames[m.ref_asset_id], m.matched_frames)
    kept = [r for r in reframed if r.match.matched_frames > hashed_frames[r.match.ref_asset_id]]
    replaced = {r.match.ref_asset_id for r in kept}
    return [m for m in hashed if m.ref_asset_id not in replaced], kept


def find_reframed(query: ReframeQuery, matcher: Matcher,
                  references: Callable[[list[int]], dict[int, ReferenceGrid]]) -> list[ReframedMatch]:
    """Reframed copies of registered clips in the query clip read as ``query``
    (clip_query.py), best first. ``references(clip numbers)`` gives the registered clips'
    grids."""
    if len(matcher) == 0 or not len(query.looks):
        return []
    # each look is looked up once, deep enough for the re-fits (step 3); its top
    # candidates are the hits the coarse line goes through
    looked = [h for t, d in zip(query.look_times.tolist(), query.looks, strict=True)
              for h in _lookup(matcher, t, d, k=REFIT_CANDIDATES)]
    by_clip: dict[int, list[_Hit]] = defaultdict(list)
    for h in looked:
        if h.rank < HIT_CANDIDATES:
            by_clip[h.clip_no].append(h)
    chosen = sorted((no for no, hs in by_clip.items() if len({h.query_t for h in hs}) >= MIN_HIT_FRAMES),
                    key=lambda no: -len(by_clip[no]))[:MAX_CLIPS]
    if not chosen:
        return []
    grids = references(chosen)
    found = []
    for no in chosen:
        if no in grids:
            match = _refine_clip(query, no, by_clip[no], [h for h in looked if h.clip_no == no],
                                 grids[no])
            if match is not None:
                found.append(match)
    return sorted(found, key=lambda m: -m.match.score)


def _lookup(matcher: Matcher, t: float, query: QueryDescriptors, k: int) -> list[_Hit]:
    out = []
    for rank, c in enumerate(matcher.query(query, k=k)):
        best = c.evidence.best_fit()
        if c.verdict == "clear" or best is None:
            continue
        no, key = split_keyframe_id(c.work_id)
        out.append(_Hit(t, no, key, best[1], best[0] == "orb_mirror", rank))
    return out


def _coarse_line(points: np.ndarray, cells: np.ndarray) -> tuple[float, float]:
    """(speed, offset) of the standard-speed line through (query_t, ref_t) hits that
    gathers the most inlier cells (within ``_COARSE_TOLERANCE_S``; ties go to 1x): a
    frame of another shot sharing the background must not tilt it, as a fit would."""
    best = (-1.0, 0.0, 1.0, 0.0)
    for speed in STANDARD_SPEEDS:
        for q, r in points:
            residual = np.abs(points[:, 1] - speed * points[:, 0] - (r - speed * q))
            inliers = residual <= _COARSE_TOLERANCE_S
            key = (float(cells[inliers].sum()), -abs(math.log(speed)))
            if key > best[:2]:
                offset = float(np.median(points[inliers, 1] - speed * points[inliers, 0]))
                best = (*key, speed, offset)
    return best[2], best[3]


def _refine_clip(query: ReframeQuery, no: int, hits: list[_Hit], deeper: list[_Hit],
                 ref: ReferenceGrid) -> ReframedMatch | None:
    """``hits``: the looks' top candidates in this clip; ``deeper``: all their candidates
    in it (the re-fits choose among them)."""
    hits = [h for h in hits if h.k < len(ref.key_times)]
    key_times = {h.k: float(ref.key_times[h.k]) for h in hits}
    # the line goes through each sampled frame's strongest hit: in a slow shot a frame
    # finds several keyframes, the nearest in time most strongly
    strongest: dict[float, _Hit] = {}
    for h in hits:
        if h.query_t not in strongest or h.fit.cells > strongest[h.query_t].fit.cells:
            strongest[h.query_t] = h
    points = np.array([(h.query_t, key_times[h.k]) for h in strongest.values()])
    speed, offset = _coarse_line(points, np.array([h.fit.cells for h in strongest.values()]))
    # the search starts from every hit's line, not only the coarse one: in a slow shot
    # the strongest keyframe is not always the nearest in time
    anchors = np.array([(h.query_t, key_times[h.k])
                        for h in sorted(hits, key=lambda h: -h.fit.cells)][:_MAX_ANCHORS])
    centre = float(np.median(points[:, 0]))
    lo, hi = centre - REFINE_WINDOW_S / 2, centre + REFINE_WINDOW_S / 2
    inside = (query.gray_times >= lo) & (query.gray_times <= hi)
    if inside.sum() < 2:
        return None
    times, grays = query.gray_times[inside], query.grays[inside]
    fallback = [(h.query_t, h.fit, h.mirrored) for h in strongest.values()]
    for line in _lines(speed, offset, anchors):
        fits = _consistent(_refits(deeper, lo, hi, ref.key_times, *line)) or _consistent(fallback)
        found = _align(no, times, grays, fits, ref, anchors)
        if found is not None:
            return found
        fallback = []  # the strongest hits' own fits were tried with the coarse line
    return None


def _lines(speed: float, offset: float, anchors: np.ndarray) -> list[tuple[float, float]]:
    """The coarse line, then the 1x lines through the strongest anchors off it (at most
    ``EXTRA_LINES``), to re-fit on when the one before finds no copy. In a slow shot one
    keyframe (the sharpest, or the one framed most like the query) can be every look's
    strongest hit and carry the coarse line seconds off the true moment; its transform
    then misplaces the cells of every frame (a 9:16 reframe of Big Buck Bunny was lost so
    on the calibration draw)."""
    lines = [(speed, offset)]
    for q, r in anchors.tolist():
        if len(lines) > EXTRA_LINES:
            break
        if all(abs(r - (s * q + o)) > _COARSE_TOLERANCE_S for s, o in lines):
            lines.append((1.0, r - q))
    return lines


def _align(no: int, times: np.ndarray, grays: np.ndarray, fits, ref: ReferenceGrid,
           anchors: np.ndarray) -> ReframedMatch | None:
    """Steps 4 and 5 for one set of re-fitted transforms: the best line through the grids,
    if it is a copy."""
    if not fits:
        return None
    mirrored = fits[0][2]
    query_cells, shown = _sample_cells(grays, times, fits, ref.size, mirrored)
    # Each frame is compared on the cells it shows: a pan-and-scan window, or a fit off
    # by a little, shows different cells in different frames. Frames showing too few
    # cells sit out; so do cells no frame shows.
    seen = shown.sum(axis=1) >= MIN_CELLS
    used = shown[seen].any(axis=0)
    times, query_cells, shown = times[seen], query_cells[seen][:, used], shown[seen][:, used]
    if len(times) < 2:
        return None
    best = _search(times, query_cells, shown, ref.times, ref.grid[:, used].astype(np.float32),
                   anchors)
    if best is None:
        return None
    spatial, temporal, speed, offset, per_frame, valid = best
    if spatial < MIN_SPATIAL or temporal < MIN_TEMPORAL:
        return None
    q = times[valid]
    agreeing = int((per_frame[valid] >= MIN_SPATIAL).sum())
    match = ClipMatch(ref_asset_id=no, query_start_s=float(q[0]), query_end_s=float(q[-1]),
                      ref_start_s=float(speed * q[0] + offset), ref_end_s=float(speed * q[-1] + offset),
                      offset_s=offset, speed=speed, matched_frames=agreeing, query_frames=len(q),
                      agreement=agreeing / len(q), mean_distance=0.0, mirrored=mirrored,
                      score=spatial + temporal)
    return ReframedMatch(match, max((f for _, f, _ in fits), key=lambda f: f.cells), spatial, temporal)


def _refits(deeper: list[_Hit], lo: float, hi: float, key_times: np.ndarray, speed: float,
            offset: float):
    """A transform for every look between ``lo`` and ``hi`` s: its fit on the keyframe,
    within ``REFIT_REACH_S`` of the moment the coarse line ``speed * t + offset`` puts it
    at, that agrees with it best (most inlier cells; then the nearest). The transforms
    so follow a moving window (pan-and-scan) look by look; and in a slow shot, where the
    coarse line is unsure to a keyframe, the look's own best keyframe is the one least
    moved away from it (on the calibration draw: 26 of 28 reframed copies at the right
    offset and speed, against 25 re-fitting on the nearest keyframe)."""
    best: dict[float, tuple] = {}
    for h in deeper:
        if lo <= h.query_t <= hi and h.k < len(key_times):
            gap = abs(float(key_times[h.k]) - (speed * h.query_t + offset))
            if gap <= REFIT_REACH_S:
                key = (h.fit.cells, -gap)
                if h.query_t not in best or key > best[h.query_t][0]:
                    best[h.query_t] = (key, h)
    return [(t, h.fit, h.mirrored) for t, (_, h) in sorted(best.items())]


def _consistent(fits):
    """Fits that agree with the majority's mirroring, scale and rotation, by time."""
    if not fits:
        return []
    mirrored = sum(m for _, _, m in fits) * 2 > len(fits)
    fits = [f for f in fits if f[2] == mirrored]
    scale = float(np.median([f.scale for _, f, _ in fits]))
    return sorted((f for f in fits if abs(f[1].scale / scale - 1) <= _FIT_SCALE_SLACK
                   and abs(f[1].rotation_deg) <= _FIT_MAX_ROTATION_DEG), key=lambda f: f[0])


def _model(fit: Fit, q_size: tuple[int, int], r_size: tuple[int, int]) -> np.ndarray:
    """The 2x3 matrix taking query work-frame points to reference work-frame points."""
    s = fit.scale * max(r_size) / max(q_size)
    th = math.radians(fit.rotation_deg)
    return np.array([[s * math.cos(th), -s * math.sin(th), fit.tx * r_size[0]],
                     [s * math.sin(th), s * math.cos(th), fit.ty * r_size[1]]])


def _motion_at(t: float, times: np.ndarray, weights: np.ndarray, models: np.ndarray) -> np.ndarray:
    """The transform at ``t``: a local linear fit over time of the fitted transforms
    (weighted by their inlier cells, and by closeness to ``t``: ``MOTION_BANDWIDTH_S``).
    A fit half a second from its keyframe is off by the motion between them, and
    straight interpolation through such fits makes the window jitter; the local line
    smooths that out and follows a pan, past the last fit too."""
    w = weights * np.exp(-0.5 * ((times - t) / MOTION_BANDWIDTH_S) ** 2)
    if len(times) < 2 or np.ptp(times) < 1e-6:
        return (w[:, None] * models).sum(axis=0) / max(w.sum(), 1e-12)
    design = np.stack([np.ones_like(times), times - t], axis=1) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design, models * np.sqrt(w)[:, None], rcond=None)
    return coef[0]


def _sample_cells(grays, times, fits, ref_size, mirrored):
    """(n, GRID_SIDE**2) mean grey of each registered grid cell as seen in each query
    frame, and which cells every frame shows."""
    import cv2

    h, w = grays[0].shape
    q_work = work_size(w, h, QUERY_WORK_SIDE)
    r_work = work_size(*ref_size, WORK_SIDE)
    models = np.array([_model(f, q_work, r_work).ravel() for _, f, _ in fits])
    fit_times = np.array([t for t, _, _ in fits])
    fit_weights = np.array([f.cells for _, f, _ in fits], np.float64)
    sub = (np.arange(GRID_SIDE * _SUB) + 0.5) / (GRID_SIDE * _SUB)
    gx, gy = np.meshgrid(sub * r_work[0], sub * r_work[1])
    ref_points = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
    cells = np.empty((len(grays), GRID_SIDE * GRID_SIDE), np.float32)
    shown = np.zeros((len(grays), GRID_SIDE * GRID_SIDE), bool)
    for i, (t, gray) in enumerate(zip(times, grays, strict=True)):
        m = _motion_at(t, fit_times, fit_weights, models).reshape(2, 3)
        inverse = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
        qx, qy = inverse @ ref_points
        qx, qy = qx * w / q_work[0], qy * h / q_work[1]
        if mirrored:
            qx = w - 1 - qx
        ok = (qx >= 0) & (qx <= w - 1) & (qy >= 0) & (qy <= h - 1)
        shown[i] = ok.reshape(GRID_SIDE, _SUB, GRID_SIDE, _SUB).all(axis=(1, 3)).ravel()
        shape = (GRID_SIDE * _SUB, GRID_SIDE * _SUB)
        picked = cv2.remap(gray.astype(np.float32), qx.reshape(shape).astype(np.float32),
                           qy.reshape(shape).astype(np.float32), cv2.INTER_LINEAR)
        cells[i] = picked.reshape(GRID_SIDE, _SUB, GRID_SIDE, _SUB).mean(axis=(1, 3)).ravel()
    return cells, shown


def _search(q_times, q_cells, q_shown, r_times, r_cells, anchors):
    """Best (spatial, temporal, speed, offset, per-frame spatial, valid frames) over a
    coarse-to-fine grid of lines; None when no line keeps most of the query inside the
    registered clip."""
    def score(s, offsets):
        return _score_lines(q_times, q_cells, q_shown, r_times, r_cells, s, offsets)

    best = None
    coarse_speeds = np.exp(np.linspace(math.log(0.5), math.log(2.0), 61))
    for speeds, spread, step in ((coarse_speeds, 0.8, 0.04), (None, 0.06, 0.005)):
        if speeds is None:
            s0 = best[2]
            speeds = s0 * np.exp(np.linspace(-0.03, 0.03, 25))
        for s in speeds:
            if spread > 0.1:  # coarse: around every anchor's line at this speed
                offsets = np.unique(np.round(np.concatenate(
                    [r - s * q + np.arange(-spread, spread + 1e-9, step) for q, r in anchors]) / step)) * step
            else:  # fine: around the best line, turned about the query's middle
                centre = best[3] + (best[2] - s) * float(np.median(q_times))
                offsets = centre + np.arange(-spread, spread + 1e-9, step)
            found = score(s, offsets)
            if found is not None and (best is None or _merit(found) > _merit(best)):
                best = found
    if best is None:
        return None
    # A standard edit speed near the best (24/25 and 25/24 are frame-rate conversions)
    # that scores almost as well is preferred: a slow drift fits a rate a few % off.
    preferred = None
    for s in STANDARD_SPEEDS:
        if abs(s / best[2] - 1) > 0.1:
            continue
        centre = best[3] + (best[2] - s) * float(np.median(q_times))
        found = score(s, centre + np.arange(-0.06, 0.06 + 1e-9, 0.005))
        if found is not None and _merit(found) >= _merit(best) - SPEED_PRIOR_SLACK \
                and (preferred is None or _merit(found) > _merit(preferred)):
            preferred = found
    return preferred or best


def _merit(found) -> float:
    """A line's spatial + temporal correlation less the speed prior: in a slow shot a
    line at half or twice the speed can fit a little better than the true one, while
    most re-used footage plays at 1x."""
    return found[0] + found[1] - SPEED_PRIOR * abs(math.log(found[2]))


def _score_lines(q_times, q_cells, q_shown, r_times, r_cells, speed, offsets):
    """The best of the lines ``ref_t = speed * t + offset``: the mean over frames of the
    spatial Pearson correlation (query cells against the registered grid at ref_t, on
    the cells each frame shows) plus the temporal one (each cell's variation about its
    own mean, over the frames that show it)."""
    ref_t = speed * q_times[None, :] + offsets[:, None]  # (k, n)
    valid = (ref_t >= r_times[0]) & (ref_t <= r_times[-1])
    usable = valid.sum(axis=1) >= max(2, 0.8 * len(q_times))
    if not usable.any():
        return None
    ref_t, valid, offsets = ref_t[usable], valid[usable], offsets[usable]
    j = np.clip(np.searchsorted(r_times, ref_t), 1, len(r_times) - 1)
    a = np.clip((ref_t - r_times[j - 1]) / (r_times[j] - r_times[j - 1]), 0, 1)[..., None]
    ref = r_cells[j - 1] * (1 - a) + r_cells[j] * a  # (k, n, c)
    w = (valid[..., None] & q_shown[None]).astype(np.float32)  # (k, n, c)
    per_frame = _masked_pearson(q_cells[None], ref, w, axis=2)  # (k, n)
    frame_weight = valid.astype(np.float32)
    spatial = (per_frame * frame_weight).sum(axis=1) / frame_weight.sum(axis=1)
    temporal = _masked_pearson(q_cells[None], ref, w, axis=1, pooled=True)  # (k,)
    i = int(np.argmax(spatial + temporal))
    return (float(spatial[i]), float(temporal[i]), float(speed), float(offsets[i]),
            per_frame[i], valid[i])


def _masked_pearson(x, y, w, axis, pooled=False):
    """Pearson correlation of x and y along ``axis`` counting only where w is 1 (centred
    on the weighted means along that axis); ``pooled``: one correlation per line over
    every (frame, cell) of the centred values, instead of one per slice."""
    count = np.maximum(w.sum(axis=axis, keepdims=True), 1.0)
    dx = (x - (w * x).sum(axis=axis, keepdims=True) / count) * w
    dy = (y - (w * y).sum(axis=axis, keepdims=True) / count) * w
    sums = (1, 2) if pooled else axis
    return (dx * dy).sum(axis=sums) / (np.sqrt((dx ** 2).sum(axis=sums) * (dy ** 2).sum(axis=sums)) + 1e-6)
