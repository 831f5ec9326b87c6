"""Aligned-picture agreement: a photometric check of an ORB fit.

The inlier cells of a RANSAC fit are the engine's evidence that a query shows a registered
picture, but fits between unrelated pictures reach up to 9 cells by chance, so on cells
alone a copy needs 10 (matching.SCORE_WEIGHTS): a quarter of a textured picture under heavy
JPEG often keeps fewer. A fit also says where the work sits in the query, so the two pictures can be
compared there: the registered picture's stored grey thumbnail, warped by the fit into the
query's frame, against the query's own grey, both band-passed (a difference of Gaussians:
the smooth gradients any two pictures share drop out, and so do JPEG blocks and noise) and
correlated over the part of the query the work covers. On the calibration split copies'
fits agree at 0.9 (median; 0.68 at the 5th percentile), chance fits of 6 cells or more
agreed at 0.43 at most (``scripts/eval_image_looks.py`` prints the highest).

The registered side costs a ``THUMBNAIL_SIDE`` grey JPEG in the stored fingerprint (about
4 KB); the query side a ``QUERY_GRAY_SIDE`` grey picture, which a query descriptor carries
(descriptors.py) so that a lookup without upload agrees with the upload.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
from PIL import Image

from registry.fingerprints.frames import gray_at

THUMBNAIL_SIDE = 128  # long side of the registered picture's stored grey thumbnail
THUMBNAIL_QUALITY = 90  # JPEG quality it is stored at (the comparison survives q10 queries)
QUERY_GRAY_SIDE = 128  # long side of the query's grey picture the thumbnail is compared with
# Band-pass: detail finer than FINE_SIGMA pixels is JPEG blocking and noise, coarser than
# COARSE_SIGMA the gradients unrelated pictures share.
FINE_SIGMA = 0.7
COARSE_SIGMA = 3.0
EDGE_PIXELS = 7  # the band-pass smears the covered area's edge: leave that much out
MIN_PIXELS = 64  # fewer covered pixels than this compare nothing (a sliver of the query)


def gray_picture(rgb: Image.Image, side: int) -> np.ndarray:
    """Grey levels (h, w) uint8 of ``rgb`` at a long side of ``side`` (bilinear: the values
    above were measured with it)."""
    return gray_at(rgb, side, Image.Resampling.BILINEAR)


def encode_thumbnail(rgb: Image.Image) -> bytes:
    """The stored thumbnail: a grey JPEG with a long side of THUMBNAIL_SIDE."""
    out = io.BytesIO()
    Image.fromarray(gray_picture(rgb, THUMBNAIL_SIDE)).save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def decode_thumbnail(data: bytes) -> np.ndarray:
    """A stored thumbnail's grey levels (the registry wrote it: not untrusted input)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), np.uint8)


def band_pass(gray: np.ndarray) -> np.ndarray:
    """The band-passed grey levels (float32) that agreement() correlates."""
    gray = gray.astype(np.float32, copy=False)
    return cv2.GaussianBlur(gray, (0, 0), FINE_SIGMA) - cv2.GaussianBlur(gray, (0, 0), COARSE_SIGMA)


def agreement(query_band: np.ndarray, thumbnail: np.ndarray, model: np.ndarray,
              reference_frame: tuple[int, int]) -> float | None:
    """Correlation in [-1, 1] of the band-passed query (``band_pass`` of its grey picture,
    once per query rather than per fit) and the band-passed thumbnail where ``model`` (2x3,
    taking the query grey's pixels onto the reference's ORB frame of ``reference_frame``
    pixels) puts the work; None when it covers too little of the query to tell."""
    height, width = query_band.shape
    thumb_h, thumb_w = thumbnail.shape
    onto_thumb = np.diag([thumb_w / reference_frame[0], thumb_h / reference_frame[1]])
    warp = (onto_thumb @ model).astype(np.float32)
    flags = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    warped = cv2.warpAffine(thumbnail.astype(np.float32), warp, (width, height), flags=flags)
    inside = cv2.warpAffine(np.ones(thumbnail.shape, np.uint8), warp, (width, height),
                            flags=cv2.WARP_INVERSE_MAP | cv2.INTER_NEAREST)
    covered = cv2.erode(inside, np.ones((EDGE_PIXELS, EDGE_PIXELS), np.uint8)) > 0
    if covered.sum() < MIN_PIXELS:
        return None
    a = query_band[covered]
    b = band_pass(warped)[covered]
    a, b = a - a.mean(), b - b.mean()
    norm = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / norm) if norm > 0 else 0.0
