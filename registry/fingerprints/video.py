"""Video fingerprints: one 64-bit pHash per sampled frame, with its timestamp (plus,
for clips being registered, the pHashes of a few crops of each frame).

Each hash is bit-for-bit the same algorithm as ``imagehash.phash`` (grey image, 32x32
resize, 2-D DCT-II, top-left 8x8 block, bit = coefficient > median of those 64), in
the same bit order: ``int(str(imagehash.phash(img)), 16)`` of a decoded frame lands
within a few bits of our value for it (only the resampling filter differs: swscale's
area filter here, PIL's Lanczos there), so a client can hash frames locally.

Sampling rule (what makes any 1-second excerpt findable): every decoded frame is
kept, except that at most one frame -- the first -- is kept per 1/``sample_fps``
time slot (slot = floor(t * sample_fps)). Sources up to ``sample_fps`` (30 by
default) therefore keep *every* frame and faster ones are thinned to about
``sample_fps``. So a 1 s excerpt of a clip of at least 10 fps yields at least 10
query frames, and every query frame has a registered frame within half a frame
period (half a slot for thinned sources) of the moment it shows -- the alignment
needs 5 agreeing frames over 0.5 s. Timestamps are ``(pts - stream.start_time) *
time_base`` in seconds (presentation time, so variable frame rate is handled);
missing or non-increasing timestamps continue the timeline at the nominal rate.

Speed: decoding runs with FFmpeg's codec threads; each kept frame is shrunk to a 64x64
grey thumbnail by swscale (C, no RGB frame is ever built; its 2x2 box average is the
32x32 area-resampled frame) and the DCTs run batched in numpy (only the 8x8
low-frequency corner is computed: small matrix products, kept per frame so OpenBLAS
stays single-threaded). With the crop variants the cost is ~1.15x decode-only time
(~1.1x without) -- see scripts/bench_fingerprints.py.

Mirror robustness: for a horizontally flipped image the DCT coefficient (u, v)
becomes (-1)**v times the original, so the pHash of the mirrored frame is derived
from the same coefficients for free and stored as ``mirror_hashes``.

Crop robustness (reference side only): cropping ~10% per side moves a frame's
whole-frame pHash well past the match radius, so a *registered* frame is also hashed
through a fixed set of crop windows (``CROP_VARIANTS``: centred zooms and
corner-anchored windows), stored as ``variant_hashes`` (n_frames, k) and indexed under
the frame's own id (``alignment.register_video``). A cropped copy's plain pHash then
lands near one of them, and the query side is unchanged: still one plain
``imagehash.phash`` (and its mirror) per frame. The window set is closed under
horizontal mirroring, so a mirrored *and* cropped copy is found through the query's
mirror hash. Each window is resampled to 32x32 by exact area averaging of the
``_THUMB`` x ``_THUMB`` thumbnail, folded into the DCT matrices (one (8 x _THUMB)
matrix per axis and window), so a variant costs two small matrix products per frame;
its bits agree with ``imagehash.phash`` of the cropped frame as closely as the whole-
frame hash does. Coverage is local: a window finds crops within roughly +-5% of its
scale and +-2% of its position, so crops *between* the windows (e.g. a 10%-per-side
crop shifted half-way to a corner) are still missed -- denser sets cost one index
entry per window and frame.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, NamedTuple

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from registry.fingerprints.errors import (
    CorruptMedia,
    DecompressionBomb,
    MediaTooLong,
    NotMedia,
    TruncatedMedia,
    UnsupportedCodec,
)
from registry.fingerprints.keyframes import Keyframes, KeyframeSampler, grid_from_thumbnails

DEFAULT_SAMPLE_FPS = 30.0
DEFAULT_MAX_DURATION_S = 4 * 3600.0
DEFAULT_MAX_FRAMES = 500_000  # > 4 h at 30 fps; bounds work when timestamps lie
DEFAULT_MAX_PIXELS = 8192 * 4320

# Demuxers we accept. FFmpeg "detects" arbitrary text as tty/ANSI-art video, so an
# allow-list is the only way to reject such bytes as not media.
ALLOWED_CONTAINERS = frozenset({
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mpegts",
    "mpeg",
    "flv",
    "ogg",
    "asf",
})

MAX_FRAME_RATE = 240.0  # above this a declared rate is taken to be garbage
MAX_BAD_PACKETS = 8  # a few damaged packets are concealed by the decoder; many are not

MIN_DETAIL_STD = 3.0  # grey-level std (0..255) below which a frame counts as flat

_SIDE = 32  # imagehash: hash_size 8 * highfreq_factor 4
_THUMB = 64  # grey thumbnail made by swscale; a multiple of _SIDE (crops are resampled from it)
_BATCH = 512  # frames per batched DCT


class CropVariant(NamedTuple):
    """A crop window, as fractions of the frame's width and height."""

    name: str
    left: float
    top: float
    right: float
    bottom: float


