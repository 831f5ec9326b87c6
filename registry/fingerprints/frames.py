"""The sizes fingerprints are computed at, shared by the image and agreement modules."""

from __future__ import annotations

import numpy as np
from PIL import Image


def work_size(width: int, height: int, side: int) -> tuple[int, int]:
    """(width, height) of a picture resized so its long side is ``side``."""
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def gray_at(picture: Image.Image, side: int, resample: Image.Resampling) -> np.ndarray:
    """Grey levels (h, w) uint8 of ``picture`` resized so its long side is ``side``."""
    size = work_size(picture.width, picture.height, side)
    return np.asarray(picture.convert("L").resize(size, resample), dtype=np.uint8)
