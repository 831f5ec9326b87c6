"""Seeded synthetic pictures: training data for the ORB vocabulary and the bulk of the
scale benchmark's registry.

None of the evaluation set's works (scripts/evalset.py) is used, so a
vocabulary trained on these pictures has never seen the images it is evaluated on.
Each picture layers what gives ORB corners in real photographs: multi-octave noise
texture (foliage, gravel), filled shapes with hard edges (buildings, objects), thin
lines, printed words, a colour gradient, then blur and JPEG as cameras and encoders
leave them.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

_WORDS = ["NORTH", "exit", "Café", "2031", "OPEN", "studio", "km 14", "HOTEL", "no parking"]


@cache
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    out = np.zeros((height, width, 3), np.float32)
    for octave in range(1, 6):
        h, w = max(2, height >> (6 - octave)), max(2, width >> (6 - octave))
        layer = rng.random((h, w, 3), dtype=np.float32)
        up = np.asarray(Image.fromarray((layer * 255).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BICUBIC), np.float32)
        out += up / octave
    out -= out.min()
    return out / max(float(out.max()), 1e-6) * 255


def synthetic_image(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    rng = np.random.default_rng(seed)
    width, height = size
    base = _texture(rng, height, width)
    gradient = np.linspace(rng.uniform(0, 1), rng.uniform(0, 1), width)[None, :, None]
    tint = rng.uniform(0.3, 1.0, 3)[None, None, :]
    image = Image.fromarray(np.clip(base * (0.4 + 0.6 * gradient) * tint, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(10, 60))):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(8, width // 3), y0 + rng.integers(8, height // 3)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 4)
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        elif kind == 2:
            points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(3)]
            draw.polygon(points, fill=fill)
        else:
            draw.line((x0, y0, x1, y1), fill=fill, width=int(rng.integers(1, 6)))
    for _ in range(int(rng.integers(0, 4))):
        font = _font(int(rng.integers(1, 5)) * 14)
        draw.text((int(rng.integers(0, width)), int(rng.integers(0, height))),
                  str(rng.choice(_WORDS)), fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
                  font=font)
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.2))))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(60, 95)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
