"""Decides what an uploaded file is, and refuses what is not safe or not media.

Every check runs on the staged file before anything is recorded: an image must fully
decode within the pixel budget, a video must be a known container with a decodable video
stream no longer than the configured limit.
"""

import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from PIL import Image, UnidentifiedImageError

from registry.core.errors import InvalidMedia, UnsupportedMedia

# Containers we accept for clips; PyAV would otherwise happily "detect" text files as
# exotic formats (tty, ansi art) and report them as video.
VIDEO_CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "video/mp4",
    "matroska,webm": "video/webm",
    "avi": "video/x-msvideo",
    "mpegts": "video/mp2t",
    "mpeg": "video/mpeg",
    "flv": "video/x-flv",
}


@dataclass(frozen=True)
class MediaInfo:
    media_type: str
    width: int
    height: int
    duration_s: float | None = None
    frame_count: int | None = None

    @property
    def is_video(self) -> bool:
        return self.media_type.startswith("video/")


def probe(path: Path, *, max_pixels: int, max_clip_seconds: float) -> MediaInfo:
    info = _probe_image(path, max_pixels)
    if info is not None:
        return info
    return _probe_video(path, max_pixels, max_clip_seconds)


def _probe_image(path: Path, max_pixels: int) -> MediaInfo | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                frames = getattr(img, "n_frames", 1)
                if width * height * max(frames, 1) > max_pixels:
                    raise InvalidMedia(
                        f"image decodes to {width}x{height} pixels x {frames} frame(s), over "
                        f"the {max_pixels:,}-pixel limit (possible decompression bomb)")
                mime = Image.MIME.get(img.format or "", f"image/{(img.format or '').lower()}")
                img.load()
    except (UnidentifiedImageError, FileNotFoundError):
        return None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidMedia("image exceeds the pixel limit (decompression bomb)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidMedia(f"image is truncated or corrupt: {exc}") from None
    return MediaInfo(media_type=mime, width=width, height=height)


def probe_header(path: Path, *, max_pixels: int, max_clip_seconds: float) -> MediaInfo:
    """``probe`` without decoding a clip's frames: its duration and frame count are what the
    container declares (None when it declares none). A long clip's frames are decoded, and
    checked, once: while it is fingerprinted."""
    info = _probe_image(path, max_pixels)
    if info is not None:
        return info
    return _probe_video(path, max_pixels, max_clip_seconds, decode=False)


def declared_clip_seconds(stream: BinaryIO) -> float | None:
    """How long a clip says it lasts, read from its container header (nothing is decoded);
    None for anything that is not a recognised clip. The stream is rewound."""
    start = stream.tell()
    try:
        with av.open(stream, mode="r") as container:
            if container.format.name not in VIDEO_CONTAINERS or not container.streams.video:
                return None
            return _declared_duration(container, container.streams.video[0])
    except av.error.FFmpegError:
        return None
    finally:
        stream.seek(start)


def _probe_video(path: Path, max_pixels: int, max_clip_seconds: float,
                 decode: bool = True) -> MediaInfo:
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError:
        if _looks_like_video(path):
            raise InvalidMedia("video container is truncated or corrupt") from None
        raise UnsupportedMedia("the file is not a recognised image or video") from None
    with container:
        media_type = VIDEO_CONTAINERS.get(container.format.name)
        if media_type is None or not container.streams.video:
            raise UnsupportedMedia(
                "the file is not a recognised image or video"
                if media_type is None else "the container has no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            raise InvalidMedia(f"video frames of {width}x{height} exceed the pixel limit")
        declared = _declared_duration(container, stream)
        if declared is not None and declared > max_clip_seconds:
            raise InvalidMedia(f"clip lasts {declared:.1f} s, over the {max_clip_seconds:g} s limit")
        declared_frames = stream.frames
        if not decode:
            return MediaInfo(media_type=media_type, width=width, height=height,
                             duration_s=None if declared is None else round(declared, 3),
                             frame_count=declared_frames or None)
        frames, last_time = _decode_all(container, stream, max_clip_seconds)
    if frames == 0:
        raise InvalidMedia("the video stream has no decodable frames (truncated or corrupt)")
    if declared_frames and frames < declared_frames:
        raise InvalidMedia(f"video is truncated: decoded {frames} of {declared_frames} frames")
    duration = declared if declared is not None else last_time
    return MediaInfo(media_type=media_type, width=width, height=height,
                     duration_s=round(duration, 3), frame_count=frames)


def _looks_like_video(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(12)
    return head[4:8] == b"ftyp" or head[:4] in (b"\x1aE\xdf\xa3", b"RIFF")


def _declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _decode_all(container: av.container.InputContainer, stream: av.VideoStream,
                max_clip_seconds: float) -> tuple[int, float]:
    """Decode every frame: the only reliable way to notice a truncated or corrupt stream."""
    frames, last_time = 0, 0.0
    time_base = stream.time_base or Fraction(1, 1)
    try:
        for frame in container.decode(stream):
            frames += 1
            if frame.pts is not None:
                last_time = float(frame.pts * time_base)
                if last_time > max_clip_seconds:
                    raise InvalidMedia(f"clip runs past the {max_clip_seconds:g} s limit")
    except av.error.FFmpegError as exc:
        raise InvalidMedia(f"video is truncated or corrupt: {exc}") from None
    return frames, last_time
