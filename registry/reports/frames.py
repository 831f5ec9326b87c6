"""Thumbnails of the frames a report shows side by side: decoded from the stored media,
encoded as PNG deterministically, so the same frame always has the same digest."""

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from registry.core.blobstore import LocalBlobStore

THUMB_SIZE = (240, 180)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    png: bytes
    sha256: str
    width: int
    height: int


def _video_frame(path: str, time_s: float) -> Image.Image | None:
    with av.open(path) as container:
        stream = container.streams.video[0]
        if stream.time_base is not None and time_s > 0:
            container.seek(int(time_s / stream.time_base), stream=stream, backward=True)
        last = None
        for frame in container.decode(stream):
            last = frame
            if frame.time is not None and frame.time >= time_s - 1e-3:
                return frame.to_image()
        return last.to_image() if last is not None else None


def _encode(image: Image.Image) -> Frame:
    image = image.convert("RGB")
    image.thumbnail(THUMB_SIZE, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    png = buffer.getvalue()
    return Frame(png, hashlib.sha256(png).hexdigest(), image.width, image.height)


def thumbnail(blobs: LocalBlobStore, sha256: str | None, media_type: str | None,
              time_s: float | None) -> Frame | None:
    """The frame at ``time_s`` of a stored clip, or the stored image; None when the media is
    not in the blob store (e.g. a fingerprint-only check) or cannot be decoded."""
    if not sha256 or not blobs.exists(sha256):
        return None
    return thumbnail_file(blobs.path(sha256), media_type, time_s)


def thumbnail_file(file: Path, media_type: str | None, time_s: float | None) -> Frame | None:
    """The same of a file the registry has already probed (a stored blob, a staged upload)."""
    path = str(file)
    try:
        if media_type and media_type.startswith("video/"):
            image = _video_frame(path, time_s or 0.0)
        else:
            with Image.open(path) as opened:
                opened.load()
                image = opened.copy()
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        # Stored media the registry decoded once; failing now is worth a log line, not a 500.
        log.warning("cannot render a thumbnail of %s: %s", file.name, exc)
        return None
    return _encode(image) if image is not None else None
