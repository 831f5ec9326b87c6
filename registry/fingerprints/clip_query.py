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
  frame size) that are looked up among the registered clips' keyframes;
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
GRAY_FPS = 30.0  # every frame the frame hashes sample: at 10 a second a 1.5x copy lost its timing
GRAY_SIDE = 96  # as good as 128 and 192 on the calibration draw
MAX_GRAYS = 1_800  # a minute at GRAY_FPS; longer queries are read more sparsely


@dataclass(frozen=True)
class ReframeQuery:
    look_times: np.ndarray  # (m,) float64 seconds, increasing
    looks: tuple[QueryDescriptors, ...]  # (m,) every view computed, no picture kept
    gray_times: np.ndarray  # (n,) float64 seconds, increasing
    grays: np.ndarray  # (n, height, width) uint8, long side GRAY_SIDE

    def __post_init__(self) -> None:
        if len(self.look_times) != len(self.looks) or len(self.gray_times) != len(self.grays):
            raise ValueError("times and looks / grey frames must have the same length")


def look_interval(duration_s: float) -> float:
    return max(1.0 / LOOK_FPS, duration_s / MAX_LOOKS)


def gray_interval(duration_s: float) -> float:
    return max(1.0 / GRAY_FPS, duration_s / MAX_GRAYS)


def reframe_query(frames: Iterable[tuple[float, av.VideoFrame]], duration_s: float) -> ReframeQuery:
    """The looks and grey frames of a clip's decoded ``frames`` (see the module docstring);
    ``duration_s`` is its fingerprint's, which sets the intervals."""
    looks_every, grays_every = look_interval(duration_s), gray_interval(duration_s)
    look_times: list[float] = []
    looks: list[QueryDescriptors] = []
    gray_times: list[float] = []
    grays: list[np.ndarray] = []
    last_look = last_gray = None
    size: tuple[int, int] | None = None
    reformatter = VideoReformatter()
    for t, frame in frames:
        slot = math.floor(t / looks_every + 1e-6)
        if slot != last_look and len(looks) < MAX_LOOKS:
            last_look = slot
            look_times.append(t)
            # every view computed now (the picture is let go): without the second looks a
            # small picture-in-picture inset is not found (tests/test_descriptors.py), though
            # they triple a descriptor's size
            looks.append(query_descriptors(frame.to_image()).computed())
        slot = math.floor(t / grays_every + 1e-6)
        if slot != last_gray and len(grays) < MAX_GRAYS:
            last_gray = slot
            size = size or work_size(frame.width, frame.height, GRAY_SIDE)
            gray_times.append(t)
            grays.append(reformatter.reformat(frame, width=size[0], height=size[1], format="gray",
                                              interpolation=Interpolation.AREA).to_ndarray())
    shape = (0, *(size[::-1] if size else (1, 1)))
    return ReframeQuery(np.asarray(look_times, np.float64), tuple(looks),
                        np.asarray(gray_times, np.float64),
                        np.stack(grays) if grays else np.empty(shape, np.uint8))


def reframe_query_file(path: Path, duration_s: float, *, max_duration_s: float,
                       max_pixels: int) -> ReframeQuery:
    return reframe_query(decode_frames(path, max_duration_s=max_duration_s, max_pixels=max_pixels),
                         duration_s)


@dataclass(frozen=True)
class ClipDescriptors:
    """A query clip as the engine matches it: ``fingerprint`` (frame hashes) and, for the
    reframe search, ``reframe`` -- sent with a descriptor (``reframe_sent``), else
    computed from ``path`` when first asked for (most checks never need it), else None
    (a descriptor without it, e.g. from a hash-only client: no reframe search)."""

    fingerprint: VideoFingerprint
    reframe_sent: ReframeQuery | None = None
    path: Path | None = None
    max_duration_s: float = 0.0
    max_pixels: int = 0

    @cached_property
    def reframe(self) -> ReframeQuery | None:
        if self.reframe_sent is not None or self.path is None:
            return self.reframe_sent
        return reframe_query_file(self.path, self.fingerprint.duration_s,
                                  max_duration_s=self.max_duration_s, max_pixels=self.max_pixels)

