"""Image fingerprints: safe loading, 64-bit pHash variants and ORB local descriptors.

Every descriptor is a fixed-width binary code compared by Hamming distance, so the
registry can keep them in faiss `IndexBinary*` indexes:

* ``phash`` -- 64-bit ``imagehash.phash`` of the normalised image. Always present:
  clients compute it locally and look works up by this hash alone.
* ``phash_trimmed`` -- 64-bit pHash after trimming uniform borders. Letterbox /
  pillarbox bars and plain canvases move the global DCT a lot; trimming both sides
  to their content makes them comparable again.
* ``orb_descriptors`` + ``orb_points`` + ``orb_angles`` -- up to
  ``ORB_REFERENCE_FEATURES`` 256-bit ORB (rBRIEF) codes with their keypoint
  positions and orientations. They survive crops, canvas placement and rotation,
  which no global hash does; positions and angles let the matcher verify a
  candidate geometrically (RANSAC) instead of trusting raw code votes.

Query images additionally get mirrored variants (see ``query_descriptors``), which
costs nothing in storage. What each descriptor buys is measured by the ablation in
scripts/eval_fingerprints.py.
"""

from __future__ import annotations

import base64
import io
import struct
from dataclasses import dataclass, field, replace
from functools import cached_property

import cv2
import imagehash
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from registry.fingerprints.agreement import QUERY_GRAY_SIDE, encode_thumbnail, gray_picture
from registry.fingerprints.errors import (
    CorruptMedia,
    DecompressionBomb,
    MediaError,
    NotMedia,
    TruncatedMedia,
)
from registry.fingerprints.frames import gray_at

# 2: a grey thumbnail of the registered picture for the aligned-picture check
# (agreement.py); version 1 fingerprints match without it until fingerprinted again.
FINGERPRINT_VERSION = 2

# Local features are computed on a copy resized so its long side is WORK_SIDE: it
# makes keypoint positions comparable across resolutions and keeps ORB cost flat.
# Queries use a larger frame: a work pasted into a bigger canvas (or cropped and
# shrunk) is then still near its registered scale instead of below ORB's pyramid.
WORK_SIDE = 512
QUERY_WORK_SIDE = 768
# Second looks, taken only when the first finds no copy: a reframed crop is the work
# magnified, so its keypoints meet the registered ones at a smaller frame; a work shown
# picture-in-picture is a small part of the query, met at a larger one. (On the
# calibration split, 512 alone finds 97% of reframes but fewer insets, 1024 alone 96% of
# insets but 78% of reframes; 768 lies between.)
QUERY_RETRY_SIDES = (512, 1024)
# A small picture (long side SMALL_QUERY_SIDE or less: often a reframed crop shrunk to a
# quarter) takes SMALL_QUERY_RETRY_SIDES instead: 1024 would magnify it four times or more,
# blurring away what ORB finds, while a crop keeping 25-40% of a work spans 50-63% of the
# registered 512-px side (about 320 px), and one shrunk as well meets it smaller still. Its
# looks are small, so they cost less than a large picture's two. On calibration-pool draws
# 12-15 (README) reframes with edits 134 -> 138/144 and reframes 141 -> 142/144, with 5 false
# copies in 1,240 never-registered pictures instead of 3 (320 alone: 136, 142 and 4).
SMALL_QUERY_SIDE = 256
SMALL_QUERY_RETRY_SIDES = (512, 320, 224)
INSET_WORK_SIDE = 512  # a picture-in-picture cut-out is described at the registered scale
ORB_REFERENCE_FEATURES = 300  # stored per registered image, 37 bytes each (200: combo recall 94%)
ORB_QUERY_FEATURES = 1000  # queries are not stored, so they can afford more
ORB_CODE_BYTES = 32  # 256-bit rBRIEF
# A low FAST threshold still finds corners after contrast loss, blur or JPEG q10;
# flat pictures (an overhead shot of asphalt) retry lower until enough are found.
ORB_FAST_THRESHOLDS = (8, 4, 2)
ORB_GRID = 4  # keypoints are spread over a GRID x GRID layout so any 50% crop keeps some

