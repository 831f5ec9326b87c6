"""The query side of a clip: its frame hashes (``VideoFingerprint``) and what the reframe
search (reframe.py) reads of it, computed once from the file -- or sent in a query
descriptor (descriptors.py), so that a client who will not upload the clip gets the
same verdict as one who does.

The reframe search reads two things of a query clip, both taken by time slots like
the frame hashes (the first decoded frame of every slot), so that the same file always
gives the same ``ReframeQuery``:

* **looks** -- every ``look_interval`` seconds (``LOOK_FPS`` a second, fewer for long
  clips: at most ``MAX_LOOKS``), the still-image query descriptors of the frame
  (``QueryDescriptors``: pHash variants and ORB keypoints, plain and mirrored, at each
  frame size) that are looked up among the registered clips' keyframes; and, for clips
  short enough that the look budget allows (``looks_between``), **in-between looks**
  that split each interval into equal parts, looked up only when the regular looks hit a
  registered clip but find no copy (reframe.py);
* **grey frames** -- every ``gray_interval`` seconds (``GRAY_FPS`` a second, at most
  ``MAX_GRAYS``), the frame in grey at a long side of ``GRAY_SIDE`` pixels, from which
  the registered frames' grid cells are read through the fitted transform.

The grey frames are small pictures of the clip: a client sending a descriptor sends
them (``registry fingerprint`` says so, and leaves them out with ``--hashes-only``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from registry.fingerprints.frames import work_size
from registry.fingerprints.image import QueryDescriptors, query_descriptors
from registry.fingerprints.video import VideoFingerprint, decode_frames

LOOK_FPS = 2.0
MAX_LOOKS = 120  # a minute at LOOK_FPS; a four-hour query is looked at every two minutes
# In fast footage a look finds a keyframe only within about 0.1 s of it (bikes, 9:16), and
# the regular looks, half a second apart, often fall near none: three more per interval
# put a look within 1/16 s of every keyframe. They cost four times the looks, so they are
# taken from what MAX_LOOKS leaves (fewer from 15 s on, none from 30 s) and looked up only
# when the regular looks hit a registered clip but find no copy.
IN_BETWEEN_LOOKS = 3
GRAY_FPS = 30.0  # every frame the frame hashes sample: at 10 a second a 1.5x copy lost its timing
GRAY_SIDE = 96  # as good as 128 and 192 on the calibration draw
MAX_GRAYS = 1_800  # a minute at GRAY_FPS; longer queries are read more sparsely


@dataclass(frozen=True)
class ReframeQuery:
    look_times: np.ndarray  # (m,) float64 seconds, increasing
    looks: tuple[QueryDescriptors, ...]  # (m,) every view computed, no picture kept
    gray_times: np.ndarray  # (n,) float64 seconds, increasing
    grays: np.ndarray  # (n, height, width) uint8, long side GRAY_SIDE
    in_between: np.ndarray  # (m,) bool: taken between the regular looks (module docstring)

    def __post_init__(self) -> None:
        if (len(self.look_times) != len(self.looks) or len(self.in_between) != len(self.looks)
                or len(self.gray_times) != len(self.grays)):
            raise ValueError("times, looks and their flags / grey frames must have the same length")

    def regular(self) -> ReframeQuery:
        """The query with its regular looks only."""
        keep = ~self.in_between
        return ReframeQuery(self.look_times[keep], tuple(look for look, k in zip(self.looks, keep, strict=True) if k),
                            self.gray_times, self.grays, self.in_between[keep])

    def with_looks(self, other: ReframeQuery) -> ReframeQuery:
        """This query's grey frames with both queries' looks, in time order."""
        times = np.concatenate([self.look_times, other.look_times])
        order = np.argsort(times, kind="stable")
        looks = self.looks + other.looks
        return ReframeQuery(times[order], tuple(looks[i] for i in order), self.gray_times, self.grays,
                            np.concatenate([self.in_between, other.in_between])[order])


def look_interval(duration_s: float) -> float:
    """Seconds between regular looks."""
    return max(1.0 / LOOK_FPS, duration_s / MAX_LOOKS)


def looks_between(duration_s: float) -> int:
    """In-between looks per interval: ``IN_BETWEEN_LOOKS`` while all looks stay within
    ``MAX_LOOKS``, fewer for longer clips (none from 30 s on)."""
    regular = math.floor(duration_s / look_interval(duration_s) + 1e-6) + 1
    return max(0, min(IN_BETWEEN_LOOKS, MAX_LOOKS // regular - 1))


def gray_interval(duration_s: float) -> float:
    return max(1.0 / GRAY_FPS, duration_s / MAX_GRAYS)


def reframe_query(frames: Iterable[tuple[float, av.VideoFrame]], duration_s: float,
                  looks: str = "all") -> ReframeQuery:
    """The looks and grey frames of a clip's decoded ``frames`` (see the module docstring);
    ``duration_s`` is its fingerprint's, which sets the intervals. ``looks``: "regular"
    (and the grey frames), "in_between" (no grey frames) or "all"; a frame is the same
    kind of look whichever are asked for, so the parts merge into the whole."""
    looks_every, grays_every = look_interval(duration_s), gray_interval(duration_s)
    parts = looks_between(duration_s) + 1
    part_every = looks_every / parts
    limits = {False: MAX_LOOKS // parts, True: (parts - 1) * (MAX_LOOKS // parts)}
    wanted = {"regular": (False,), "in_between": (True,), "all": (False, True)}[looks]
    counts = {False: 0, True: 0}
    look_times: list[float] = []
    found: list[QueryDescriptors] = []
    between: list[bool] = []
    gray_times: list[float] = []
    grays: list[np.ndarray] = []
    last_look = last_part = last_gray = None
    size: tuple[int, int] | None = None
    reformatter = VideoReformatter()
    for t, frame in frames:
        slot = math.floor(t / looks_every + 1e-6)
        part = math.floor(t / part_every + 1e-6)
        kind = None
        if slot != last_look:
            last_look, last_part, kind = slot, part, False
        elif part != last_part:
            last_part, kind = part, True
        if kind is not None and counts[kind] < limits[kind]:
            counts[kind] += 1
            if kind in wanted:
                look_times.append(t)
                # every view computed now (the picture is let go): without the second looks a
                # small picture-in-picture inset is not found (tests/test_descriptors.py), though
                # they triple a descriptor's size
                found.append(query_descriptors(frame.to_image()).computed())
                between.append(kind)
        slot = math.floor(t / grays_every + 1e-6)
        if looks != "in_between" and slot != last_gray and len(grays) < MAX_GRAYS:
            last_gray = slot
            size = size or work_size(frame.width, frame.height, GRAY_SIDE)
            gray_times.append(t)
            grays.append(reformatter.reformat(frame, width=size[0], height=size[1], format="gray",
                                              interpolation=Interpolation.AREA).to_ndarray())
    shape = (0, *(size[::-1] if size else (1, 1)))
    return ReframeQuery(np.asarray(look_times, np.float64), tuple(found),
                        np.asarray(gray_times, np.float64),
                        np.stack(grays) if grays else np.empty(shape, np.uint8),
                        np.asarray(between, bool))


def reframe_query_file(path: Path | bytes, duration_s: float, *, max_duration_s: float,
                       max_pixels: int, looks: str = "all") -> ReframeQuery:
    return reframe_query(decode_frames(path, max_duration_s=max_duration_s, max_pixels=max_pixels),
                         duration_s, looks)


@dataclass(frozen=True)
class ClipDescriptors:
    """A query clip as the engine matches it: ``fingerprint`` (frame hashes) and, for the
    reframe search, ``reframe`` -- sent with a descriptor (``reframe_sent``), else
    computed from ``path`` when first asked for (most checks never need it), else None
    (a descriptor without it, e.g. from a hash-only client: no reframe search). From a
    file, ``reframe`` has the regular looks only and ``complete_reframe`` adds the
    in-between ones (read again from the file: most searches never need them)."""

    fingerprint: VideoFingerprint
    reframe_sent: ReframeQuery | None = None
    path: Path | bytes | None = None  # the file (or, in the evaluation scripts, its bytes)
    max_duration_s: float = 0.0
    max_pixels: int = 0

    @cached_property
    def reframe(self) -> ReframeQuery | None:
        if self.reframe_sent is not None or self.path is None:
            return self.reframe_sent
        return self._read("regular")

    @cached_property
    def complete_reframe(self) -> ReframeQuery | None:
        regular = self.reframe
        if (regular is None or self.reframe_sent is not None or self.path is None
                or not looks_between(self.fingerprint.duration_s)):  # (a film is not read again)
            return regular
        return regular.with_looks(self._read("in_between"))

    def _read(self, looks: str) -> ReframeQuery:
        assert self.path is not None
        return reframe_query_file(self.path, self.fingerprint.duration_s, looks=looks,
                                  max_duration_s=self.max_duration_s, max_pixels=self.max_pixels)

