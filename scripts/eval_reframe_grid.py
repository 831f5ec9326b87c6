"""A fixed grid of 9:16 vertical reframes of both registered films, through the clip engine.

    .venv/bin/python scripts/eval_reframe_grid.py [--set NAME=VALUE ...] [--starts S ...] [--workers N]

The clip evaluation's draws hold three 9:16 reframes per film; this grid holds twenty: the
largest 9:16 window at 0, 20, 40, 60 and 100% of the free width, times four excerpts of
2.5 s starting at 0.2-2.6 s (before bikes' cut-out shot), rendered by ``clip_evalset``
(deterministic, CRF 23) and checked as an upload is (frame hashes, then the reframe
search). Timing is judged both as the draws judge it (a static span by its overlap) and
strictly (offset within one frame and speed within 5%, static shots too). A trial setting of
``reframe.py``, ``refinement.py``, ``clip_query.py`` or ``keyframes.py`` is given with
``--set`` (e.g. ``--set MIN_HIT_FRAMES=2``, ``--set KEYFRAME_FPS=2``). The excerpts'
starts can be moved (``--starts``): the looks come every half second from a clip's first
frame, so the 1.0-s start puts every other look on a keyframe of the film, which the other
starts do not. The grid was not used to choose any threshold; it shows where the draws are
thin.
"""

import argparse
import multiprocessing
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from registry.fingerprints import clip_query, keyframes, refinement, reframe  # noqa: E402
from scripts import clip_evalset as ce  # noqa: E402
from scripts import trial_settings  # noqa: E402

POSITIONS = (0.0, 0.2, 0.4, 0.6, 1.0)
STARTS = (0.2, 1.0, 1.8, 2.6)  # both films (bikes: before its cut-out shot)
DURATION_S = 2.5
_STATE: dict = {}


def grid_queries(starts: tuple[float, ...] = STARTS) -> list[ce.ClipQuery]:
    queries = []
    for work in ce.WORK_CLIPS:
        for x in POSITIONS:
            crop = ce.aspect_window(ce.WORK_SIZES[work], 9 / 16, x)
            for start in starts:
                edit = ce.Edit(start=start, duration=DURATION_S, crop=crop)
                queries.append(ce.ClipQuery(f"{ce.WORK_CLIPS[work]} 9:16 at {x:.0%}, {start:g} s",
                                            "vertical 9:16 reframe", work, ce.WORK_CLIPS[work], edit))
    return queries


def _run(query: ce.ClipQuery) -> ce.ClipResult:
    return ce.evaluate_one(query, _STATE["refs"], _STATE["index"], _STATE["keyframes"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a constant of reframe.py, refinement.py, clip_query.py or "
                             "keyframes.py for the run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--starts", type=float, nargs="+", default=list(STARTS),
                        help="excerpt starts in seconds (the 1.0-s one puts looks on keyframes)")
    args = parser.parse_args()
    for setting in args.set:
        try:
            setattr(*trial_settings.parse(setting, (reframe, refinement, clip_query, keyframes)))
        except ValueError as error:
            parser.error(str(error))
    _STATE["refs"] = refs = ce.reference_fingerprints()
    _STATE["index"] = ce.build_index(refs)
    _STATE["keyframes"] = ce.build_keyframe_matcher(refs)
    queries = grid_queries(tuple(args.starts))
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = list(pool.imap(_run, queries, chunksize=1))
    print(f"# 9:16 reframe grid, set {args.set}")
    for work, stem in ce.WORK_CLIPS.items():
        mine = [r for r in results if r.query.truth == work]
        for r in mine:
            engine = r.verdicts["engine"]
            verdict = "ok" if engine.offset_ok else "static, overlaps" if engine.right_timing else "MISS"
            print(f"- {r.query.name}: {verdict} ({engine.found})")
        strict = sum(r.verdicts["engine"].offset_ok for r in mine)
        timed = sum(r.verdicts["engine"].right_timing for r in mine)
        right = sum(r.verdicts["engine"].right_work for r in mine)
        false = sum(r.verdicts["engine"].false_match for r in mine)
        seconds = sorted(r.seconds[2] for r in mine)
        print(f"{stem}: right work {right}/{len(mine)}, right offset and speed {timed}/{len(mine)} "
              f"(static spans by overlap, as the draws judge), strictly {strict}/{len(mine)}, "
              f"other works matched {false}; "
              f"match time median {seconds[len(seconds) // 2]:.2f} s\n")


if __name__ == "__main__":
    main()
