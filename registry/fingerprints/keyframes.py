"""What a registered clip keeps for finding *reframed* copies (reframe.py).

A 9:16 vertical reframe keeps a third of a 16:9 frame, a picture-in-picture copy shows
the whole frame at a fraction of the query's: neither leaves a frame's global pHash (or
any of its crop windows') anywhere near the copy's. So a registered clip also stores:

* **ORB keyframes** -- one frame per second (the first kept frame of every second),
  with the same local descriptors as a registered still (``ORB_REFERENCE_FEATURES`` at
  ``WORK_SIDE``). They go into a still-image ``Matcher`` of their own (``live.py``), so
  a frame of a reframed copy finds its keyframe the way a cropped photo finds its work.
  Cost: ~11 KB per second of film (a two-hour film: ~80 MB), ~10 ms of ORB per second.
* **a grey grid per frame** -- the frame's mean luminance over ``GRID_SIDE`` x
  ``GRID_SIDE`` cells (256 bytes per frame, averaged from the 64x64 thumbnail the
  pHash is made of). Keyframes say *which* second; the grid, sampled through the fitted
  transform from the query's frames, pins the offset to the frame and the speed
  (refinement.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from registry.fingerprints.frames import work_size
from registry.fingerprints.image import (
    ORB_CODE_BYTES,
    ORB_REFERENCE_FEATURES,
    WORK_SIDE,
    ImageFingerprint,
    orb_features,
)

KEYFRAME_FPS = 1.0
GRID_SIDE = 16


def grid_from_thumbnails(thumbs: np.ndarray) -> np.ndarray:
    """(n, GRID_SIDE**2) uint8 cell means of (n, s, s) grey thumbnails (s a multiple)."""
    n, side = len(thumbs), thumbs.shape[-1]
    f = side // GRID_SIDE
    cells = thumbs.reshape(n, GRID_SIDE, f, GRID_SIDE, f).mean(axis=(2, 4), dtype=np.float32)
    return np.rint(cells).astype(np.uint8).reshape(n, GRID_SIDE * GRID_SIDE)


@dataclass(frozen=True, eq=False)
class Keyframes:
    """ORB descriptors of a clip's keyframes, concatenated: keyframe ``k`` owns rows
    ``offsets[k]:offsets[k + 1]`` of ``codes`` / ``points`` / ``angles``."""

    times: np.ndarray  # (k,) float64 seconds
    frames: np.ndarray  # (k,) int64 index into the clip's frame arrays
    counts: np.ndarray  # (k,) int32 keypoints per keyframe
    codes: np.ndarray  # (N, 32) uint8
    points: np.ndarray  # (N, 2) uint16 (x, y) in the WORK_SIDE frame
    angles: np.ndarray  # (N,) uint8, 1/256 turns
    width: int  # the clip's frame size
    height: int

    def __len__(self) -> int:
        return len(self.times)

    def fingerprint(self, k: int, phash: int) -> ImageFingerprint:
        """Keyframe ``k`` as a registered still (``phash``: its frame's pHash)."""
        start = int(self.counts[:k].sum())
        rows = slice(start, start + int(self.counts[k]))
        return ImageFingerprint(
            phash=phash, phash_trimmed=phash, orb_descriptors=self.codes[rows].tobytes(),
            orb_points=self.points[rows].astype("<u2").tobytes(),
            orb_angles=self.angles[rows].tobytes(), width=self.width, height=self.height)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"kf_times": self.times, "kf_frames": self.frames, "kf_counts": self.counts,
                "kf_codes": self.codes, "kf_points": self.points, "kf_angles": self.angles,
                "kf_size": np.array([self.width, self.height], np.int64)}

    @classmethod
    def from_arrays(cls, arrays) -> Keyframes | None:
        if "kf_times" not in arrays:
            return None  # stored before keyframes existed (VIDEO_FORMAT_VERSION < 3)
        width, height = (int(v) for v in arrays["kf_size"])
        return cls(arrays["kf_times"], arrays["kf_frames"], arrays["kf_counts"],
                   arrays["kf_codes"], arrays["kf_points"], arrays["kf_angles"], width, height)


class KeyframeSampler:
    """Picks and describes keyframes while a registered clip is decoded."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.size = work_size(width, height, WORK_SIDE)
        self.reformatter = VideoReformatter()
        self.last_slot = -math.inf
        self.times: list[float] = []
        self.frames: list[int] = []
        self.features: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def offer(self, t: float, frame_no: int, frame) -> None:
        slot = math.floor(t * KEYFRAME_FPS + 1e-6)
        if slot <= self.last_slot:
            return
        self.last_slot = slot
        gray = self.reformatter.reformat(frame, width=self.size[0], height=self.size[1],
                                         format="gray", interpolation=Interpolation.BICUBIC)
        self.times.append(t)
        self.frames.append(frame_no)
        self.features.append(orb_features(gray.to_ndarray(), ORB_REFERENCE_FEATURES))

    def result(self) -> Keyframes:
        codes, points, angles = zip(*self.features) if self.features else ((), (), ())
        return Keyframes(
            times=np.asarray(self.times, np.float64), frames=np.asarray(self.frames, np.int64),
            counts=np.array([len(c) for c in codes], np.int32),
            codes=np.concatenate(codes) if codes else np.zeros((0, ORB_CODE_BYTES), np.uint8),
            points=(np.rint(np.concatenate(points)).astype(np.uint16) if points
                    else np.zeros((0, 2), np.uint16)),
            angles=np.concatenate(angles) if angles else np.zeros(0, np.uint8),
            width=self.width, height=self.height)


# Keyframes share one Matcher across clips under ids ``clip number << KEY_BITS | k``:
# 2**14 keyframes is 4.5 hours at KEYFRAME_FPS, over the longest clip accepted.
KEY_BITS = 14


def keyframe_id(clip_no: int, k: int) -> int:
    return (clip_no << KEY_BITS) | k


def split_keyframe_id(work_id: int) -> tuple[int, int]:
    return work_id >> KEY_BITS, work_id & ((1 << KEY_BITS) - 1)
