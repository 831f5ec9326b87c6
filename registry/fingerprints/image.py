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
from PIL import Image, ImageOps, UnidentifiedImageError

from registry.fingerprints.errors import (
    CorruptMedia,
    DecompressionBomb,
    MediaError,
    NotMedia,
    TruncatedMedia,
)

FINGERPRINT_VERSION = 1

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
ORB_REFERENCE_FEATURES = 300  # stored per registered image, 37 bytes each (200: combo recall 94%)
ORB_QUERY_FEATURES = 1000  # queries are not stored, so they can afford more
ORB_CODE_BYTES = 32  # 256-bit rBRIEF
# A low FAST threshold still finds corners after contrast loss, blur or JPEG q10;
# flat pictures (an overhead shot of asphalt) retry lower until enough are found.
ORB_FAST_THRESHOLDS = (8, 4, 2)
ORB_GRID = 4  # keypoints are spread over a GRID x GRID layout so any 50% crop keeps some

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
    return image.convert("RGB")


# --------------------------------------------------------------------------- pHash


def phash64(image: Image.Image) -> int:
    """64-bit imagehash.phash as an unsigned int (bit order of ``str(hash)``)."""
    return int(str(imagehash.phash(image)), 16)


def phash_bytes(code: int) -> bytes:
    """8-byte big-endian form used by faiss (Hamming distance is order-independent)."""
    return code.to_bytes(8, "big")


def trim_borders(image: Image.Image) -> Image.Image:
    """Crop uniform bars (letterbox, pillarbox, plain canvas) off an RGB image.

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
        top += _bar_width(g[top:bottom, left:right])
        bottom -= _bar_width(g[top:bottom, left:right][::-1])
        left += _bar_width(g[top:bottom, left:right].T)
        right -= _bar_width(g[top:bottom, left:right].T[::-1])
        if (top, bottom, left, right) == box:
            break
    h, w = g.shape
    if bottom - top < TRIM_MIN_KEEP * h or right - left < TRIM_MIN_KEEP * w:
        return image  # (nearly) uniform picture: there is no "content" to trim to
    if (top, bottom, left, right) == (0, h, 0, w):
        return image
    return image.crop((round(left / scale), round(top / scale),
                       round(right / scale), round(bottom / scale)))


def _bar_width(lines: np.ndarray) -> int:
    """Number of leading rows of ``lines`` that have the colour of its first row."""
    if lines.size == 0:
        return 0
    bar = np.median(lines[0])
    deviation = np.percentile(np.abs(lines - bar), 90, axis=1)
    not_bar = np.nonzero(deviation > TRIM_TOLERANCE)[0]
    return int(not_bar[0]) if len(not_bar) else lines.shape[0]


# --------------------------------------------------------------------------- ORB


def work_size(width: int, height: int, side: int) -> tuple[int, int]:
    """(width, height) of the frame ORB runs on: the long side resized to ``side``."""
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _work_gray(image: Image.Image, side: int) -> np.ndarray:
    size = work_size(image.width, image.height, side)
    return np.asarray(image.convert("L").resize(size, Image.Resampling.BICUBIC), dtype=np.uint8)


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
    )


@dataclass(frozen=True)
class OrbView:
    """The query's ORB features at one frame size: ``orb`` maps "plain" / "mirror" to
    (codes (n, 32) uint8, positions (n, 2) float32, orientations (n,) uint8) in a frame
    of ``size`` (width, height)."""

    orb: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    size: tuple[int, int]


@dataclass(frozen=True)
class QueryDescriptors:
    """Descriptors of a submitted image; never stored.

    ``phash`` maps a variant name to its 64-bit code: "plain" (what the client
    computes), "mirror" (horizontal flip), "trim" and "trim_mirror" (after
    trim_borders). ``orb`` maps "plain" / "mirror" to (codes (n, 32) uint8,
    positions (n, 2) float32 in the QUERY_WORK_SIDE frame, orientations (n,) uint8);
    ``size`` is that frame's (width, height). Mirroring happens on the query so
    references need not store a flipped copy. ``retries`` are the same features at
    QUERY_RETRY_SIDES, for the matcher's second look: ``retry_views`` when they came with
    the query (a descriptor), else computed from ``picture`` when first asked for -- most
    checks find their copy at the first look and never pay for them.
    """

    phash: dict[str, int]
    orb: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    size: tuple[int, int]
    retry_views: tuple[OrbView, ...] | None = None
    picture: Image.Image | None = field(default=None, repr=False, compare=False)

    @cached_property
    def retries(self) -> tuple[OrbView, ...]:
        if self.retry_views is not None:
            return self.retry_views
        if self.picture is None:
            return ()
        return tuple(_orb_view(self.picture, side) for side in QUERY_RETRY_SIDES)

    @property
    def views(self) -> tuple[OrbView, ...]:
        return (OrbView(self.orb, self.size), *self.retries)

    def computed(self) -> QueryDescriptors:
        """The same descriptors with the second looks computed now and the picture let go:
        for timing a matcher alone (the evaluation, the benchmarks), or keeping many."""
        return replace(self, retry_views=self.retries, picture=None)


def query_descriptors(image: Image.Image) -> QueryDescriptors:
    """Descriptors of a submitted image, as ``Matcher.query`` consumes them."""
    rgb = normalize_image(image)
    mirrored = ImageOps.mirror(rgb)
    trimmed = trim_borders(rgb)
    first = _orb_view(rgb, QUERY_WORK_SIDE)
    return QueryDescriptors(
        phash={
            "plain": phash64(rgb),
            "mirror": phash64(mirrored),
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
