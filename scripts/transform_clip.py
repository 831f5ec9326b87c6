"""Makes an edited copy of a clip, the way a generator or an editor would re-use footage:
an excerpt, rescaled, optionally mirrored, re-encoded at a low bitrate, at another speed,
reframed to another aspect ratio (a vertical 9:16 cut for phones, a moving pan-and-scan
window) or shown picture-in-picture over a still.

    python scripts/transform_clip.py SOURCE.mp4 COPY.mp4 --start 0.5 --duration 1.5 --scale 0.5 --mirror
    python scripts/transform_clip.py SOURCE.mp4 COPY.mp4 --aspect 9:16 --position 0.3
    python scripts/transform_clip.py SOURCE.mp4 COPY.mp4 --aspect 9:16 --position 0 --pan-to 1
    python scripts/transform_clip.py SOURCE.mp4 COPY.mp4 --inset BACKGROUND.png --inset-width 0.45
"""

import argparse
import sys
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.clip_evalset import aspect_window  # noqa: E402
from tests.media import make_variant  # noqa: E402  (the same edits the tests use)


def _ratio(text: str) -> float:
    w, _, h = text.partition(":")
    return float(w) / float(h or 1)


def reframe_window(source: Path, aspect: float, position: float, pan_to: float | None):
    """``window(u)`` for make_variant: the largest window of ``aspect`` at ``position``
    (0 = left or top, 1 = right or bottom), sliding to ``pan_to`` over the copy."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
    end = position if pan_to is None else pan_to

    def window(u: float) -> tuple[float, float, float, float]:
        p = position + (end - position) * u
        left, top, right, bottom = aspect_window(size, aspect, p, p)
        return left, top, 1 - right, 1 - bottom
    return window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--start", type=float, default=0.0, help="excerpt start (s)")
    parser.add_argument("--duration", type=float, default=None, help="excerpt length (s)")
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed of the copy")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--crop", type=float, default=0.0, help="share cut from each side")
    parser.add_argument("--mirror", action="store_true")
    parser.add_argument("--bitrate", type=int, default=300_000)
    parser.add_argument("--aspect", type=_ratio, help="reframe to this aspect ratio, e.g. 9:16")
    parser.add_argument("--position", type=float, default=0.5,
                        help="where the reframed window sits (0 = left/top .. 1 = right/bottom)")
    parser.add_argument("--pan-to", type=float, help="pan-and-scan: the window's last position")
    parser.add_argument("--inset", type=Path, help="a picture to show the copy over")
    parser.add_argument("--inset-width", type=float, default=0.45,
                        help="the copy's share of the picture's width")
    parser.add_argument("--inset-at", type=float, nargs=2, default=(1.0, 1.0), metavar=("X", "Y"),
                        help="the copy's corner as a share of the free space (1 1 = bottom right)")
    args = parser.parse_args()
    window = (reframe_window(args.source, args.aspect, args.position, args.pan_to)
              if args.aspect else None)
    inset = (args.inset, args.inset_width, tuple(args.inset_at)) if args.inset else None
    make_variant(args.source, args.target, start=args.start, duration=args.duration,
                 speed=args.speed, scale=args.scale, crop=args.crop, mirror=args.mirror,
                 bitrate=args.bitrate, window=window, inset=inset)
    print(f"wrote {args.target}")


if __name__ == "__main__":
    main()