def _centred(keep: float) -> CropVariant:
    m = round((1.0 - keep) / 2, 6)
    return CropVariant(f"centre {keep:.0%}", m, m, round(1.0 - m, 6), round(1.0 - m, 6))


def _corner(keep: float, corner: str) -> CropVariant:
    x0 = 0.0 if "left" in corner else round(1.0 - keep, 6)
    y0 = 0.0 if "top" in corner else round(1.0 - keep, 6)
    return CropVariant(f"{corner} {keep:.0%}", x0, y0, round(x0 + keep, 6), round(y0 + keep, 6))


_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")

# Reference-frame crop windows hashed besides the whole frame (order = the columns of
# VideoFingerprint.variant_hashes). Closed under horizontal mirroring.
CROP_VARIANTS: tuple[CropVariant, ...] = (
    _centred(0.9), _centred(0.8), _centred(0.7),
    *(_corner(0.9, c) for c in _CORNERS),
    *(_corner(0.8, c) for c in _CORNERS),
)
VARIANT_NAMES: tuple[str, ...] = tuple(v.name for v in CROP_VARIANTS)


def _dct_matrix() -> np.ndarray:
    # Rows 0..7 of scipy.fftpack's unnormalised DCT-II: y[k] = 2 sum x[n] cos(pi k (2n+1) / 2N)
    k = np.arange(8)[:, None]
    n = np.arange(_SIDE)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * _SIDE))


_DCT8 = _dct_matrix()
_MIRROR_SIGN = np.tile((-1.0) ** np.arange(8), 8)  # (-1)**v for the row-major 8x8 block


def _area_matrix(lo: float, hi: float, n_in: int, n_out: int = _SIDE) -> np.ndarray:
    """(n_out, n_in) weights resampling the interval [lo, hi) of ``n_in`` unit pixels
    to ``n_out`` pixels by exact area averaging (fractional pixel coverage)."""
    edges = lo + (hi - lo) * np.arange(n_out + 1) / n_out
    px = np.arange(n_in)
    overlap = (np.minimum(edges[1:, None], px[None, :] + 1.0)
               - np.maximum(edges[:-1, None], px[None, :]))
    return np.clip(overlap, 0.0, None) * (n_out / (hi - lo))


def _window_tables(windows: tuple[CropVariant, ...], side: int):
    """DCT-of-area-resampled-crop matrices for ``windows`` on a ``side``-pixel square:
    distinct row (top/bottom) matrices (r, 8, side), each window's row-matrix number
    (w,), and its column matrix (w, 8, side)."""
    intervals: dict[tuple[float, float], int] = {}
    row_of = np.empty(len(windows), np.int64)
    cols = np.empty((len(windows), 8, side))
    for i, v in enumerate(windows):
        if not (0.0 <= v.left < v.right <= 1.0 and 0.0 <= v.top < v.bottom <= 1.0):
            raise ValueError(f"bad crop window {v}")
        row_of[i] = intervals.setdefault((v.top, v.bottom), len(intervals))
        cols[i] = _DCT8 @ _area_matrix(v.left * side, v.right * side, side)
    rows = np.stack([_DCT8 @ _area_matrix(a * side, b * side, side) for a, b in intervals])
    return rows, row_of, cols


_FULL_FRAME = CropVariant("full frame", 0.0, 0.0, 1.0, 1.0)
# window 0 is the whole frame (the plain pHash), then CROP_VARIANTS
_WINDOW_ROWS, _WINDOW_ROW_OF, _WINDOW_COLS = _window_tables((_FULL_FRAME, *CROP_VARIANTS), _THUMB)
_WINDOW_ROWS_FLAT = _WINDOW_ROWS.reshape(-1, _THUMB)
# std of the 8x8-low-pass 32x32 image from our (unnormalised, 4x orthonormal-over-alpha)
# DCT coefficients, by Parseval: sum of (coef * alpha_u * alpha_v / 4)**2 over the AC terms
_ALPHA = np.r_[np.sqrt(1 / _SIDE), np.full(7, np.sqrt(2 / _SIDE))]
_LOWPASS_WEIGHTS = (np.outer(_ALPHA, _ALPHA) / 4).ravel() ** 2 / _SIDE**2
_LOWPASS_WEIGHTS[0] = 0.0  # DC


