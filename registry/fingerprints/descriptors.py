"""Query descriptors as JSON: what a check computes from a submitted file, written out so a
client can compute it locally (``registry fingerprint FILE``) and send it instead of the
file, with the upload's full robustness and none of its bytes.

An image descriptor is a ``QueryDescriptors`` (the four pHash variants and the plain and
mirrored ORB keypoints, at the engine's first frame size and at each retry size); a clip
descriptor is a ``ClipDescriptors`` (clip_query.py): the query side of a
``VideoFingerprint`` (per sampled frame: time, pHash, mirrored pHash, informative flag)
and the reframe search's looks and grey frames. ``to_json`` and ``from_json`` are exact
inverses on everything the engine reads -- ORB positions travel as the float32 values
ORB produced, times as float64 -- so a descriptor gets bit-identical evidence to the
upload it was computed from.

Format version 5::

    {"format": "registry.query-descriptor", "version": 5, "fingerprint_version": 2,
     "kind": "image", "name": "copy.jpg",
     "phash": "<16 hex: imagehash.phash of the picture>",
     "variants": {"mirror": "<16 hex>", "trim": "<16 hex>", "trim_mirror": "<16 hex>"},
     "size": [w, h],             # the ORB frame: long side QUERY_WORK_SIDE
     "orb": {"plain":  {"count": n, "codes":  base64 n x 32 bytes (256-bit rBRIEF),
                        "points": base64 n x 2 float32 little-endian (x, y) in the ORB frame,
                        "angles": base64 n bytes (orientation in 1/256 turns)},
             "mirror": {... the same for the horizontally mirrored picture}},
     "retries": [{"size": [w, h], "orb": {...}},   # the same at each of image.retry_sides:
                 ...],                             # QUERY_RETRY_SIDES, or for a picture of at
                                                   # most SMALL_QUERY_SIDE px SMALL_QUERY_RETRY_SIDES
     "inset": {"phash": "<16 hex>", "mirror": "<16 hex>",  # optional: a picture-in-picture
               "size": [w, h], "orb": {...}},              # cut-out (image.InsetView); its
                                                           # keypoints in the first ORB frame
     "gray": {"size": [w, h],      # the picture's grey levels, long side agreement.QUERY_GRAY_SIDE,
              "pixels": base64 h x w bytes}}   # for the aligned-picture check (agreement.py)

    {"format": ..., "version": 5, "fingerprint_version": 2, "kind": "clip", "name": "copy.mp4",
     "frames": {"count": n,
                "timestamps": base64 n float64 little-endian (seconds, strictly increasing),
                "phashes": base64 n x 8 bytes (each pHash big-endian: its 16 hex digits),
                "mirror_phashes": base64 n x 8 bytes (of the mirrored frames),
                "informative": base64 n bytes, 1 or 0 (0: a flat frame, not matched)},
     "reframe": {                  # optional: without it, no reframe search
        "looks": {"count": m, "timestamps": base64 m float64 little-endian,
                  "in_between": base64 m bytes, 1 or 0 (1: an in-between look,
                                clip_query.py: looked up only when the others hit a
                                registered clip but find no copy),
                  "frames": [{"phash": ..., "variants": ..., "size": ..., "orb": ...,
                              "retries": [...]}, ...]},   # each as an image's fields
        "grays": {"count": k, "size": [w, h],             # long side clip_query.GRAY_SIDE
                  "timestamps": base64 k float64 little-endian,
                  "pixels": base64 k x h x w bytes (grey levels, row by row)}}}

Version 2 added the clip's optional ``reframe`` part and the image's optional ``inset``
(absent when the picture has none: ``image.find_inset``); version 3 the image's ``gray``
(required from version 3 on; a clip's looks do not carry it); version 4 the looks'
``in_between`` flags (optional: without them every look is a regular one, as before); version
5 a small picture's three ``retries`` at ``SMALL_QUERY_RETRY_SIDES`` (earlier versions carry
``QUERY_RETRY_SIDES`` whatever the picture's size, and are searched with them). Versions
1-4 are still read, but only a registry whose ``fingerprint_version`` they name accepts them
(see below).

Arrays travel as base64 of their bytes: exact, and compact enough that a clip's frame
hashes (~670 KB for MAX_FRAMES frames) or an image (~350 KB: three frame sizes of up to
1000 keypoints, plain and mirrored, and the grey picture; ~460 KB with an inset) fit well inside the default
64 MiB JSON body; a clip's reframe part grows with its length (see clip_query.py).

``fingerprint_version`` is the engine's ``FINGERPRINT_VERSION``: descriptors made by
another version of the algorithms (pHash, ORB settings, frame sampling) are refused
rather than silently matched with different evidence.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import numpy as np

from registry.fingerprints.agreement import QUERY_GRAY_SIDE
from registry.fingerprints.clip_query import (
    GRAY_SIDE,
    MAX_GRAYS,
    MAX_LOOKS,
    ClipDescriptors,
    ReframeQuery,
)
from registry.fingerprints.image import (
    FINGERPRINT_VERSION,
    ORB_CODE_BYTES,
    ORB_QUERY_FEATURES,
    QUERY_RETRY_SIDES,
    QUERY_WORK_SIDE,
    SMALL_QUERY_RETRY_SIDES,
    InsetView,
    OrbView,
    QueryDescriptors,
)
from registry.fingerprints.video import DEFAULT_SAMPLE_FPS, VideoFingerprint

FORMAT = "registry.query-descriptor"
VERSION = 5  # 2: a clip's optional "reframe" part, an image's optional "inset"; 3: "gray";
# 4: a clip's "looks.in_between"; 5: a small picture's three retries at SMALL_QUERY_RETRY_SIDES
SUPPORTED_VERSIONS = (1, 2, 3, 4, VERSION)
KINDS = ("image", "clip")
MAX_FRAMES = 20_000  # > 10 minutes at the 30 frames a second the engine samples
MAX_TIME_S = 4_000_000.0
PHASH_VARIANTS = ("mirror", "trim", "trim_mirror")  # besides "plain", sent as "phash"
INSET_PHASHES = {"phash": "inset", "mirror": "inset_mirror"}  # JSON key -> InsetView.phash key
ORB_VARIANTS = ("plain", "mirror")
POINT_BYTES = 8  # float32 x, y
_POINT_DTYPE = "<f4"
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
FRAME_COLUMNS = {"timestamps": "<f8", "phashes": ">u8", "mirror_phashes": ">u8", "informative": "u1"}

Descriptor = QueryDescriptors | ClipDescriptors


class DescriptorError(ValueError):
    """A descriptor that this registry cannot read; the message says why (safe to show).

    A ValueError, so request validation reports it as invalid input."""


def base64_length(n_bytes: int) -> int:
    """Characters of the padded base64 of ``n_bytes`` bytes."""
    return 4 * math.ceil(n_bytes / 3)


# --------------------------------------------------------------------------- writing


def to_json(descriptor: Descriptor, name: str | None = None) -> dict[str, Any]:
    """The JSON form of an image's ``QueryDescriptors`` or a clip's ``ClipDescriptors``
    (its reframe part included when it has one: computed first if need be)."""
    header = {"format": FORMAT, "version": VERSION, "fingerprint_version": FINGERPRINT_VERSION}
    if name is not None:
        header["name"] = name
    if isinstance(descriptor, ClipDescriptors):
        return {**header, "kind": "clip", **_clip_json(descriptor)}
    return {**header, "kind": "image", **_image_json(descriptor)}


def _hex(code: int) -> str:
    return f"{int(code):016x}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _view_json(view: OrbView) -> dict[str, Any]:
    orb = {}
    for variant in ORB_VARIANTS:
        codes, points, angles = view.orb[variant]
        orb[variant] = {"count": len(codes),
                        "codes": _b64(np.asarray(codes, np.uint8).tobytes()),
                        "points": _b64(np.asarray(points).astype(_POINT_DTYPE).tobytes()),
                        "angles": _b64(np.asarray(angles, np.uint8).tobytes())}
    return {"size": [int(view.size[0]), int(view.size[1])], "orb": orb}


def _image_json(query: QueryDescriptors, gray: bool = True) -> dict[str, Any]:
    first, *retries = query.views
    out = {"phash": _hex(query.phash["plain"]),
           "variants": {v: _hex(query.phash[v]) for v in PHASH_VARIANTS},
           **_view_json(first), "retries": [_view_json(view) for view in retries]}
    inset = query.inset
    if inset is not None:
        out["inset"] = {**{key: _hex(inset.phash[v]) for key, v in INSET_PHASHES.items()},
                        **_view_json(inset.view)}
    if gray and query.gray is not None:
        out["gray"] = {"size": [int(query.gray.shape[1]), int(query.gray.shape[0])],
                       "pixels": _b64(np.ascontiguousarray(query.gray, np.uint8).tobytes())}
    return out


def _clip_json(clip: ClipDescriptors) -> dict[str, Any]:
    fp = clip.fingerprint
    columns = (fp.timestamps, fp.hashes, fp.mirror_hashes, fp.informative)
    out: dict[str, Any] = {"frames": {"count": len(fp), **{
        key: _b64(np.asarray(values).astype(dtype).tobytes())
        for (key, dtype), values in zip(FRAME_COLUMNS.items(), columns, strict=True)}}}
    reframe = clip.reframe
    if reframe is not None:
        out["reframe"] = {
            "looks": {"count": len(reframe.looks), "timestamps": _b64(reframe.look_times.astype("<f8").tobytes()),
                      "in_between": _b64(reframe.in_between.astype(np.uint8).tobytes()),
                      "frames": [_image_json(look, gray=False) for look in reframe.looks]},
            "grays": {"count": len(reframe.grays),
                      "size": [int(reframe.grays.shape[2]), int(reframe.grays.shape[1])],
                      "timestamps": _b64(reframe.gray_times.astype("<f8").tobytes()),
                      "pixels": _b64(np.ascontiguousarray(reframe.grays, np.uint8).tobytes())}}
    return out


# --------------------------------------------------------------------------- reading


def check_header(data: Any) -> None:
    """Refuse another format, format version or engine version before reading any further,
    so that the answer names the real problem rather than the fields it does not expect."""
    if not isinstance(data, dict):
        raise DescriptorError("a descriptor is a JSON object")
    if data.get("format") != FORMAT:
        raise DescriptorError(f'not a query descriptor: "format" must be "{FORMAT}"')
    version = data.get("version")
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        raise DescriptorError(
            f"unsupported descriptor version {version!r}: this registry reads version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}")
    engine = data.get("fingerprint_version")
    if engine != FINGERPRINT_VERSION or isinstance(engine, bool):
        raise DescriptorError(
            f"descriptor computed with fingerprint version {engine!r}, but this registry's is "
            f"{FINGERPRINT_VERSION}: compute it again with this registry's `registry fingerprint`")


def from_json(data: Any) -> Descriptor:
    """The engine's form of a descriptor written by ``to_json``; ``DescriptorError`` when it
    is not one (bad header, base64, counts or bounds)."""
    check_header(data)
    kind = data.get("kind")
    if kind == "image":
        return _image(data, data["version"])
    if kind == "clip":
        return _clip(data)
    raise DescriptorError(f'"kind" must be one of {", ".join(KINDS)}')


def _field(data: dict, key: str, kind: type, where: str = "") -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise DescriptorError(f"{where}{key}: expected {kind.__name__}")
    return value


def _code(text: Any, where: str) -> int:
    if not isinstance(text, str) or not _HEX16.fullmatch(text):  # (int() also takes "_", "+")
        raise DescriptorError(f"{where}: expected 16 hex digits")
    return int(text, 16)


def _bytes(text: Any, where: str, expected: int) -> bytes:
    if not isinstance(text, str) or len(text) != base64_length(expected):
        raise DescriptorError(f"{where}: expected the base64 of {expected} bytes")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DescriptorError(f"{where}: not valid base64") from None
    if len(data) != expected:
        raise DescriptorError(f"{where}: expected the base64 of {expected} bytes, got {len(data)}")
    return data


def _size(data: dict, side: int, where: str) -> tuple[int, int]:
    size = data.get("size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in size)):
        raise DescriptorError(f"{where}size: expected [width, height]")
    width, height = size
    if not (1 <= width <= side and 1 <= height <= side and max(width, height) == side):
        raise DescriptorError(f"{where}size: the frame has a long side of {side} pixels "
                              f"and a short side of at least 1, got {width}x{height}")
    return width, height


def _orb(data: Any, where: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(data, dict):
        raise DescriptorError(f"{where}: expected an object with count, codes, points and angles")
    n = _field(data, "count", int, f"{where}.")
    if not 0 <= n <= ORB_QUERY_FEATURES:
        raise DescriptorError(f"{where}.count: at most {ORB_QUERY_FEATURES} keypoints, got {n}")
    codes = np.frombuffer(_bytes(data.get("codes"), f"{where}.codes", n * ORB_CODE_BYTES), np.uint8)
    points = np.frombuffer(_bytes(data.get("points"), f"{where}.points", n * POINT_BYTES),
                           _POINT_DTYPE).astype(np.float32).reshape(n, 2)
    angles = np.frombuffer(_bytes(data.get("angles"), f"{where}.angles", n), np.uint8)
    # (NaN fails both comparisons, so it is refused too)
    inside = (points >= 0) & (points <= np.array(size, np.float32))
    if not inside.all():
        raise DescriptorError(f"{where}.points: keypoints must lie in the {size[0]}x{size[1]} frame")
    return codes.reshape(n, ORB_CODE_BYTES).copy(), points, angles.copy()


def _image(data: dict, version: int, where: str = "", look: bool = False) -> QueryDescriptors:
    variants = _field(data, "variants", dict, where)
    if set(variants) != set(PHASH_VARIANTS):
        raise DescriptorError(f"{where}variants: expected exactly {', '.join(PHASH_VARIANTS)}")
    phash = {"plain": _code(data.get("phash"), f"{where}phash"),
             **{v: _code(variants[v], f"{where}variants.{v}") for v in PHASH_VARIANTS}}
    first = _view(data, QUERY_WORK_SIDE, where)
    retries = _field(data, "retries", list, where)
    sides = _retry_sides(retries, version, where)
    inset = None
    if data.get("inset") is not None:
        if version < 2:
            raise DescriptorError(f"{where}inset: a version 2 field (this descriptor says version 1)")
        inset = _inset(data["inset"], first.size, where)
    gray = None
    if version >= 3 and not look:
        gray = _gray(data.get("gray"), where)
    elif data.get("gray") is not None:
        raise DescriptorError(f"{where}gray: a version 3 field of a picture, not of a clip's look"
                              if look else f"{where}gray: a version 3 field (this descriptor says "
                              f"version {version})")
    return QueryDescriptors(phash=phash, orb=first.orb, size=first.size, retry_views=tuple(
        _view(view, side, f"{where}retries[{i}].")
        for i, (view, side) in enumerate(zip(retries, sides, strict=True))),
        inset_view=inset, gray_sent=gray)


def _retry_sides(retries: list, version: int, where: str) -> tuple[int, ...]:
    """The long sides the retry views must have: QUERY_RETRY_SIDES, or from version 5 those
    of a small picture (image.retry_sides), told apart by their number."""
    if len(retries) == len(SMALL_QUERY_RETRY_SIDES) and version >= 5:
        return SMALL_QUERY_RETRY_SIDES
    if len(retries) != len(QUERY_RETRY_SIDES):
        small = (f"; a small picture's {len(SMALL_QUERY_RETRY_SIDES)} views, at "
                 f"{', '.join(map(str, SMALL_QUERY_RETRY_SIDES))}, from version 5 on")
        raise DescriptorError(f"{where}retries: expected {len(QUERY_RETRY_SIDES)} views, at long "
                              f"sides {', '.join(map(str, QUERY_RETRY_SIDES))}{small}")
    return QUERY_RETRY_SIDES


def _gray(data: Any, where: str) -> np.ndarray:
    if not isinstance(data, dict) or set(data) != {"size", "pixels"}:
        raise DescriptorError(f"{where}gray: expected an object with size and pixels")
    width, height = _size(data, QUERY_GRAY_SIDE, f"{where}gray.")
    pixels = _bytes(data["pixels"], f"{where}gray.pixels", width * height)
    return np.frombuffer(pixels, np.uint8).reshape(height, width).copy()


def _inset(data: Any, first_size: tuple[int, int], where: str) -> InsetView:
    if not isinstance(data, dict) or set(data) != {*INSET_PHASHES, "size", "orb"}:
        raise DescriptorError(f"{where}inset: expected an object with phash, mirror, size and orb")
    view = _view(data, QUERY_WORK_SIDE, f"{where}inset.")
    if view.size != first_size:
        raise DescriptorError(f"{where}inset.size: the inset's keypoints are in the first ORB "
                              f"frame, {first_size[0]}x{first_size[1]}")
    return InsetView({v: _code(data[key], f"{where}inset.{key}") for key, v in INSET_PHASHES.items()},
                     view)


def _view(data: Any, side: int, where: str) -> OrbView:
    if not isinstance(data, dict):
        raise DescriptorError(f"{where.rstrip('.')}: expected an object with size and orb")
    size = _size(data, side, where)
    orb = _field(data, "orb", dict, where)
    if set(orb) != set(ORB_VARIANTS):
        raise DescriptorError(f"{where}orb: expected exactly {', '.join(ORB_VARIANTS)}")
    return OrbView({v: _orb(orb[v], f"{where}orb.{v}", size) for v in ORB_VARIANTS}, size)


def _clip(data: dict) -> ClipDescriptors:
    frames = _field(data, "frames", dict)
    n = _field(frames, "count", int, "frames.")
    if not 1 <= n <= MAX_FRAMES:
        raise DescriptorError(f"frames.count: between 1 and {MAX_FRAMES} frames, got {n}")
    times, hashes, mirrors, informative = (
        np.frombuffer(_bytes(frames.get(key), f"frames.{key}", n * np.dtype(dtype).itemsize), dtype)
        for key, dtype in FRAME_COLUMNS.items())
    times = _times(times, "frames.timestamps")
    if (informative > 1).any():
        raise DescriptorError("frames.informative: 1 or 0 per frame")
    # Only the per-frame columns take part in matching; the rest describes the query.
    fp = VideoFingerprint(times, hashes.astype(np.uint64), mirrors.astype(np.uint64),
                          informative.astype(bool), duration_s=float(times[-1]), width=0,
                          height=0, codec="descriptor", frame_rate=None, frames_decoded=n,
                          sample_fps=DEFAULT_SAMPLE_FPS)
    if "reframe" not in data:
        return ClipDescriptors(fp)
    if data["version"] < 2:
        raise DescriptorError('reframe: not part of descriptor version 1 (write "version": 2)')
    reframe = _field(data, "reframe", dict)
    return ClipDescriptors(fp, reframe_sent=_reframe(reframe, data["version"]))


def _times(values: np.ndarray, where: str) -> np.ndarray:
    times = values.astype(np.float64)
    if not (np.isfinite(times).all() and (np.abs(times) < MAX_TIME_S).all()
            and (np.diff(times) > 0).all()):
        raise DescriptorError(f"{where}: strictly increasing seconds within ±{MAX_TIME_S:g}")
    return times


def _reframe(data: dict, version: int) -> ReframeQuery:
    looks = _field(data, "looks", dict, "reframe.")
    m = _field(looks, "count", int, "reframe.looks.")
    if not 0 <= m <= MAX_LOOKS:
        raise DescriptorError(f"reframe.looks.count: at most {MAX_LOOKS} looks, got {m}")
    look_times = _times(np.frombuffer(_bytes(looks.get("timestamps"), "reframe.looks.timestamps",
                                             8 * m), "<f8"), "reframe.looks.timestamps")
    in_between = np.zeros(m, bool)
    if "in_between" in looks:
        if version < 4:
            raise DescriptorError('reframe.looks.in_between: a version 4 field (write "version": 4)')
        flags = np.frombuffer(_bytes(looks["in_between"], "reframe.looks.in_between", m), np.uint8)
        if (flags > 1).any():
            raise DescriptorError("reframe.looks.in_between: 1 or 0 per look")
        in_between = flags.astype(bool)
    frames = _field(looks, "frames", list, "reframe.looks.")
    if len(frames) != m:
        raise DescriptorError(f"reframe.looks.frames: expected {m} looks")
    parsed = []
    for i, look in enumerate(frames):
        where = f"reframe.looks.frames[{i}]."
        if not isinstance(look, dict):
            raise DescriptorError(f"{where.rstrip('.')}: expected an object")
        parsed.append(_image(look, version, where, look=True))
    grays = _field(data, "grays", dict, "reframe.")
    n = _field(grays, "count", int, "reframe.grays.")
    if not 0 <= n <= MAX_GRAYS:
        raise DescriptorError(f"reframe.grays.count: at most {MAX_GRAYS} frames, got {n}")
    width, height = _size(grays, GRAY_SIDE, "reframe.grays.")
    gray_times = _times(np.frombuffer(_bytes(grays.get("timestamps"), "reframe.grays.timestamps",
                                             8 * n), "<f8"), "reframe.grays.timestamps")
    pixels = np.frombuffer(_bytes(grays.get("pixels"), "reframe.grays.pixels", n * width * height),
                           np.uint8).reshape(n, height, width)
    return ReframeQuery(look_times, tuple(parsed), gray_times, pixels.copy(), in_between)
