"""Makes an edited copy of a clip, the way a generator or an editor would re-use footage:
an excerpt, rescaled, optionally mirrored, re-encoded at a low bitrate, at another speed.

    python scripts/transform_clip.py SOURCE.mp4 COPY.mp4 --start 0.5 --duration 1.5 --scale 0.5 --mirror
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.media import make_variant  # noqa: E402  (the same edits the tests use)


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
    args = parser.parse_args()
    make_variant(args.source, args.target, start=args.start, duration=args.duration,
                 speed=args.speed, scale=args.scale, crop=args.crop, mirror=args.mirror,
                 bitrate=args.bitrate)
    print(f"wrote {args.target}")


if __name__ == "__main__":
    main()