@dataclass(frozen=True, eq=False)
class VideoFingerprint:
    """Per-frame pHashes of one clip. Arrays are parallel and sorted by time."""

    timestamps: np.ndarray  # float64 seconds from the stream start
    hashes: np.ndarray  # uint64, imagehash.phash bit order (first DCT bit = MSB)
    mirror_hashes: np.ndarray  # uint64 pHash of each horizontally mirrored frame
    informative: np.ndarray  # bool: False for flat frames (black, fades, title cards)
    duration_s: float
    width: int
    height: int
    codec: str
    frame_rate: float | None
    frames_decoded: int
    sample_fps: float
    # uint64 (n_frames, k): pHash of each frame through the crop windows VARIANT_NAMES
    # (k = 0 when not computed: query-side fingerprints, client hashes). A window
    # without detail (flat crop) holds the frame's own hash instead.
    variant_hashes: np.ndarray | None = None
    # Reference side only (None for queries): each frame's GRID_SIDE x GRID_SIDE grey
    # grid (n, GRID_SIDE**2) uint8, and ORB keyframes, for finding reframed copies
    # (reframe.py).
    grid: np.ndarray | None = None
    keyframes: Keyframes | None = None

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        if not (len(self.hashes) == len(self.mirror_hashes) == len(self.informative) == n):
            raise ValueError("fingerprint arrays must have the same length")
        if self.variant_hashes is None:
            object.__setattr__(self, "variant_hashes", np.empty((n, 0), np.uint64))
        elif self.variant_hashes.ndim != 2 or self.variant_hashes.shape[0] != n:
            raise ValueError("variant_hashes must have shape (n_frames, k)")

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    @property
    def frames(self) -> list[tuple[float, int]]:
        """``(timestamp_s, phash64)`` per sampled frame."""
        return [(float(t), int(h)) for t, h in zip(self.timestamps, self.hashes)]


def phash_to_int(image_hash) -> int:
    """The 64-bit integer of an ``imagehash.ImageHash``, in the order used here."""
    return int(str(image_hash), 16)


