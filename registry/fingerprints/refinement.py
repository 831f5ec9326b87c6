"""Steps 4 and 5 of the reframe search (reframe.py): given transforms fitted on some of a
query clip's frames, the line ``ref_t = speed * query_t + offset`` through a registered
clip's grey grids that the query's frames agree with best.

* **Sampling.** Every grey query frame is read, through the transform interpolated to its
  time (``_motion_at``), at the cells of the registered frames' grids (``_sample_cells``).
* **Line search.** A line is scored by how the query's cells agree with the registered
  grids interpolated at ``speed * t + offset``: the Pearson correlation of the spatial
  pattern frame by frame (which shot, which part of it) plus that of every cell's
  variation over time (when, to the frame). A coarse-to-fine grid over speeds in
  [0.5, 2] and offsets around the anchors' lines keeps the best (``_Scored.search``).
* **Polish.** The fitted transforms come from keyframes up to half a second from the
  frame and from RANSAC on a dozen inliers: a few pixels and per cent off. In a small
  picture-in-picture a cell is a dozen query pixels, so such an error reads every cell
  across its neighbours' edges, and the line that best absorbs it can be a frame or two
  off (on the clip calibration draw a 38%-wide inset of bikes came out 61 ms early at
  1.042x: the true line scored 1.21, the chosen one 1.24). So a line that already
  correlates is polished: one shift and scale of every frame's transform, found by
  coordinate ascent on the line's merit, then the fine search again (``_polished``).

Colour changes and re-encoding are affine in luminance, which Pearson correlation ignores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from registry.fingerprints.alignment import AlignParams
from registry.fingerprints.frames import work_size
from registry.fingerprints.image import QUERY_WORK_SIDE, WORK_SIDE
from registry.fingerprints.keyframes import GRID_SIDE

# Chosen on the calibration split (clip_evalset.reframe_queries("calibration")): a
# log-speed penalty of 0.15 (per unit of |ln speed|) is the middle of the range
# (0.135-0.17) that put every calibration copy at its true speed without pulling the
# 1.25x and 1.5x ones to 1x.
SPEED_PRIOR = 0.15
SPEED_PRIOR_SLACK = 0.005
STANDARD_SPEEDS = AlignParams().standard_speeds
MIN_CELLS = 8  # registered grid cells a query frame must show to be compared
MOTION_BANDWIDTH_S = 0.75  # set from the looks' spacing (0.5 s), not tuned
_SUB = 4  # samples per cell side when a cell is read through the transform
# The polish (steps set from the grid's geometry; POLISH_SPEEDS chosen on the calibration
# draw: 1 speed gave 24/28 strictly, 3 and 5 gave 25): lines whose spatial and temporal
# correlations both reach POLISH_MIN_CORRELATION (a wrong transform correlates near 0,
# and a local search cannot find the right one from there); first steps of a quarter
# cell and 3% of scale, halved POLISH_ROUNDS - 1 times (at most POLISH_MAX_PASSES passes
# over the three each time); each step's line chosen among
# POLISH_SPEEDS speeds within 3% of the line's, at offsets within 60 ms.
POLISH_MIN_CORRELATION = 0.4
POLISH_FIRST_SHIFT_CELLS = 0.25
POLISH_FIRST_SCALE = 0.03
POLISH_ROUNDS = 3
POLISH_MAX_PASSES = 8
POLISH_SPEEDS = 3
_FINE_SPEEDS = 25
_FINE_SPREAD_S, _FINE_STEP_S = 0.06, 0.005


class Line(NamedTuple):
    """A scored line ``ref_t = speed * query_t + offset``."""

    spatial: float  # mean over frames of the frame's spatial correlation
    temporal: float  # pooled correlation of the cells' variations over time
    speed: float
    offset: float
    per_frame: np.ndarray  # (n,) each frame's spatial correlation
    valid: np.ndarray  # (n,) frames the line puts inside the registered clip

    @property
    def merit(self) -> float:
        return merit(self.spatial, self.temporal, self.speed)


def merit(spatial: float, temporal: float, speed: float) -> float:
    """A line's spatial + temporal correlation less the speed prior: in a slow shot a
    line at half or twice the speed can fit a little better than the true one, while
    most re-used footage plays at 1x."""
    return spatial + temporal - SPEED_PRIOR * abs(math.log(speed))


@dataclass(frozen=True)
class ReferenceGrid:
    """What the search reads of a registered clip besides its keyframes' descriptors."""

    times: np.ndarray  # (n,) seconds
    grid: np.ndarray  # (n, GRID_SIDE**2) uint8
    size: tuple[int, int]  # the clip's frame (width, height)
    key_times: np.ndarray  # (k,) seconds of its keyframes


