"""Typed errors for untrusted media. Every message is safe to show to the uploader.

Callers (the API layer) map the classes to HTTP answers: ``NotMedia`` and
``UnsupportedCodec`` are "unsupported media", the others "invalid media".
"""

from __future__ import annotations


class MediaError(Exception):
    """An uploaded file cannot be fingerprinted."""


class NotMedia(MediaError):
    """The bytes are not a recognised media container, or hold no usable stream."""


class CorruptMedia(MediaError):
    """The container is recognised but its structure or coded data is damaged."""


class TruncatedMedia(CorruptMedia):
    """The file ends before the data its header promises (an interrupted upload)."""


class UnsupportedCodec(MediaError):
    """The stream uses a codec this build cannot decode."""


class MediaTooLong(MediaError):
    """The clip lasts longer, or has more frames, than the configured limit."""


class DecompressionBomb(MediaError):
    """The media declares more pixels than the configured limit."""


__all__ = [
    "MediaError",
    "NotMedia",
    "CorruptMedia",
    "TruncatedMedia",
    "UnsupportedCodec",
    "MediaTooLong",
    "DecompressionBomb",
]