# Picture-in-picture: a work pasted as an inset over other footage is bounded by four
# straight, axis-aligned steps that run its whole side. ``find_inset`` looks for the best
# such rectangle; the cut-out inset is hashed and described on its own (``InsetView``), so
# a 100-pixel inset is compared at the registered picture's scale instead of as a corner of
# the frame, where few of its keypoints survive and the backdrop's take the rest.
INSET_DETECT_SIDE = 640  # the search runs on a copy no larger than this (steps are ~2 px wide)
INSET_EDGE_MIN = 10.0  # a border pixel steps by this many levels of one channel across the line (Sobel / 4)
INSET_MIN_RUN = 0.12  # a candidate line holds one run of border pixels this share of the side
INSET_SIDE_SUPPORT = 0.5  # every side of the rectangle is border over at least this share ...
INSET_MEAN_SUPPORT = 0.75  # ... and the four sides over this share on average
INSET_AREA = (0.03, 0.7)  # share of the picture an inset may cover
INSET_MIN_PIXELS = 24  # nor shorter than this on either side (in the submitted picture)
INSET_MAX_LINES = 40  # strongest candidate lines kept per direction (the search is quartic)

# Border trimming: a border line is "bar" when nearly all of it is within this many
# grey levels of the bar colour (JPEG q10 ringing stays under it, content does not).
TRIM_TOLERANCE = 20
TRIM_MIN_KEEP = 0.1  # never trim an image down below 10% of a side: it is all "bar"

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")  # multi-picture phone JPEGs open as JPEG
DEFAULT_MAX_PIXELS = 40_000_000


# --------------------------------------------------------------------------- errors
# The package shares one typed hierarchy (registry.fingerprints.errors) with video;
# the image names below are subclasses, so callers may catch either.


class NotAnImageError(NotMedia):
    """The bytes are not an image in a supported format."""


class CorruptImageError(CorruptMedia):
    """The image's structure or coded data is damaged."""


class TruncatedImageError(TruncatedMedia, CorruptImageError):
    """The image file ends before its data does (an interrupted upload)."""


class ImageTooLargeError(DecompressionBomb):
    """The image declares more pixels than allowed (decompression-bomb guard)."""


# --------------------------------------------------------------------------- loading