def best_line(times: np.ndarray, grays: np.ndarray, fits, ref: ReferenceGrid,
              anchors: np.ndarray) -> tuple[Line, np.ndarray] | None:
    """The best line for the query frames ``grays`` at ``times`` read through ``fits``
    ((time, Fit, mirrored) on the looks, one mirroring), polished, and the times of the
    frames it was scored on; None when no line keeps most of the query in the clip.
    ``anchors``: (query_t, ref_t) hits the coarse search starts from."""
    mirrored = fits[0][2]
    grays = grays.astype(np.float32)
    transforms = _frame_transforms(grays[0].shape, times, fits, ref.size)
    cells = _Cells(times, grays, ref, mirrored)
    scored = cells.at(transforms)
    if scored is None:
        return None
    line = scored.search(anchors)
    if line is None:
        return None
    return _polished(line, scored, cells, transforms)


class _Cells:
    """The query's frames, read at the registered grid's cells through given transforms."""

    def __init__(self, times, grays, ref: ReferenceGrid, mirrored: bool):
        self.times, self.grays, self.ref, self.mirrored = times, grays, ref, mirrored

    def at(self, transforms: np.ndarray) -> _Scored | None:
        query_cells, shown = _sample_cells(self.grays, transforms, self.ref.size, self.mirrored)
        # Each frame is compared on the cells it shows: a pan-and-scan window, or a fit
        # off by a little, shows different cells in different frames. Frames showing too
        # few cells sit out; so do cells no frame shows.
        seen = shown.sum(axis=1) >= MIN_CELLS
        used = shown[seen].any(axis=0)
        if seen.sum() < 2:
            return None
        return _Scored(self.times[seen], query_cells[seen][:, used], shown[seen][:, used],
                       self.ref.times, self.ref.grid[:, used].astype(np.float32))


class _Scored(NamedTuple):
    """Sampled query cells against the registered grids (the cells some frame shows)."""

    q_times: np.ndarray
    q_cells: np.ndarray
    q_shown: np.ndarray
    r_times: np.ndarray
    r_cells: np.ndarray

    def score(self, speed: float, offsets: np.ndarray) -> Line | None:
        return _score_lines(*self, speed, offsets)

    def near(self, speed: float, offset: float, n_speeds: int,
             beat: Line | None = None) -> Line | None:
        """The best line within 3% of ``speed`` (``n_speeds`` of them) and 60 ms of the
        best so far (at first the line (speed, offset)), turned about the query's
        middle; with ``beat``, that line unless one scores better."""
        best = beat
        middle = float(np.median(self.q_times))
        for s in speed * np.exp(np.linspace(-0.03, 0.03, n_speeds)):
            around = (speed, offset) if best is None else (best.speed, best.offset)
            centre = around[1] + (around[0] - s) * middle
            found = self.score(s, centre + np.arange(-_FINE_SPREAD_S, _FINE_SPREAD_S + 1e-9,
                                                     _FINE_STEP_S))
            if found is not None and (best is None or found.merit > best.merit):
                best = found
        return best

    def search(self, anchors: np.ndarray) -> Line | None:
        """The best line over a coarse grid around the anchors' lines, then a fine one
        around the best (``prefer_standard``)."""
        best = None
        for s in np.exp(np.linspace(math.log(0.5), math.log(2.0), 61)):
            step = 0.04
            offsets = np.unique(np.round(np.concatenate(
                [r - s * q + np.arange(-0.8, 0.8 + 1e-9, step) for q, r in anchors]) / step)) * step
            found = self.score(s, offsets)
            if found is not None and (best is None or found.merit > best.merit):
                best = found
        if best is None:
            return None
        return self.prefer_standard(self.near(best.speed, best.offset, _FINE_SPEEDS, beat=best) or best)

    def prefer_standard(self, best: Line) -> Line:
        """A standard edit speed near ``best``'s (24/25 and 25/24 are frame-rate
        conversions) that scores almost as well: a slow drift fits a rate a few % off."""
        preferred = None
        middle = float(np.median(self.q_times))
        for s in STANDARD_SPEEDS:
            if abs(s / best.speed - 1) > 0.1:
                continue
            centre = best.offset + (best.speed - s) * middle
            found = self.score(s, centre + np.arange(-_FINE_SPREAD_S, _FINE_SPREAD_S + 1e-9,
                                                     _FINE_STEP_S))
            if found is not None and found.merit >= best.merit - SPEED_PRIOR_SLACK \
                    and (preferred is None or found.merit > preferred.merit):
                preferred = found
        return preferred or best


