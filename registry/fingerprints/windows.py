"""Crop-window search: a reframed copy found as a window of a registered picture.

A crop keeping a quarter of a work, rescaled and compressed to JPEG quality 10-30, often
keeps too few ORB keypoints for a fit (the work's 300 stored keypoints hardly fall inside
the window, and the query's corners drown in blocking), so the local features find
nothing to verify. The pictures still agree where the crop came from: the query's grey
picture, shrunk to the registered thumbnail's scale, is a window of that thumbnail. So the
engine's last look slides the query over the stored thumbnails (agreement.py: 128-pixel
grey, band-passed alike, which drops JPEG blocks and the gradients any two pictures share)
of the candidates the other looks ranked highest, at every scale from the one where the
query spans the whole work on one side down to the one where it keeps MIN_AREA of it,
plain and mirrored, and keeps the best normalised correlation (``cv2.matchTemplate``).

Only crops and reframes (axis-aligned windows at the work's own aspect) are searched:
rotated copies and copies on a canvas have keypoints that the fits find. The correlation
is scored above what the search reaches between unrelated pictures (matching.WINDOW_*:
being a maximum over a few hundred placements, that is higher than a fit's agreement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from registry.fingerprints.agreement import THUMBNAIL_SIDE, band_pass
from registry.fingerprints.image import trim_borders

MIN_AREA = 0.25  # the smallest share of the work a window keeps (the reframes searched)
SCALE_STEP = 1.03  # between tried scales: 3% of a window's side is under 2 thumbnail pixels
MARGIN = 3  # band-passed pixels at a window's edge left out (the blur reaches past it)
MIN_SIDE = 16  # a window narrower than this (after the margins) compares too little
COARSE_KEEP = 3  # (scale, mirroring) pairs compared again at full resolution
REFINE_REACH = 3  # full-resolution pixels around a coarse position compared again
BAR_TOLERANCE = 5  # grey levels a bar's rows and columns stay within (image.trim_borders)
# Band-passed detail (standard deviation, grey levels) below which a window has nothing to
# compare: a flat picture correlates at 1.0 with any flat part of a work.
MIN_DETAIL = 1.0


@dataclass(frozen=True)
class Window:
    """Where the query sits in the registered picture, as the best window found: the
    fields mean what ``matching.Fit``'s do (a window is a fit without rotation)."""

    correlation: float  # band-passed grey, in [-1, 1] (at half resolution if not refined)
    scale: float  # the query's long side in units of the work's
    tx: float  # the query's top-left corner in the work, as a fraction of its width
    ty: float  # ... and of its height
    coverage: float  # the window's share of the work
    mirrored: bool  # the transform applies to the mirrored query