def hashes_from_gray(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pHash, mirrored pHash (uint64) and informative flag of (n, 32, 32) grey frames."""
    pixels = gray.astype(np.float64)
    coef = (_DCT8 @ pixels @ _DCT8.T).reshape(len(gray), 64)
    mirrored = coef * _MIRROR_SIGN
    # A flat frame has (near) zero AC coefficients, so its bits are noise or the same
    # 0x8000000000000000 for every black frame of every video: useless as evidence.
    informative = pixels.reshape(len(gray), -1).std(axis=1) >= MIN_DETAIL_STD
    return _pack(coef), _pack(mirrored), informative


def hashes_from_thumbnails(
    thumbs: np.ndarray, variants: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pHash, mirrored pHash, informative flag and crop-variant pHashes (n, k) of
    (n, _THUMB, _THUMB) uint8 grey thumbnails (k = 0 with ``variants=False``).

    The whole frame's 32x32 is the exact 2x2 box average of the thumbnail (the same
    area resampling swscale did straight to 32x32), and ``informative`` is its pixel
    std as before. A crop window with no low-frequency detail (std of its 8x8-low-pass
    32x32 below MIN_DETAIL_STD: bits that are noise) gets the frame's own hash instead.
    """
    n, side = len(thumbs), thumbs.shape[-1]
    if thumbs.shape[1:] != (_THUMB, _THUMB):
        raise ValueError(f"expected (n, {_THUMB}, {_THUMB}) thumbnails")
    w = 1 + (len(CROP_VARIANTS) if variants else 0)
    n_rows = int(_WINDOW_ROW_OF[:w].max()) + 1
    pixels = thumbs.astype(np.float64)
    # Per-frame products, stacked: each BLAS call is small enough to stay on one thread
    # (one big product would wake OpenBLAS's thread pool, which then fights the
    # decoder's threads for the cores). First every distinct top/bottom interval...
    rows = np.concatenate([np.matmul(_WINDOW_ROWS_FLAT[i:min(i + 32, 8 * n_rows)], pixels)
                           for i in range(0, 8 * n_rows, 32)], axis=1)
    rows = rows.reshape(n, -1, 8, side)
    # ... then, per interval, the left/right transforms of the windows sharing it
    coef = np.empty((w, n, 8, 8))
    for r in range(n_rows):
        js = np.flatnonzero(_WINDOW_ROW_OF[:w] == r)
        prod = np.matmul(rows[:, r], _WINDOW_COLS[js].reshape(8 * len(js), side).T)
        coef[js] = prod.reshape(n, 8, len(js), 8).transpose(2, 0, 1, 3)
    coef = coef.reshape(w, n, 64)  # type: ignore[assignment]  # the same cells, flattened per window
    codes = _pack(coef.reshape(w * n, 64)).reshape(w, n)
    h = codes[0]
    mirror = _pack(coef[0] * _MIRROR_SIGN)
    x, f = thumbs.astype(np.float32), side // _SIDE
    small = sum(x[:, i::f, j::f] for i in range(f) for j in range(f)) / (f * f)
    informative = small.reshape(n, -1).std(axis=1, dtype=np.float64) >= MIN_DETAIL_STD
    out = codes[1:].T.copy()
    if w > 1 and n:
        lowpass_var = np.einsum("wnk,k->nw", coef[1:] ** 2, _LOWPASS_WEIGHTS)
        flat = lowpass_var < MIN_DETAIL_STD**2
        out[flat] = np.broadcast_to(h[:, None], out.shape)[flat]
    return h, mirror, informative, out


def _pack(coef: np.ndarray) -> np.ndarray:
    bits = coef > np.median(coef, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def fingerprint_video(
    path_or_file: str | os.PathLike | bytes | BinaryIO,
    *,
    sample_fps: float = DEFAULT_SAMPLE_FPS,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reference: bool = True,
    progress: Callable[[int, float], None] | None = None,
) -> VideoFingerprint:
    """Fingerprint a clip from a path, raw bytes or a binary file object.

    ``progress(frames_decoded, seconds_decoded)`` is called after every batch of kept
    frames and once at the end; an exception it raises stops the decoding and propagates.

    ``reference`` also hashes every kept frame through ``CROP_VARIANTS`` and keeps its
    grey grid and the ORB keyframes (needed for clips that get *registered*; a query
    only uses ``hashes``/``mirror_hashes``, so query-only callers pass False to skip
    that work).

    ``max_duration_s`` is checked against the container metadata before decoding and
    against frame timestamps while decoding; ``max_frames`` caps *decoded* frames.
    Raises ``NotMedia``, ``CorruptMedia``/``TruncatedMedia``, ``UnsupportedCodec``,
    ``MediaTooLong`` or ``DecompressionBomb`` (all ``MediaError``).
    """
    if not sample_fps > 0 or not max_duration_s > 0 or max_frames < 1:
        raise ValueError("sample_fps, max_duration_s and max_frames must be positive")
    with _opened(path_or_file, max_duration_s, max_frames, max_pixels) as (container, stream):
        return _decode(container, stream, sample_fps, max_duration_s, max_frames,
                       reference, progress)


@contextmanager
def _opened(path_or_file, max_duration_s, max_frames, max_pixels):
    """The container and its video stream, once the metadata passed the limits."""
    source = _as_source(path_or_file)
    try:
        container = av.open(source, mode="r")
    except av.error.FFmpegError as exc:
        raise _open_failure(path_or_file, source) from exc
    with container:
        stream = _video_stream(container)
        _check_metadata(container, stream, max_duration_s, max_frames, max_pixels)
        yield container, stream


def _as_source(obj):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        if len(obj) == 0:
            raise NotMedia("empty upload: no media data")
        return io.BytesIO(bytes(obj))
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if not os.path.isfile(path):
            raise FileNotFoundError(path)  # the caller's mistake, not bad media
        if os.path.getsize(path) == 0:
            raise NotMedia("empty file: no media data")
        return path
    if hasattr(obj, "read"):
        return obj
    raise TypeError(f"expected a path, bytes or a binary file, got {type(obj).__name__}")


def _video_stream(container) -> av.VideoStream:
    if container.format.name not in ALLOWED_CONTAINERS:
        raise NotMedia(f"not a supported video container (detected {container.format.name!r})")
    if not container.streams.video:
        raise NotMedia("the file contains no video stream")
    stream = container.streams.best("video") or container.streams.video[0]
    if stream.codec_context is None:
        raise UnsupportedCodec("the video stream uses a codec this server cannot decode")
    return stream


def _check_metadata(container, stream, max_duration_s, max_frames, max_pixels) -> None:
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"the video stream declares an empty frame size {width}x{height}")
    if width * height > max_pixels:
        raise DecompressionBomb(
            f"video frames of {width}x{height} exceed the {max_pixels:,}-pixel limit")
    declared = _declared_duration(container, stream)
    if declared is not None and declared > max_duration_s:
        raise MediaTooLong(f"clip lasts {declared:.1f} s, over the {max_duration_s:g} s limit")
    if stream.frames and stream.frames > max_frames:
        raise MediaTooLong(f"clip has {stream.frames} frames, over the {max_frames} frame limit")


def _declared_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _nominal_rate(stream) -> float | None:
    """Frame rate to fill in broken timestamps; average_rate is itself derived from the
    timestamps, so fall back to the rate the bitstream declares when it is absurd."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.codec_context.framerate):
        if rate and 0 < float(rate) <= MAX_FRAME_RATE:
            return float(rate)
    return None


def decode_frames(
    path_or_file: str | os.PathLike | bytes | BinaryIO,
    *,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[tuple[float, av.VideoFrame]]:
    """Every decoded frame of a clip with its timestamp, under the same checks and the
    same timeline as ``fingerprint_video`` (for callers that need the pictures)."""
    with _opened(path_or_file, max_duration_s, max_frames, max_pixels) as (container, stream):
        yield from _frames(container, stream, max_duration_s, max_frames, _Tally())


@dataclass
class _Tally:
    decoded: int = 0
    last_t: float | None = None


def _frames(container, stream, max_duration_s, max_frames,
            tally: _Tally) -> Iterator[tuple[float, av.VideoFrame]]:
    """Decoded frames with their presentation times (see the module docstring); counts
    them in ``tally``; raises the package's media errors."""
    stream.thread_type = "AUTO"  # frame + slice threads; thread_count 0 = one per core
    ctx = stream.codec_context
    time_base = stream.time_base or Fraction(1, 1000)
    rate = _nominal_rate(stream)
    start = stream.start_time
    bad_packets = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                bad_packets += 1
                if bad_packets > MAX_BAD_PACKETS:
                    raise CorruptMedia(
                        f"video data is corrupt: {bad_packets} undecodable packets") from None
                continue
            for frame in frames:
                tally.decoded += 1
                if tally.decoded > max_frames:
                    raise MediaTooLong(f"clip has more than {max_frames} frames")
                last_t = tally.last_t
                if frame.pts is not None:
                    if start is None:
                        start = frame.pts
                    t = float((frame.pts - start) * time_base)
                else:
                    t = 0.0 if last_t is None else -math.inf
                if last_t is not None and t <= last_t:
                    # missing or broken (repeated, backwards) timestamps: continue the
                    # timeline at the nominal rate rather than collapse frames together
                    t = last_t + 1.0 / (rate or DEFAULT_SAMPLE_FPS)
                tally.last_t = t
                if t > max_duration_s:
                    raise MediaTooLong(f"clip runs past the {max_duration_s:g} s limit")
                yield t, frame
    except av.error.DecoderNotFoundError as exc:
        raise UnsupportedCodec(f"no decoder for the video codec {ctx.name!r}") from exc
    except av.error.FFmpegError as exc:
        raise CorruptMedia(f"video data is truncated or corrupt: {exc}") from exc


def _decode(container, stream, sample_fps, max_duration_s, max_frames,
            reference=True, progress=None) -> VideoFingerprint:
    ctx = stream.codec_context
    rate = _nominal_rate(stream)
    reformatter = VideoReformatter()  # reused so swscale keeps one cached context
    keyframes = KeyframeSampler(ctx.width, ctx.height) if reference else None

    gray = np.empty((_BATCH, _THUMB, _THUMB), np.uint8)
    filled = 0
    times: list[float] = []
    hashes: list[np.ndarray] = []
    mirrors: list[np.ndarray] = []
    details: list[np.ndarray] = []
    variants: list[np.ndarray] = []
    grids: list[np.ndarray] = []
    tally = _Tally()
    last_slot = -math.inf

    def flush() -> None:
        nonlocal filled
        if filled:
            h, m, info, v = hashes_from_thumbnails(gray[:filled], reference)
            hashes.append(h)
            mirrors.append(m)
            details.append(info)
            variants.append(v)
            if reference:
                grids.append(grid_from_thumbnails(gray[:filled]))
            filled = 0
            if progress is not None:
                progress(tally.decoded, max(tally.last_t or 0.0, 0.0))

    for t, frame in _frames(container, stream, max_duration_s, max_frames, tally):
        slot = math.floor(t * sample_fps + 1e-6)
        if slot <= last_slot:
            continue
        last_slot = slot
        small = reformatter.reformat(
            frame, width=_THUMB, height=_THUMB, format="gray",
            interpolation=Interpolation.AREA)
        gray[filled] = small.to_ndarray()
        if keyframes is not None:
            keyframes.offer(t, len(times), frame)
        filled += 1
        times.append(t)
        if filled == _BATCH:
            flush()
    flush()

    if not times:
        raise CorruptMedia("the video stream has no decodable frames (truncated or corrupt)")
    declared_frames = stream.frames or 0
    if declared_frames and declared_frames - tally.decoded > max(2, 0.02 * declared_frames):
        raise TruncatedMedia(
            f"video is truncated: decoded {tally.decoded} of {declared_frames} frames")

    ts = np.asarray(times, dtype=np.float64)  # increasing by construction
    h, m, info = np.concatenate(hashes), np.concatenate(mirrors), np.concatenate(details)
    v = np.concatenate(variants)
    duration = _declared_duration(container, stream)
    if duration is None:
        duration = float(ts[-1]) + (1.0 / rate if rate else 0.0)
    return VideoFingerprint(
        timestamps=ts, hashes=h, mirror_hashes=m, informative=info, duration_s=float(duration),
        width=ctx.width, height=ctx.height, codec=ctx.name, frame_rate=rate,
        frames_decoded=tally.decoded, sample_fps=float(sample_fps), variant_hashes=v,
        grid=np.concatenate(grids) if reference else None,
        keyframes=keyframes.result() if keyframes is not None else None)


# --------------------------------------------------------------------------- sniffing


def _open_failure(original, source) -> Exception:
    """Tell 'not media at all' from 'a video container that is damaged'."""
    head, size, read_at = _reader(original, source)
    if head is None or not _known_container(head):
        return NotMedia("the file is not a recognised video container")
    if head[4:8] == b"ftyp" and size is not None and _mp4_box_overruns(read_at, size):
        return TruncatedMedia("the MP4 file is truncated (a box runs past the end of the file)")
    return CorruptMedia("the video container is corrupt and cannot be opened")


def _reader(original, source):
    if isinstance(source, str):
        size = os.path.getsize(source) if os.path.isfile(source) else None

        def read_at(offset: int, n: int) -> bytes:
            with open(source, "rb") as fh:
                fh.seek(offset)
                return fh.read(n)
    else:
        try:
            source.seek(0, io.SEEK_END)
            size = source.tell()
        except (OSError, AttributeError, ValueError):
            return None, None, None

        def read_at(offset: int, n: int) -> bytes:
            source.seek(offset)
            return source.read(n)
    try:
        return read_at(0, 16), size, read_at
    except OSError:
        return None, None, None


def _known_container(head: bytes) -> bool:
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
        or head[:4] == b"\x1aE\xdf\xa3"  # Matroska / WebM (EBML)
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or head[:3] == b"FLV"
        or head[:4] == b"OggS"
        or head[:4] == b"\x00\x00\x01\xba"  # MPEG program stream
        or head[:4] == b"\x30\x26\xb2\x75"  # ASF / WMV
        or head[:1] == b"\x47"  # MPEG transport stream sync byte
    )


def _mp4_box_overruns(read_at, size: int) -> bool:
    offset = 0
    for _ in range(10_000):
        if offset + 8 > size:
            return False
        header = read_at(offset, 16)
        box = int.from_bytes(header[:4], "big")
        if box == 1 and len(header) >= 16:
            box = int.from_bytes(header[8:16], "big")
        elif box == 0:  # runs to the end of the file by definition
            return False
        if box < 8:
            return False
        if offset + box > size:
            return True
        offset += box
    return False