def _polished(line: Line, scored: _Scored, cells: _Cells,
              transforms: np.ndarray) -> tuple[Line, np.ndarray]:
    """``line`` after correcting every frame's transform by one shift and scale (about
    the reference frame's centre) that raises its merit most, found by coordinate
    ascent; the line itself unchanged when no correction helps."""
    unpolished = (line, scored.q_times)
    if min(line.spatial, line.temporal) < POLISH_MIN_CORRELATION:
        return unpolished
    width, height = work_size(*cells.ref.size, WORK_SIDE)
    cx, cy = width / 2, height / 2

    def correction(p: np.ndarray) -> np.ndarray:
        k = math.exp(p[2])
        return np.array([[k, 0, cx + p[0] - k * cx], [0, k, cy + p[1] - k * cy], [0, 0, 1.0]])

    def merit(p: np.ndarray) -> float:
        corrected = cells.at(correction(p) @ transforms)
        found = None if corrected is None else corrected.near(line.speed, line.offset, POLISH_SPEEDS)
        return -math.inf if found is None else found.merit

    shift = POLISH_FIRST_SHIFT_CELLS * max(width, height) / GRID_SIDE
    steps = np.array([shift, shift, POLISH_FIRST_SCALE])  # x, y (reference px), ln scale
    params, current = np.zeros(3), line.merit
    for _ in range(POLISH_ROUNDS):
        for _ in range(POLISH_MAX_PASSES):  # bounded: a pass that gains nothing ends the round
            improved = False
            for axis in range(3):
                for sign in (1, -1):
                    trial = params.copy()
                    trial[axis] += sign * steps[axis]
                    value = merit(trial)
                    if value > current + 1e-4:
                        params, current, improved = trial, value, True
            if not improved:
                break
        steps = steps / 2
    if not params.any():
        return unpolished
    corrected = cells.at(correction(params) @ transforms)
    if corrected is None:
        return unpolished
    found = corrected.near(line.speed, line.offset, _FINE_SPEEDS)
    if found is None or found.merit <= line.merit:
        return unpolished
    return corrected.prefer_standard(found), corrected.q_times


def _motion_at(t: float, times: np.ndarray, weights: np.ndarray, models: np.ndarray) -> np.ndarray:
    """The transform at ``t``: a local linear fit over time of the fitted transforms
    (weighted by their inlier cells, and by closeness to ``t``: ``MOTION_BANDWIDTH_S``).
    A fit half a second from its keyframe is off by the motion between them, and
    straight interpolation through such fits makes the window jitter; the local line
    smooths that out and follows a pan, past the last fit too."""
    closeness = -0.5 * ((times - t) / MOTION_BANDWIDTH_S) ** 2
    # relative to the nearest fit's: a frame half a minute from every fit (a long clip)
    # would otherwise weigh them all 0 and get no transform at all
    w = weights * np.exp(closeness - closeness.max())
    second = np.sort(w)[-2] if len(w) > 1 else 0.0
    if len(times) < 2 or np.ptp(times) < 1e-6 or second < 1e-6 * w.max():
        # one fit carries it all: a line through one point is no line (lstsq would shrink it)
        return (w[:, None] * models).sum(axis=0) / max(w.sum(), 1e-12)
    design = np.stack([np.ones_like(times), times - t], axis=1) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design, models * np.sqrt(w)[:, None], rcond=None)
    return coef[0]


def _frame_transforms(gray_shape: tuple[int, int], times: np.ndarray, fits,
                      ref_size: tuple[int, int]) -> np.ndarray:
    """(n, 3, 3): each query frame's transform from its work frame to the reference's
    at its time."""
    h, w = gray_shape
    q_work, r_work = work_size(w, h, QUERY_WORK_SIDE), work_size(*ref_size, WORK_SIDE)
    models = np.array([f.model(q_work, r_work).ravel() for _, f, _ in fits])
    fit_times = np.array([t for t, _, _ in fits])
    fit_weights = np.array([f.cells for _, f, _ in fits], np.float64)
    out = np.zeros((len(times), 3, 3))
    out[:, 2, 2] = 1.0
    for i, t in enumerate(times):
        out[i, :2] = _motion_at(t, fit_times, fit_weights, models).reshape(2, 3)
    return out