class QueryWindows:
    """One query's band-passed grey picture at the sizes the search tries, each made once
    (works with thumbnails of one shape share them)."""

    def __init__(self, gray: np.ndarray):
        # Bars and a plain canvas go first: a reframe has none, and their straight steps
        # correlate with any straight edge of a work (a pillarboxed clock picture reached
        # 0.73 on a bikes frame, untrimmed, on the calibration draws). Only flat ones: the
        # pHash's tolerance also trims skies and smooth margins off a third of the bar-less
        # reframes of calibration draw 12 (BAR_TOLERANCE: 28 of 143; bars 116 of 137).
        self.gray = np.asarray(trim_borders(Image.fromarray(gray), BAR_TOLERANCE))
        self.ceiling = THUMBNAIL_SIDE / min(self.gray.shape)  # no window's scale is larger
        self._patches: dict[tuple[int, int], _Patch] = {}

    def _patch(self, width: int, height: int) -> _Patch:
        """The query at (width, height), made when first asked for (a size the coarse pass
        skips is only made if a window near it is refined)."""
        key = (width, height)
        if key not in self._patches:
            small = cv2.resize(self.gray, key, interpolation=cv2.INTER_AREA)
            self._patches[key] = _Patch(band_pass(small)[MARGIN:height - MARGIN,
                                                         MARGIN:width - MARGIN])
        return self._patches[key]

    def search(self, thumbnail_band: np.ndarray, refine_from: float = -1.0) -> Window | None:
        """The best window of the band-passed thumbnail (``agreement.band_pass`` of a
        stored thumbnail), or None when the query is too small or too flat to search.

        Every other scale, plain and mirrored, is compared at half the resolution first
        (a sixteenth of the work); the COARSE_KEEP best are compared again at full
        resolution around where they landed, at their scale and the two beside it, and
        the best of those is the window. When no coarse window reaches ``refine_from``,
        the best coarse one is the window, unrefined (a third of the search's time)."""
        thumb_h, thumb_w = thumbnail_band.shape
        query_h, query_w = self.gray.shape
        largest = min(thumb_w / query_w, thumb_h / query_h)  # spans the work on one side
        smallest = min(largest, math.sqrt(MIN_AREA * thumb_w * thumb_h / (query_w * query_h)))
        # the scale that spans the work, then one grid for every work below it, so that
        # works of other shapes share the query's patches
        grid = self.ceiling / SCALE_STEP ** np.arange(
            math.ceil(math.log(self.ceiling / largest) / math.log(SCALE_STEP) + 1e-9),
            math.floor(math.log(self.ceiling / smallest) / math.log(SCALE_STEP) + 1e-9) + 1)
        sizes: list[tuple[int, int] | None] = []
        for ratio in (largest, *grid[grid < largest / SCALE_STEP ** 0.5]):
            size = (round(query_w * ratio), round(query_h * ratio))
            if min(size) - 2 * MARGIN < MIN_SIDE:
                break  # smaller ones are narrower still
            sizes.append(size if size[0] <= thumb_w and size[1] <= thumb_h else None)
        coarse_thumbnail = _half(thumbnail_band)
        tried = []
        for step in range(0, len(sizes), 2):
            compared = sizes[step]
            if compared is not None and (patch := self._usable(compared)) is not None:
                for mirrored in (False, True):
                    value, at = _best(coarse_thumbnail, patch.coarse(mirrored))
                    tried.append((value, step, mirrored, at, compared))
        tried.sort(reverse=True)
        if tried and tried[0][0] < refine_from:
            value, _, mirrored, (x, y), compared = tried[0]
            return _window(value, compared, 2 * x, 2 * y, mirrored, thumbnail_band.shape)
        best: Window | None = None
        for _, step, mirrored, (x, y), _ in tried[:COARSE_KEEP]:
            for near in range(max(0, step - 1), min(len(sizes), step + 2)):
                fine = sizes[near]
                if fine is None or (patch := self._usable(fine)) is None:
                    continue
                band = patch.full(mirrored)
                left, top = max(0, 2 * x - REFINE_REACH), max(0, 2 * y - REFINE_REACH)
                region = thumbnail_band[top:2 * y + REFINE_REACH + band.shape[0],
                                        left:2 * x + REFINE_REACH + band.shape[1]]
                if region.shape[0] < band.shape[0] or region.shape[1] < band.shape[1]:
                    continue
                value, (dx, dy) = _best(region, band)
                if best is None or value > best.correlation:
                    best = _window(value, fine, left + dx, top + dy, mirrored, thumbnail_band.shape)
        return best

    def _usable(self, size: tuple[int, int] | None) -> _Patch | None:
        """The patch of this size when it fits the work and has detail to compare."""
        if size is None:
            return None
        patch = self._patch(*size)
        return patch if patch.detail >= MIN_DETAIL else None


class _Patch:
    """A band-passed query size (less its margins), plain and mirrored, full and halved."""

    def __init__(self, band: np.ndarray):
        self.detail = float(band.std())
        self._full = (np.ascontiguousarray(band), np.ascontiguousarray(band[:, ::-1]))
        self._coarse = tuple(_half(b) for b in self._full)

    def full(self, mirrored: bool) -> np.ndarray:
        return self._full[mirrored]

    def coarse(self, mirrored: bool) -> np.ndarray:
        return self._coarse[mirrored]


def _window(correlation: float, size: tuple[int, int], x: int, y: int, mirrored: bool,
            thumbnail_shape: tuple[int, ...]) -> Window:
    """The window of a query ``size`` whose patch (less its margins) sits at (x, y) in
    full-resolution thumbnail pixels."""
    thumb_h, thumb_w = thumbnail_shape
    return Window(correlation, max(size) / max(thumb_w, thumb_h), (x - MARGIN) / thumb_w,
                  (y - MARGIN) / thumb_h, size[0] * size[1] / (thumb_w * thumb_h), mirrored)


def _half(band: np.ndarray) -> np.ndarray:
    return cv2.resize(band, (max(1, band.shape[1] // 2), max(1, band.shape[0] // 2)),
                      interpolation=cv2.INTER_AREA)


def _best(image: np.ndarray, template: np.ndarray) -> tuple[float, tuple[int, int]]:
    """The highest normalised correlation of ``template`` over ``image`` and where."""
    scores = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
    _, value, _, at = cv2.minMaxLoc(scores)
    return float(value), (int(at[0]), int(at[1]))