def load_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode untrusted bytes into a fully loaded PIL image, or raise a MediaError:
    NotAnImageError, CorruptImageError / TruncatedImageError, ImageTooLargeError.

    Order matters: the pixel count is checked from the header *before* any pixel is
    decoded, ``verify()`` checks container integrity (e.g. PNG CRCs), and a full
    ``load()`` on a fresh object catches truncated scan data that verify() skips
    (JPEG). Pillow's own bomb check (``Image.MAX_IMAGE_PIXELS``) stays active as a
    process-wide backstop; ``max_pixels`` is the per-call, usually lower, limit.
    """
    if not data:
        raise NotAnImageError("empty upload: no image data")
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as probe:
            _check_pixels(probe.size, max_pixels)
            probe.verify()
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        image.load()
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image rejected as a decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise NotAnImageError(
            f"not a supported image (allowed formats: {', '.join(ALLOWED_FORMATS)})"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
            raise TruncatedImageError(f"the image file is truncated: {exc}") from exc
        raise CorruptImageError(f"the image data is corrupt: {exc}") from exc
    return image


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"image declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"image is {width}x{height} = {width * height} pixels, above the limit of {max_pixels}"
        )


def normalize_image(image: Image.Image) -> Image.Image:
    """RGB view of any PIL image, the way the fingerprint sees it.

    EXIF orientation is applied (a phone photo and its rotated re-save are the same
    work), transparency is flattened onto white (what viewers show), high bit-depth
    greyscale is scaled to 8 bits. For an ordinary RGB/L/P image without EXIF
    rotation, ``imagehash.phash(image)`` equals our ``phash``, so clients can hash
    locally with plain imagehash.
    """
    try:
        # (exif_transpose copies the picture even when it turns nothing: 160 MB at 40 MP)
        if image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
            image = ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block must not make the image unusable
        pass
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 1.0)
        return Image.fromarray(np.clip(pixels / top * 255.0, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


# --------------------------------------------------------------------------- pHash


def phash64(image: Image.Image) -> int:
    """64-bit imagehash.phash as an unsigned int (bit order of ``str(hash)``)."""
    return int(str(imagehash.phash(image)), 16)


def phash_bytes(code: int) -> bytes:
    """8-byte big-endian form used by faiss (Hamming distance is order-independent)."""
    return code.to_bytes(8, "big")


def trim_borders(image: Image.Image, tolerance: float = TRIM_TOLERANCE) -> Image.Image:
    """Crop uniform bars (letterbox, pillarbox, plain canvas) off an RGB image: rows and
    columns whose grey levels stay within ``tolerance`` of the bar's (90th percentile).

    Trimming repeats until stable so that nested borders (black bars around a white
    page) all go; the same function runs on registered and query images, so both
    sides converge to the same content box.
    """
    gray = image.convert("L")
    scale = min(1.0, 256 / max(image.size))  # the box only needs ~2 px precision
    small = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))),
                        Image.Resampling.BOX)
    g = np.asarray(small, dtype=np.int16)
    top, bottom, left, right = 0, g.shape[0], 0, g.shape[1]
    for _ in range(4):
        box = (top, bottom, left, right)
        top += _bar_width(g[top:bottom, left:right], tolerance)
        bottom -= _bar_width(g[top:bottom, left:right][::-1], tolerance)
        left += _bar_width(g[top:bottom, left:right].T, tolerance)
        right -= _bar_width(g[top:bottom, left:right].T[::-1], tolerance)
        if (top, bottom, left, right) == box:
            break
    h, w = g.shape
    if bottom - top < TRIM_MIN_KEEP * h or right - left < TRIM_MIN_KEEP * w:
        return image  # (nearly) uniform picture: there is no "content" to trim to
    if (top, bottom, left, right) == (0, h, 0, w):
        return image
    return image.crop((round(left / scale), round(top / scale),
                       round(right / scale), round(bottom / scale)))


def _bar_width(lines: np.ndarray, tolerance: float) -> int:
    """Number of leading rows of ``lines`` that have the colour of its first row."""
    if lines.size == 0:
        return 0
    bar = np.median(lines[0])
    deviation = np.percentile(np.abs(lines - bar), 90, axis=1)
    not_bar = np.nonzero(deviation > tolerance)[0]
    return int(not_bar[0]) if len(not_bar) else lines.shape[0]


def find_inset(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom) of the most rectangle-like inset in an RGB
    picture, or None.

    Horizontal and vertical steps (Sobel, in colour: ``_steps``) that dominate the other
    direction are border pixels; rows (columns) holding a long run of them are candidate
    lines. Every rectangle of candidate lines is scored by the share of each side that is
    border (a row's tolerance of +-1); the best one with every side at least
    INSET_SIDE_SUPPORT and a mean of INSET_MEAN_SUPPORT wins. A picture with no inset
    usually has no such rectangle; when it has one (a window, a page) the cut-out only
    adds a look that the matcher's chance calibration covers like any other.
    """
    pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    h0, w0 = pixels.shape[:2]
    scale = min(1.0, INSET_DETECT_SIDE / max(h0, w0))
    if scale < 1:  # a channel at a time: a 40-MP picture is 480 MB in float32
        size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
        rgb = np.stack([cv2.resize(pixels[..., c].astype(np.float32), size, interpolation=cv2.INTER_AREA)
                        for c in range(3)], axis=2)
    else:
        rgb = pixels.astype(np.float32)
    h, w = rgb.shape[:2]
    if min(h, w) < 8:
        return None
    gx, gy = _steps(rgb)
    ys, rows = _inset_lines((gy > INSET_EDGE_MIN) & (gy > 2 * gx), max(8, int(INSET_MIN_RUN * w)))
    xs, cols = _inset_lines(((gx > INSET_EDGE_MIN) & (gx > 2 * gy)).T, max(8, int(INSET_MIN_RUN * h)))
    if len(ys) < 2 or len(xs) < 2:
        return None
    # support[i, a, b]: share of line i between candidate lines a and b that is border
    row_sums = np.concatenate([np.zeros((h, 1)), np.cumsum(rows, 1)], 1)[ys][:, xs]
    col_sums = np.concatenate([np.zeros((w, 1)), np.cumsum(cols, 1)], 1)[xs][:, ys]
    widths = (xs[None, :] - xs[:, None]).astype(np.float64)  # [x1, x2]
    heights = (ys[None, :] - ys[:, None]).astype(np.float64)  # [y1, y2]
    with np.errstate(divide="ignore", invalid="ignore"):
        h_support = np.nan_to_num((row_sums[:, None, :] - row_sums[:, :, None]) / widths,
                                  nan=0.0)  # [y, x1, x2]
        v_support = np.nan_to_num(np.transpose((col_sums[:, None, :] - col_sums[:, :, None]) / heights,
                                               (1, 2, 0)), nan=0.0)  # [y1, y2, x]
    rw = widths[None]
    min_w, min_h = max(0.1 * w, INSET_MIN_PIXELS * scale), max(0.1 * h, INSET_MIN_PIXELS * scale)
    # Rectangles are scored one top line at a time: all at once (INSET_MAX_LINES**4 of them,
    # four sides each, in float64) is ~160 MB at 40 lines a direction, per checking thread.
    best: tuple[int, int, int, int] | None = None
    best_value = -np.inf
    for t in range(len(ys)):  # the top line
        top, bottom = h_support[t][None], h_support  # [y2, x1, x2]
        left, right = v_support[t][:, :, None], v_support[t][:, None, :]
        mean = (((top + bottom) + left) + right) / 4  # summed in the order np.mean sums
        low = np.minimum(np.minimum(top, bottom), np.minimum(left, right))
        rh = heights[t][:, None, None]
        area = rw * rh / (w * h)
        ok = ((rw >= min_w) & (rh >= min_h) & (area >= INSET_AREA[0]) & (area <= INSET_AREA[1])
              & (low >= INSET_SIDE_SUPPORT) & (mean >= INSET_MEAN_SUPPORT))
        if not ok.any():
            continue
        value = np.where(ok, mean + 1e-3 * area, -1.0)
        at = int(np.argmax(value))
        if value.flat[at] > best_value:  # strictly: the first best in scan order, as argmax
            bottom_line, left_line, right_line = (int(i) for i in np.unravel_index(at, ok.shape))
            best, best_value = (t, bottom_line, left_line, right_line), value.flat[at]
    if best is None:
        return None
    y1, y2, x1, x2 = ys[best[0]], ys[best[1]], xs[best[2]], xs[best[3]]
    # a Sobel step peaks on the last row before the edge and the first after: +1 is inside
    box = (round((x1 + 1) / scale), round((y1 + 1) / scale),
           round(x2 / scale), round(y2 / scale))
    box = (max(0, box[0]), max(0, box[1]), min(w0, box[2]), min(h0, box[3]))
    return box if box[2] - box[0] >= INSET_MIN_PIXELS and box[3] - box[1] >= INSET_MIN_PIXELS else None