def _sample_cells(grays, transforms, ref_size, mirrored):
    """(n, GRID_SIDE**2) mean grey of each registered grid cell as seen in each query
    frame through its transform, and which cells each frame shows."""
    h, w = grays[0].shape
    q_work, r_work = work_size(w, h, QUERY_WORK_SIDE), work_size(*ref_size, WORK_SIDE)
    sub = (np.arange(GRID_SIDE * _SUB) + 0.5) / (GRID_SIDE * _SUB)
    gx, gy = np.meshgrid(sub * r_work[0], sub * r_work[1])
    ref_points = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
    cells = np.empty((len(grays), GRID_SIDE * GRID_SIDE), np.float32)
    shown = np.zeros((len(grays), GRID_SIDE * GRID_SIDE), bool)
    shape = (GRID_SIDE * _SUB, GRID_SIDE * _SUB)
    for i, (m, gray) in enumerate(zip(transforms, grays, strict=True)):
        if not np.isfinite(m).all() or abs(np.linalg.det(m[:2, :2])) < 1e-9:
            cells[i] = 0.0  # a degenerate transform (a fit's scale carried through 0) shows nothing
            continue
        qx, qy = np.linalg.inv(m)[:2] @ ref_points
        qx, qy = qx * w / q_work[0], qy * h / q_work[1]
        if mirrored:
            qx = w - 1 - qx
        ok = (qx >= 0) & (qx <= w - 1) & (qy >= 0) & (qy <= h - 1)
        shown[i] = ok.reshape(GRID_SIDE, _SUB, GRID_SIDE, _SUB).all(axis=(1, 3)).ravel()
        # points off the frame read the border (0) either way; clipped, they stay finite in float32
        picked = cv2.remap(gray, np.clip(qx, -1, w).reshape(shape).astype(np.float32),
                           np.clip(qy, -1, h).reshape(shape).astype(np.float32), cv2.INTER_LINEAR)
        cells[i] = picked.reshape(GRID_SIDE, _SUB, GRID_SIDE, _SUB).mean(axis=(1, 3)).ravel()
    return cells, shown


def _score_lines(q_times, q_cells, q_shown, r_times, r_cells, speed, offsets) -> Line | None:
    """The best of the lines ``ref_t = speed * t + offset`` (offsets keeping 80% of the
    frames inside the registered clip): the spatial correlation averaged over frames
    plus the temporal one (``_correlations``)."""
    ref_t = speed * q_times[None, :] + offsets[:, None]  # (k, n)
    valid = (ref_t >= r_times[0]) & (ref_t <= r_times[-1])
    usable = valid.sum(axis=1) >= max(2, 0.8 * len(q_times))
    if not usable.any():
        return None
    ref_t, valid, offsets = ref_t[usable], valid[usable], offsets[usable]
    j = np.clip(np.searchsorted(r_times, ref_t), 1, len(r_times) - 1)
    a = np.clip((ref_t - r_times[j - 1]) / (r_times[j] - r_times[j - 1]), 0, 1)
    a = a.astype(np.float32)[..., None]
    ref = r_cells[j - 1] * (1 - a) + r_cells[j] * a  # (k, n, c)
    spatial, temporal, per_frame = _correlations(q_cells, q_shown, ref, valid)
    i = int(np.argmax(spatial + temporal))
    return Line(float(spatial[i]), float(temporal[i]), float(speed), float(offsets[i]),
                per_frame[i], valid[i])


def _correlations(x: np.ndarray, shown: np.ndarray, y: np.ndarray, valid: np.ndarray):
    """For query cells ``x`` (n, c) shown where ``shown``, against each line's reference
    cells ``y`` (k, n, c) on its ``valid`` (k, n) frames: the spatial Pearson correlation
    per frame over the cells it shows (k, n; 0 off the clip) and its mean over the valid
    frames (k,), and the temporal one (k,): every cell's variation about its own mean over
    the frames that show it, pooled over the cells. Written as sums of products (one pass
    over the (k, n, c) values each), four times faster than centring them."""
    # a common shift leaves every correlation alone and keeps float32 sums of squares exact
    x, y = x - np.float32(128), y - np.float32(128)
    m, v = shown.astype(np.float32), valid.astype(np.float32)
    count = np.maximum(m.sum(axis=1), 1.0)  # (n,)
    xc = (x - (m * x).sum(axis=1, keepdims=True) / count[:, None]) * m
    sy = np.einsum("knc,nc->kn", y, m)
    syy = np.einsum("knc,nc->kn", y * y, m)
    sxy = np.einsum("knc,nc->kn", y, xc)
    y_norm = np.sqrt(np.maximum(syy - sy * sy / count, 0.0))
    per_frame = sxy / (np.sqrt((xc * xc).sum(axis=1)) * y_norm + 1e-6) * v
    spatial = per_frame.sum(axis=1) / v.sum(axis=1)
    count_t = np.maximum(v @ m, 1.0)  # (k, c)
    sx_t, sxx_t = v @ (m * x), v @ (m * x * x)
    ym = y * m[None]
    sy_t = np.einsum("knc,kn->kc", ym, v)
    syy_t = np.einsum("knc,kn->kc", ym * y, v)
    sxy_t = np.einsum("knc,kn->kc", ym * x, v)
    cov = (sxy_t - sx_t * sy_t / count_t).sum(axis=1)
    var_x = np.maximum((sxx_t - sx_t * sx_t / count_t).sum(axis=1), 0.0)
    var_y = np.maximum((syy_t - sy_t * sy_t / count_t).sum(axis=1), 0.0)
    temporal = cov / (np.sqrt(var_x * var_y) + 1e-6)
    return spatial, temporal, per_frame
