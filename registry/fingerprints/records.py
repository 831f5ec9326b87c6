"""Turning media into stored fingerprints and back (the database format of the engine)."""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from registry.core.errors import InvalidMedia, UnsupportedMedia
from registry.fingerprints.clip_query import ClipDescriptors, ReframeQuery
from registry.fingerprints.errors import MediaError, NotMedia, UnsupportedCodec
from registry.fingerprints.image import (
    FINGERPRINT_VERSION,
    ImageFingerprint,
    QueryDescriptors,
    fingerprint_image,
    load_image,
    query_descriptors,
)
from registry.fingerprints.keyframes import Keyframes
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.video import VideoFingerprint, fingerprint_video

if TYPE_CHECKING:
    from registry.assets.media import MediaInfo
    from registry.core.config import Settings

# 2: crop-variant hashes stored with each frame (rows of version 1 lack them).
# 3: each frame's grey grid and the ORB keyframes (keyframes.py); older rows lack them,
# so their clips are not searched for reframed copies until fingerprinted again.
VIDEO_FORMAT_VERSION = 3


def to_signed(code: int) -> int:
    """64-bit hashes live in signed BIGINT columns."""
    return code - (1 << 64) if code >= 1 << 63 else code


def to_unsigned(code: int) -> int:
    return code + (1 << 64) if code < 0 else code


def media_error(exc: MediaError) -> InvalidMedia | UnsupportedMedia:
    if isinstance(exc, (NotMedia, UnsupportedCodec)):
        return UnsupportedMedia(str(exc))
    return InvalidMedia(str(exc))


@dataclass(frozen=True)
class ClipFrames:
    """The stored part of a VideoFingerprint."""

    timestamps: np.ndarray
    hashes: np.ndarray
    mirror_hashes: np.ndarray
    informative: np.ndarray
    variant_hashes: np.ndarray | None = None  # (n, k) crop variants; absent in older rows
    grid: np.ndarray | None = None  # (n, GRID_SIDE**2) grey grids; absent before version 3
    keyframes: Keyframes | None = None  # absent before version 3


def fingerprint_image_file(path: Path, max_pixels: int) -> ImageFingerprint:
    try:
        return fingerprint_image(load_image(path.read_bytes(), max_pixels=max_pixels))
    except MediaError as exc:
        raise media_error(exc) from None


def query_image_file(path: Path, max_pixels: int) -> QueryDescriptors:
    """Descriptors of a submitted image (never stored)."""
    try:
        return query_descriptors(load_image(path.read_bytes(), max_pixels=max_pixels))
    except MediaError as exc:
        raise media_error(exc) from None


def fingerprint_clip_file(path: Path, max_seconds: float, max_pixels: int, *,
                          reference: bool = True,
                          progress: Callable[[int, float], None] | None = None) -> VideoFingerprint:
    """``reference``: also hash the crop windows (registered clips, not queries).
    ``progress``: see ``fingerprint_video``."""
    try:
        return fingerprint_video(path, max_duration_s=max_seconds, max_pixels=max_pixels,
                                 reference=reference, progress=progress)
    except MediaError as exc:
        raise media_error(exc) from None


def reframe_part(clip: ClipDescriptors, complete: bool = False) -> ReframeQuery | None:
    """The clip's reframe part (``complete``: with its in-between looks), read from its
    file now if it was not sent (or computed already), with the file's errors as the
    registry's."""
    try:
        return clip.complete_reframe if complete else clip.reframe
    except MediaError as exc:
        raise media_error(exc) from None


def image_record(asset_id: str, fp: ImageFingerprint) -> FingerprintSet:
    return FingerprintSet(asset_id=asset_id, kind="image", version=FINGERPRINT_VERSION,
                          phash=to_signed(fp.phash), frame_count=1,
                          data=json.dumps(fp.to_dict()).encode())


def clip_record(asset_id: str, fp: VideoFingerprint) -> FingerprintSet:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, timestamps=fp.timestamps.astype(np.float64), hashes=fp.hashes,
                        mirror_hashes=fp.mirror_hashes, informative=fp.informative,
                        variant_hashes=fp.variant_hashes,
                        **({"grid": fp.grid} if fp.grid is not None else {}),
                        **(fp.keyframes.arrays() if fp.keyframes is not None else {}))
    first = fp.hashes[fp.informative][:1]
    return FingerprintSet(asset_id=asset_id, kind="video", version=VIDEO_FORMAT_VERSION,
                          phash=to_signed(int(first[0])) if len(first) else None,
                          frame_count=len(fp), data=buffer.getvalue())


def load_image_fingerprint(record: FingerprintSet) -> ImageFingerprint:
    return ImageFingerprint.from_dict(json.loads(record.data))


def load_clip_frames(record: FingerprintSet) -> ClipFrames:
    with np.load(io.BytesIO(record.data)) as arrays:
        return ClipFrames(arrays["timestamps"], arrays["hashes"], arrays["mirror_hashes"],
                          arrays["informative"],
                          arrays["variant_hashes"] if "variant_hashes" in arrays else None,
                          arrays["grid"] if "grid" in arrays else None,
                          Keyframes.from_arrays(arrays))


@dataclass(frozen=True)
class StagedFingerprints:
    """Fingerprints computed from a staged upload, before its asset row exists."""

    image: ImageFingerprint | None = None
    clip: VideoFingerprint | None = None

    def record(self, asset_id: str) -> FingerprintSet:
        if self.image is not None:
            return image_record(asset_id, self.image)
        assert self.clip is not None
        return clip_record(asset_id, self.clip)


def fingerprint_staged(path: Path, info: "MediaInfo", settings: "Settings") -> StagedFingerprints:
    if info.is_video:
        clip = fingerprint_clip_file(path, settings.max_clip_seconds, settings.max_image_pixels)
        if not clip.informative.any():
            raise InvalidMedia("the clip has no frame with visible content to fingerprint")
        return StagedFingerprints(clip=clip)
    return StagedFingerprints(image=fingerprint_image_file(path, settings.max_image_pixels))