def _steps(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much an RGB picture steps (Sobel / 4, absolute) horizontally and vertically at
    each pixel, in the channel that steps most there: an inset's border can step in
    colour and hardly in grey (a grey street scene over a brown table: on a grid of 36
    small insets of bikes in clips, grey steps lost the inset on most frames of two, and
    those copies)."""
    gx = cv2.Sobel(rgb, cv2.CV_32F, 1, 0, ksize=3) / 4
    gy = cv2.Sobel(rgb, cv2.CV_32F, 0, 1, ksize=3) / 4
    pick = np.argmax(gx * gx + gy * gy, axis=2)[..., None]
    return (np.abs(np.take_along_axis(gx, pick, 2)[..., 0]),
            np.abs(np.take_along_axis(gy, pick, 2)[..., 0]))


def _inset_lines(mask: np.ndarray, min_run: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate line positions (rows of ``mask``) and the mask with +-1 row tolerance: rows
    holding a run of >= ``min_run`` border pixels, local maxima over +-2 rows, the
    INSET_MAX_LINES longest."""
    tolerant = mask.copy()
    tolerant[1:] |= mask[:-1]
    tolerant[:-1] |= mask[1:]
    runs: dict[int, int] = {}
    for y in np.nonzero(tolerant.sum(1) >= min_run)[0].tolist():
        steps = np.diff(np.concatenate([[0], tolerant[y].astype(np.int8), [0]]))
        longest = int((np.nonzero(steps == -1)[0] - np.nonzero(steps == 1)[0]).max())
        if longest >= min_run:
            runs[y] = longest
    peaks = [y for y, r in runs.items()
             if all(runs.get(y + d, 0) <= r for d in (1, 2)) and all(runs.get(y - d, 0) < r for d in (1, 2))]
    peaks.sort(key=lambda y: -runs[y])
    return np.array(sorted(peaks[:INSET_MAX_LINES]), int), tolerant


# --------------------------------------------------------------------------- ORB


def _work_gray(image: Image.Image, side: int) -> np.ndarray:
    """The grey frame ORB runs on (``work_size``)."""
    return gray_at(image, side, Image.Resampling.BICUBIC)


def orb_features(gray: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ORB codes (n, 32) uint8, keypoint positions (n, 2) float32 and orientations
    (n,) uint8 in 1/256 turns.

    ORB's own top-N by corner response piles keypoints onto the most textured region;
    a crop elsewhere would then find nothing. So we over-detect and keep the best
    keypoints round-robin across grid cells.
    """
    for threshold in ORB_FAST_THRESHOLDS:  # flat pictures get a lower corner threshold
        orb = cv2.ORB_create(nfeatures=keep * 3, fastThreshold=threshold)  # type: ignore[attr-defined]
        keypoints, codes = orb.detectAndCompute(gray, None)
        if len(keypoints) >= keep:
            break
    if codes is None or not keypoints:
        return (np.zeros((0, ORB_CODE_BYTES), np.uint8), np.zeros((0, 2), np.float32),
                np.zeros(0, np.uint8))
    xy = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    angle = np.array([round(kp.angle * 256 / 360) % 256 for kp in keypoints], dtype=np.uint8)
    response = np.array([kp.response for kp in keypoints], dtype=np.float32)
    h, w = gray.shape
    cell = (np.minimum(xy[:, 1] * ORB_GRID // h, ORB_GRID - 1) * ORB_GRID
            + np.minimum(xy[:, 0] * ORB_GRID // w, ORB_GRID - 1)).astype(int)
    order = np.lexsort((-response, cell))  # by cell, strongest first within a cell
    rank = np.empty(len(order), int)
    sorted_cells = cell[order]
    starts = np.searchsorted(sorted_cells, sorted_cells, side="left")
    rank[order] = np.arange(len(order)) - starts
    chosen = np.lexsort((-response, rank))[:keep]  # 1st of every cell, then 2nd, ...
    return np.ascontiguousarray(codes[chosen]), xy[chosen], angle[chosen]


# --------------------------------------------------------------------------- fingerprints


@dataclass(frozen=True)
class ImageFingerprint:
    """What the registry stores for one registered image."""

    phash: int  # 64-bit imagehash.phash of normalize_image(image)
    phash_trimmed: int  # 64-bit pHash after trim_borders (== phash when nothing to trim)
    orb_descriptors: bytes  # n x 32 bytes, 256-bit ORB codes
    orb_points: bytes  # n x 2 uint16 little-endian (x, y) in the WORK_SIDE frame
    orb_angles: bytes  # n x uint8 keypoint orientation in 1/256 turns
    width: int  # size after EXIF orientation
    height: int
    version: int = FINGERPRINT_VERSION
    thumbnail: bytes = b""  # grey JPEG (agreement.encode_thumbnail); empty before version 2

    @property
    def orb_count(self) -> int:
        return len(self.orb_descriptors) // ORB_CODE_BYTES

    def orb_codes(self) -> np.ndarray:
        return np.frombuffer(self.orb_descriptors, np.uint8).reshape(-1, ORB_CODE_BYTES)

    def orb_xy(self) -> np.ndarray:
        return np.frombuffer(self.orb_points, "<u2").reshape(-1, 2).astype(np.float32)

    def orb_angle(self) -> np.ndarray:
        return np.frombuffer(self.orb_angles, np.uint8)

    def to_dict(self) -> dict:
        """JSON-friendly form: hashes as 16-hex-digit strings (as ``str(imagehash)``),
        binary blobs as base64 (64-bit ints do not survive JavaScript clients)."""
        return {
            "version": self.version,
            "phash": f"{self.phash:016x}",
            "phash_trimmed": f"{self.phash_trimmed:016x}",
            "orb_descriptors": base64.b64encode(self.orb_descriptors).decode(),
            "orb_points": base64.b64encode(self.orb_points).decode(),
            "orb_angles": base64.b64encode(self.orb_angles).decode(),
            "width": self.width,
            "height": self.height,
            **({"thumbnail": base64.b64encode(self.thumbnail).decode()} if self.thumbnail else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ImageFingerprint:
        return cls(
            phash=int(data["phash"], 16),
            phash_trimmed=int(data["phash_trimmed"], 16),
            orb_descriptors=base64.b64decode(data["orb_descriptors"]),
            orb_points=base64.b64decode(data["orb_points"]),
            orb_angles=base64.b64decode(data["orb_angles"]),
            width=int(data["width"]),
            height=int(data["height"]),
            version=int(data.get("version", FINGERPRINT_VERSION)),
            thumbnail=base64.b64decode(data.get("thumbnail", "")),
        )


def fingerprint_image(image: Image.Image) -> ImageFingerprint:
    """Fingerprint of a registered image (any PIL mode, any size >= 1x1)."""
    rgb = normalize_image(image)
    codes, xy, angle = orb_features(_work_gray(rgb, WORK_SIDE), ORB_REFERENCE_FEATURES)
    return ImageFingerprint(
        phash=phash64(rgb),
        phash_trimmed=phash64(trim_borders(rgb)),
        orb_descriptors=codes.tobytes(),
        orb_points=np.round(xy).astype("<u2").tobytes(),
        orb_angles=angle.tobytes(),
        width=rgb.width,
        height=rgb.height,
        thumbnail=encode_thumbnail(rgb),
    )


@dataclass(frozen=True)
class OrbView:
    """The query's ORB features at one frame size: ``orb`` maps "plain" / "mirror" to
    (codes (n, 32) uint8, positions (n, 2) float32, orientations (n,) uint8) in a frame
    of ``size`` (width, height)."""

    orb: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    size: tuple[int, int]


@dataclass(frozen=True)
class InsetView:
    """A picture-in-picture inset cut out of the query (``find_inset``): ``phash`` maps
    "inset" / "inset_mirror" to the 64-bit pHash of the cut-out (borders trimmed, so a thin
    frame around the inset goes) and of its mirror image; ``view`` holds its ORB features,
    computed at INSET_WORK_SIDE but with positions mapped back into the query's first frame
    (plain / mirrored), so a fit says where in the query the work sits."""

    phash: dict[str, int]
    view: OrbView


@dataclass(frozen=True)
class QueryDescriptors:
    """Descriptors of a submitted image; never stored.

    ``phash`` maps a variant name to its 64-bit code: "plain" (what the client
    computes), "mirror" (horizontal flip), "trim" and "trim_mirror" (after
    trim_borders). ``orb`` maps "plain" / "mirror" to (codes (n, 32) uint8,
    positions (n, 2) float32 in the QUERY_WORK_SIDE frame, orientations (n,) uint8);
    ``size`` is that frame's (width, height). Mirroring happens on the query so
    references need not store a flipped copy. ``retries`` are the same features at the
    ``retry_sides`` of the picture, for the matcher's second look: ``retry_views`` when they
    came with the query (a descriptor), else computed from ``picture`` when first asked for -- most
    checks find their copy at the first look and never pay for them. ``inset`` is the
    picture-in-picture cut-out for the second look (None when the picture has none),
    likewise given (``inset_view``) or computed when first asked for. ``gray`` is the
    picture's grey levels at QUERY_GRAY_SIDE for the aligned-picture check (agreement.py),
    likewise given (``gray_sent``) or computed when first asked for.
    """

    phash: dict[str, int]
    orb: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    size: tuple[int, int]
    retry_views: tuple[OrbView, ...] | None = None
    picture: Image.Image | None = field(default=None, repr=False, compare=False)
    inset_view: InsetView | None = None
    gray_sent: np.ndarray | None = field(default=None, repr=False, compare=False)

    @cached_property
    def gray(self) -> np.ndarray | None:
        if self.picture is None:
            return self.gray_sent
        return gray_picture(self.picture, QUERY_GRAY_SIDE)

    @cached_property
    def retries(self) -> tuple[OrbView, ...]:
        if self.retry_views is not None:
            return self.retry_views
        if self.picture is None:
            return ()
        return tuple(_orb_view(self.picture, side) for side in retry_sides(self.picture.size))

    @cached_property
    def inset(self) -> InsetView | None:
        if self.picture is None:  # a descriptor: what came with it (None: no inset)
            return self.inset_view
        return inset_view(self.picture, self.size)

    @property
    def views(self) -> tuple[OrbView, ...]:
        return (OrbView(self.orb, self.size), *self.retries)

    def computed(self) -> QueryDescriptors:
        """The same descriptors with the second looks computed now and the picture let go:
        for timing a matcher alone (the evaluation, the benchmarks), or keeping many."""
        return replace(self, retry_views=self.retries, inset_view=self.inset, gray_sent=self.gray,
                       picture=None)


def retry_sides(size: tuple[int, int]) -> tuple[int, ...]:
    """The long sides of the second looks at a picture of this (width, height)."""
    return SMALL_QUERY_RETRY_SIDES if max(size) <= SMALL_QUERY_SIDE else QUERY_RETRY_SIDES


def inset_view(rgb: Image.Image, first_size: tuple[int, int]) -> InsetView | None:
    """The ``InsetView`` of an RGB picture whose first ORB frame is ``first_size``, or None
    when ``find_inset`` finds no inset."""
    box = find_inset(rgb)
    if box is None:
        return None
    left, top, right, bottom = box
    cut = rgb.crop(box)
    trimmed = trim_borders(cut)
    gray = _work_gray(cut, INSET_WORK_SIDE)
    # cut-out frame -> query's first frame; the mirrored cut-out sits at the mirrored place
    to_first = np.array([first_size[0] / rgb.width, first_size[1] / rgb.height], np.float32)
    per_pixel = np.array([cut.width / gray.shape[1], cut.height / gray.shape[0]], np.float32)
    orb = {}
    for variant, pixels, origin in (("plain", gray, (left, top)),
                                    ("mirror", np.ascontiguousarray(gray[:, ::-1]),
                                     (rgb.width - right, top))):
        codes, points, angles = orb_features(pixels, ORB_QUERY_FEATURES)
        mapped = (points * per_pixel + np.array(origin, np.float32)) * to_first
        orb[variant] = (codes, np.clip(mapped, 0, np.array(first_size, np.float32)), angles)
    return InsetView({"inset": phash64(trimmed), "inset_mirror": phash64(ImageOps.mirror(trimmed))},
                     OrbView(orb, first_size))


def query_descriptors(image: Image.Image) -> QueryDescriptors:
    """Descriptors of a submitted image, as ``Matcher.query`` consumes them."""
    rgb = normalize_image(image)
    trimmed = trim_borders(rgb)
    first = _orb_view(rgb, QUERY_WORK_SIDE)
    return QueryDescriptors(
        phash={
            "plain": phash64(rgb),
            "mirror": phash64(ImageOps.mirror(rgb)),  # let go at once: as large as the picture
            "trim": phash64(trimmed),
            "trim_mirror": phash64(ImageOps.mirror(trimmed)),
        },
        orb=first.orb,
        size=first.size,
        picture=rgb,
    )


def _orb_view(rgb: Image.Image, side: int) -> OrbView:
    gray = _work_gray(rgb, side)
    return OrbView({"plain": orb_features(gray, ORB_QUERY_FEATURES),
                    "mirror": orb_features(np.ascontiguousarray(gray[:, ::-1]), ORB_QUERY_FEATURES)},
                   (gray.shape[1], gray.shape[0]))
