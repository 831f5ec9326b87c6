"""Temporal alignment: which stretches of a query clip reuse which registered clips.

Frame-hash hits alone are weak evidence (unrelated footage shares hashes now and
then), but a real reuse produces hits that line up in time: the reference time of
each matching frame follows ``ref_t = speed * query_t + offset``. This module finds
those lines per reference asset:

1. Hough voting over (speed, offset), coarse to fine: for log-spaced speeds in
   [0.5, 2] every hit votes for ``offset = ref_t - speed * query_t``. Each query frame
   splits one vote over its hits, so a static shot matching fifty reference frames
   counts once.
2. Refinement, RANSAC-style: lines through pairs of hits near the peak (and lines of
   standard speeds: 1x, 0.5x, 2x, 25/24 ...) are scored by how well each query frame's
   best hit fits them -- small Hamming distance, within about half a reference frame
   period. The best line is polished by least squares on its inliers; a standard speed
   that scores almost as well is preferred, because over a short or slow span the
   slope is only loosely pinned.
3. The inliers are cut where the query has a gap longer than ``max_gap_s``; each piece
   is a ``ClipMatch`` if it has enough agreeing frames, lasts long enough and enough of
   the query frames inside it agree. Its hits are then removed and the next line is
   searched (a query may reuse several excerpts of one asset).

Speed changes, dropped frames, trimming and frame-rate conversion only change the
line's parameters or thin its points, so they are handled by construction. The
default thresholds (5 agreeing frames over >= 0.5 s, >= 25% of the frames in the
span) are met by a 1-second excerpt of any clip of >= 10 fps whose frames survive
the edit within the match radius: the fingerprint keeps every frame up to 30 fps.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from registry.fingerprints.index import FrameHashIndex, frame_ids, popcount64, split_frame_ids
from registry.fingerprints.video import CROP_VARIANTS, CropVariant, VideoFingerprint

# Bits of 64. Re-encoding, rescaling and mirroring stay within ~4 bits; a 4% crop
# pushes half the frames to 8-12 from the whole-frame hash (larger crops are found
# through the reference frames' crop-variant hashes, see register_video). Radius 8
# keeps exact lookups cheap (at 10 M codes every substring table is probed with at
# most 2 flipped bits); 10 finds more cropped frames for about 4x the lookup cost.
DEFAULT_RADIUS = 8


@dataclass(frozen=True)
class AlignParams:
    min_frames: int = 5  # distinct query frames on the line
    min_span_s: float = 0.5  # query-time extent of the match
    min_agreement: float = 0.25  # share of (informative) query frames in the span on the line
    tolerance_s: float = 0.1  # max |ref_t - (speed * query_t + offset)| of an inlier
    min_speed: float = 0.5
    max_speed: float = 2.0
    max_gap_s: float = 4.0  # a longer stretch without agreeing frames splits a match
    max_hits_per_frame: int = 64  # per query frame and asset kept for refinement
    vote_hits_per_frame: int = 4  # of those, the closest ones vote in the Hough stage
    # Edits use a few playback speeds (PAL 24<->25 fps speed-up, 0.5x, 2x, ...). Over a
    # short or slow span the slope is only loosely pinned, so a standard speed is kept
    # when it explains the hits within this fraction of the best line's score.
    standard_speeds: tuple[float, ...] = (0.5, 2 / 3, 0.75, 0.8, 24 / 25, 1.0, 25 / 24, 1.25,
                                          1.5, 2.0)
    speed_prior_slack: float = 0.06
    max_spans_per_asset: int = 8


@dataclass(frozen=True)
class ClipMatch:
    """One aligned span: ``ref_t ~= speed * query_t + offset_s`` on it."""

    ref_asset_id: Hashable
    query_start_s: float
    query_end_s: float
    ref_start_s: float
    ref_end_s: float
    offset_s: float
    speed: float
    matched_frames: int  # query frames in the span whose hit agrees with the line
    query_frames: int  # informative query frames in the span
    agreement: float  # matched_frames / query_frames
    mean_distance: float  # Hamming distance of the agreeing hits
    mirrored: bool  # matched through the mirrored-frame hashes
    score: float  # evidence used for ranking: sum of (64 - distance) / 64 over agreeing frames


def align(
    query_times: Sequence[float],
    candidates: Sequence[Sequence[tuple]],
    *,
    query_informative: Sequence[bool] | None = None,
    params: AlignParams = AlignParams(),
) -> list[ClipMatch]:
    """Align a query against index hits.

    ``candidates[i]`` lists the hits of query frame ``i`` (time ``query_times[i]``) as
    ``(ref_asset_id, ref_timestamp_s, hamming_distance)`` tuples, optionally with a
    fourth item ``mirrored``. Returns matches ranked by ``score``, best first.
    """
    rows = [(i, c[0], c[1], c[2], bool(c[3]) if len(c) > 3 else False)
            for i, frame_hits in enumerate(candidates) for c in frame_hits]
    if not rows:
        return []
    qi, assets, ref_t, dist, mirrored = zip(*rows)
    return align_arrays(
        np.asarray(query_times, dtype=np.float64), np.asarray(qi, dtype=np.int64),
        list(assets), np.asarray(ref_t, dtype=np.float64), np.asarray(dist, dtype=np.int64),
        np.asarray(mirrored, dtype=bool), query_informative=query_informative, params=params)


def align_arrays(query_times, hit_query, hit_asset, hit_ref_t, hit_dist, hit_mirrored=None, *,
                 query_informative=None, params: AlignParams = AlignParams()) -> list[ClipMatch]:
    """Array form of :func:`align`: one entry per hit (query frame number, asset, ...)."""
    query_times = np.asarray(query_times, dtype=np.float64)
    valid = (np.ones(len(query_times), bool) if query_informative is None
             else np.asarray(query_informative, dtype=bool))
    hit_query = np.asarray(hit_query, dtype=np.int64)
    hit_dist = np.asarray(hit_dist, dtype=np.int64)
    hit_ref_t = np.asarray(hit_ref_t, dtype=np.float64)
    hit_mirrored = (np.zeros(len(hit_query), bool) if hit_mirrored is None
                    else np.asarray(hit_mirrored, dtype=bool))
    keep = valid[hit_query]
    hit_query, hit_dist, hit_ref_t = hit_query[keep], hit_dist[keep], hit_ref_t[keep]
    if not len(hit_query):
        return []
    labels, gid = _factorize(hit_asset, keep, hit_mirrored[keep])
    order = np.argsort(gid, kind="stable")
    bounds = np.searchsorted(gid[order], np.arange(len(labels) + 1))
    valid_times = np.sort(query_times[valid])

    matches: list[ClipMatch] = []
    for g, (asset, mirrored) in enumerate(labels):
        sel = order[bounds[g]:bounds[g + 1]]
        if len(np.unique(hit_query[sel])) < params.min_frames:
            continue  # cheap exit for the many assets with a handful of chance hits
        q, r, d, f, rank = _best_hits(query_times[hit_query[sel]], hit_ref_t[sel],
                                      hit_dist[sel], hit_query[sel], params.max_hits_per_frame)
        matches += _spans_for_asset(asset, mirrored, q, r, d, f, rank < params.vote_hits_per_frame,
                                    valid_times, params)
    return sorted(_drop_mirror_duplicates(matches), key=lambda m: -m.score)


def _factorize(hit_asset, keep, mirrored):
    """Group number per hit for its (asset, mirrored) pair, and the pairs."""
    assets = np.asarray(hit_asset)
    if assets.dtype.kind in "iu":  # the index path: integer asset numbers, vectorised
        uniq, gid = np.unique(assets[keep].astype(np.int64) * 2 + mirrored, return_inverse=True)
        return [(int(u >> 1), bool(u & 1)) for u in uniq], gid.ravel()
    pairs = list(zip(np.asarray(hit_asset, dtype=object)[keep].tolist(), mirrored.tolist()))
    numbers = {k: n for n, k in enumerate(dict.fromkeys(pairs))}
    gid = np.fromiter((numbers[k] for k in pairs), dtype=np.int64, count=len(pairs))
    return list(numbers), gid


def _best_hits(q, r, d, f, k):
    """Each query frame's k closest hits, sorted by (frame, distance), and their rank.

    Equal distances are common (a static shot gives many reference frames the same
    hash), so ties are broken at random -- keeping the earliest ones would bias the
    line towards the start of the shot.
    """
    tie = np.random.default_rng(0).random(len(f))
    order = np.lexsort((tie, d, f))
    q, r, d, f = q[order], r[order], d[order], f[order]
    rank = np.arange(len(f)) - np.searchsorted(f, f, side="left")
    keep = rank < k
    return q[keep], r[keep], d[keep], f[keep], rank[keep]


def _spans_for_asset(asset, mirrored, q, r, d, f, voter, valid_times, p: AlignParams):
    out: list[ClipMatch] = []
    alive = np.ones(len(q), bool)
    for _ in range(p.max_spans_per_asset):
        idx = np.flatnonzero(alive)
        if len(np.unique(f[idx])) < p.min_frames:
            break
        vote = idx[voter[idx]]
        line = _hough_peak(q[vote], r[vote], f[vote], p)
        if line is None:
            break
        fit = _refine(q[idx], r[idx], d[idx], f[idx], line, p)
        if fit is None:
            break
        speed, offset, inl = fit
        inliers = idx[inl]
        for seg in _split_on_gaps(inliers, q, p.max_gap_s):
            m = _make_match(asset, mirrored, speed, offset, q[seg], r[seg], d[seg],
                            valid_times, p)
            if m is not None:
                out.append(m)
                # this part of the query is explained: its other hits on this asset are
                # shifted copies (static shots) and must not become ghost matches
                alive &= ~((q >= m.query_start_s) & (q <= m.query_end_s))
        alive[inliers] = False
    return out


def _hough_peak(q, r, f, p: AlignParams):
    """(speed, offset, band) of the strongest line, or None.

    Coarse to fine: a 48-speed grid over the whole speed range with offset bins as
    wide as the drift between neighbouring speeds, then twice a 16-speed grid around
    the winner on the hits near it -- ~80 speeds tried instead of the hundreds a
    single fine grid would need for a long query.
    """
    qc = 0.5 * float(q.max() + q.min())
    span = float(q.max() - q.min())
    # every query frame carries one vote, split over its hits
    _, inverse, counts = np.unique(f, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    lo, hi = math.log(p.min_speed / 1.05), math.log(p.max_speed * 1.05)
    speeds = np.exp(np.linspace(lo, hi, 48))
    step = (hi - lo) / 47
    sel = np.arange(len(q))
    for _ in range(3):
        width = max(2 * p.tolerance_s, step * span)
        votes, speed, b_centre = _vote(q[sel] - qc, r[sel], w[sel], speeds, width)
        if votes < p.min_frames:
            return None
        if width <= 2 * p.tolerance_s:
            break
        near = np.abs(r[sel] - (speed * (q[sel] - qc) + b_centre)) <= width
        sel = sel[near]
        speeds = speed * np.exp(np.linspace(-1.5 * step, 1.5 * step, 16))
        step = 3 * step / 15
    return speed, b_centre - speed * qc, width


def _vote(qd, r, w, speeds, width):
    """Weighted votes of hits for (speed, offset) cells; returns the best cell."""
    b = r[None, :] - speeds[:, None] * qd[None, :]
    best = (-1.0, 1.0, 0.0)
    for shift in (0.0, 0.5):  # two staggered grids so a peak on a bin edge is not split
        cell = np.floor(b / width + shift).astype(np.int64)
        cmin = int(cell.min())
        n_cells = int(cell.max()) - cmin + 1
        key = (cell - cmin) + np.arange(len(speeds), dtype=np.int64)[:, None] * n_cells
        weights = np.broadcast_to(w, b.shape).ravel()
        if len(speeds) * n_cells <= 8_000_000:
            votes = np.bincount(key.ravel(), weights=weights)
            top = int(np.argmax(votes))
            top_key = top
        else:  # hits spread over a long reference: sparse histogram
            uniq, inv = np.unique(key.ravel(), return_inverse=True)
            votes = np.bincount(inv, weights=weights)
            top = int(np.argmax(votes))
            top_key = int(uniq[top])
        if votes[top] > best[0]:
            s_i, c = divmod(top_key, n_cells)
            best = (float(votes[top]), float(speeds[s_i]), (c + cmin + 0.5 - shift) * width)
    return best


def _refine(q, r, d, f, line, p: AlignParams):
    """RANSAC-style refinement of the Hough line; returns (speed, offset, inlier mask).

    Candidate lines through pairs of hits near the Hough peak are scored by how well
    each query frame's hits fit them (close in Hamming distance *and* within about
    half a reference frame period); the best is polished by least squares on its
    inliers. The tight tolerance is what pins the slope: with the looser
    ``tolerance_s`` a slow shot fits a whole family of lines equally well.
    """
    speed, offset, band = line
    near = np.flatnonzero(np.abs(r - (speed * q + offset)) <= max(band, p.tolerance_s))
    if len(np.unique(f[near])) < 2:
        return None
    qn, rn, fn, dn = q[near], r[near], f[near], d[near]
    fine = _fine_tolerance(rn, p.tolerance_s)
    std = [s for s in p.standard_speeds if p.min_speed <= s <= p.max_speed]
    lines = np.array([(speed, offset)] + _pair_lines(qn, rn, p) + _fixed_speed_lines(qn, rn, std))
    scores = _line_scores(qn, rn, fn, dn, lines, fine)
    best = int(np.argmax(scores))
    standard = np.flatnonzero(np.isin(lines[:, 0], std))
    snapped = False
    if len(standard):
        u = standard[np.argmax(scores[standard])]
        snapped = scores[u] >= scores[best] * (1 - p.speed_prior_slack)
        best = u if snapped else best
    speed, offset = (float(v) for v in lines[best])
    for _ in range(2):
        inl = _best_hit_per_frame(q, r, d, f, speed, offset, fine)
        if inl.sum() < 2 or np.ptp(q[inl]) <= 0:
            break
        if snapped:  # keep the standard speed, centre the offset on the inliers
            offset += float(np.median(r[inl] - (speed * q[inl] + offset)))
            continue
        s_new, o_new = np.polyfit(q[inl], r[inl], 1)
        if p.min_speed / 1.05 <= s_new <= p.max_speed * 1.05:
            speed, offset = float(s_new), float(o_new)
    return speed, offset, _best_hit_per_frame(q, r, d, f, speed, offset, p.tolerance_s)


def _fine_tolerance(ref_times, cap):
    """A bit more than half the reference frame period, estimated from the hits: a
    query frame shows the reference frame nearest to its line position."""
    gaps = np.diff(np.unique(ref_times))
    gaps = gaps[gaps > 1e-3]
    period = float(np.percentile(gaps, 25)) if len(gaps) else 2 * cap
    return float(np.clip(0.6 * period, 0.01, cap))


def _pair_lines(q, r, p: AlignParams, n_pairs: int = 256):
    """Lines through random pairs of hits well apart in query time (seeded: repeatable)."""
    rng = np.random.default_rng(0)
    i = rng.integers(0, len(q), n_pairs)
    j = rng.integers(0, len(q), n_pairs)
    dq = q[j] - q[i]
    ok = np.abs(dq) >= 0.25 * np.ptp(q)
    i, j, dq = i[ok], j[ok], dq[ok]
    speed = (r[j] - r[i]) / dq
    ok = (speed >= p.min_speed / 1.05) & (speed <= p.max_speed * 1.05)
    return [(float(s), float(r[a] - s * q[a])) for s, a in zip(speed[ok], i[ok])]


def _fixed_speed_lines(q, r, speeds, n: int = 32):
    """Lines of the given speeds through random hits (and the median offset)."""
    picks = np.random.default_rng(1).integers(0, len(q), n)
    out = []
    for s in speeds:
        out.append((s, float(np.median(r - s * q))))
        out += [(s, float(r[i] - s * q[i])) for i in picks]
    return out


def _hit_fit(d, res, tol):
    """How well a hit supports a line: halves every 2 bits of Hamming distance, and
    falls from 1 to 0.5 as the time residual grows to ``tol`` (0 beyond)."""
    rel = np.abs(res) / tol
    return np.where(rel <= 1.0, np.exp2(-d / 2.0) * (1.0 - 0.5 * rel * rel), 0.0)


def _line_scores(q, r, f, d, lines, tol) -> np.ndarray:
    """Per line: sum over query frames of their best hit's fit. Hits arrive sorted by frame."""
    starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    out = np.empty(len(lines))
    step = max(1, 4_000_000 // max(len(q), 1))
    for s in range(0, len(lines), step):
        ln = lines[s:s + step]
        fit = _hit_fit(d[None, :], r[None, :] - (ln[:, :1] * q[None, :] + ln[:, 1:]), tol)
        out[s:s + step] = np.maximum.reduceat(fit, starts, axis=1).sum(axis=1)
    return out


def _best_hit_per_frame(q, r, d, f, speed, offset, tol):
    """Mask of each query frame's best-fitting hit within ``tol`` of the line."""
    fit = _hit_fit(d, r - (speed * q + offset), tol)
    cand = np.flatnonzero(fit > 0)
    mask = np.zeros(len(q), bool)
    if len(cand):
        order = cand[np.lexsort((-fit[cand], f[cand]))]
        first = np.r_[True, f[order][1:] != f[order][:-1]]
        mask[order[first]] = True
    return mask


def _split_on_gaps(inliers: np.ndarray, q: np.ndarray, max_gap: float):
    inliers = inliers[np.argsort(q[inliers], kind="stable")]
    cuts = np.flatnonzero(np.diff(q[inliers]) > max_gap) + 1
    return np.split(inliers, cuts)


def _make_match(asset, mirrored, speed, offset, q, r, d, valid_times, p: AlignParams):
    if len(q) < p.min_frames:
        return None
    t0, t1 = float(q.min()), float(q.max())
    if t1 - t0 < p.min_span_s:
        return None
    if len(np.unique(np.round(r, 3))) < 3:  # one frozen reference frame is no alignment
        return None
    in_span = int(np.searchsorted(valid_times, t1, "right")
                  - np.searchsorted(valid_times, t0, "left"))
    agreement = len(q) / max(in_span, 1)
    if agreement < p.min_agreement:
        return None
    speed, offset = float(speed), float(offset)
    return ClipMatch(
        ref_asset_id=asset, query_start_s=t0, query_end_s=t1,
        ref_start_s=speed * t0 + offset, ref_end_s=speed * t1 + offset,
        offset_s=offset, speed=speed, matched_frames=len(q), query_frames=in_span,
        agreement=min(agreement, 1.0), mean_distance=float(d.mean()), mirrored=mirrored,
        score=float(((64 - d) / 64).sum()))


def _drop_mirror_duplicates(matches: list[ClipMatch]) -> list[ClipMatch]:
    """Mirror-symmetric shots match both ways; keep the stronger reading of a span."""
    kept: list[ClipMatch] = []
    for m in sorted(matches, key=lambda m: -m.score):
        clash = any(k.ref_asset_id == m.ref_asset_id and k.mirrored != m.mirrored
                    and min(k.query_end_s, m.query_end_s) > max(k.query_start_s, m.query_start_s)
                    and abs(k.offset_s - m.offset_s) < 1.0 for k in kept)
        if not clash:
            kept.append(m)
    return kept


# ------------------------------------------------------------------- with an index


def best_hit_per_frame_id(hit_q: np.ndarray, ids: np.ndarray, dists: np.ndarray):
    """Keep one hit per (query hash, reference frame id): the closest.

    A reference frame is indexed under one id with several codes (its hash and its
    crop variants), so one query hash may hit the same frame more than once. Input in
    ``range_search_arrays`` order (by query, then distance); the order is kept.
    """
    if len(ids) < 2:
        return hit_q, ids, dists
    order = np.lexsort((dists, ids, hit_q))
    q_s, id_s = hit_q[order], ids[order]
    first = np.r_[True, (q_s[1:] != q_s[:-1]) | (id_s[1:] != id_s[:-1])]
    keep = np.sort(order[first])
    return hit_q[keep], ids[keep], dists[keep]


def reference_entries(asset_no: int, timestamps: np.ndarray, hashes: np.ndarray,
                      informative: np.ndarray, variant_hashes: np.ndarray | None = None,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, codes)`` to add to a FrameHashIndex for one registered clip.

    Every informative frame contributes its own hash and its crop-variant hashes
    (``VideoFingerprint.variant_hashes``), all under the frame's id
    (``frame_ids(asset_no, t)``), so a hit on a variant is a hit on that frame. A
    variant equal to the frame's hash or to an earlier variant of it is not repeated.
    """
    keep = np.asarray(informative, dtype=bool)
    ids = frame_ids(asset_no, np.maximum(np.asarray(timestamps, np.float64)[keep], 0.0))
    codes = np.asarray(hashes, dtype=np.uint64)[keep]
    if variant_hashes is None or not np.shape(variant_hashes)[-1]:
        return ids, codes
    table = np.concatenate([codes[:, None], np.asarray(variant_hashes, np.uint64)[keep]], axis=1)
    srt = np.sort(table, axis=1)
    fresh = np.ones(table.shape, bool)
    fresh[:, 1:] = srt[:, 1:] != srt[:, :-1]  # one of each distinct code per frame
    row = np.broadcast_to(np.arange(len(ids))[:, None], table.shape)
    return ids[row[fresh]], srt[fresh]


def register_video(index: FrameHashIndex, asset_no: int, fp: VideoFingerprint) -> np.ndarray:
    """Add a clip's informative frames -- their hashes and crop-variant hashes -- to
    ``index``; returns the frame ids used (one per informative frame)."""
    ids, codes = reference_entries(asset_no, fp.timestamps, fp.hashes, fp.informative,
                                   fp.variant_hashes)
    index.add(ids, codes)
    return frame_ids(asset_no, np.maximum(fp.timestamps[fp.informative], 0.0))


def match_video(query: VideoFingerprint, index: FrameHashIndex, *, radius: int = DEFAULT_RADIUS,
                params: AlignParams = AlignParams()) -> list[ClipMatch]:
    """Look every query frame (and its mirror) up in ``index`` and align the hits.

    Assets are identified by the ``asset_no`` given to :func:`register_video`.
    """
    n = len(query)
    lims, ids, dists = index.range_search_arrays(
        np.concatenate([query.hashes, query.mirror_hashes]), radius)
    per_query = np.diff(lims)
    hit_q = np.repeat(np.arange(2 * n), per_query)
    hit_q, ids, dists = best_hit_per_frame_id(hit_q, ids, dists)
    assets, ref_t = split_frame_ids(ids)
    return align_arrays(query.timestamps, hit_q % n, assets, ref_t, dists, hit_q >= n,
                        query_informative=query.informative, params=params)


# ------------------------------------------------------------- which code matched
# The index keeps a frame's hash and its crop windows' under one id, so a hit does not say
# which of them matched; the evidence does, and it is worked out afterwards for the few
# frames a check reports, from the registered clip's stored hashes.


def frame_codes(timestamps: np.ndarray, hashes: np.ndarray, informative: np.ndarray,
                variant_hashes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(times, codes) of a registered clip's indexed frames: codes[i] is frame i's hash,
    then its crop windows' hashes in CROP_VARIANTS order (none for clips without them)."""
    keep = np.asarray(informative, dtype=bool)
    codes = np.asarray(hashes, np.uint64)[keep][:, None]
    if variant_hashes is not None and np.shape(variant_hashes)[-1]:
        codes = np.concatenate([codes, np.asarray(variant_hashes, np.uint64)[keep]], axis=1)
    return np.asarray(timestamps, np.float64)[keep], codes


def nearest_codes(ref_times: np.ndarray, ref_codes: np.ndarray, times: np.ndarray,
                  hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For query hashes shown at reference ``times``: which code of the reference frame
    nearest in time is closest -- column 0 the frame's own hash (it wins ties), 1 + j crop
    window j -- and its distance."""
    times = np.asarray(times, np.float64)
    frame = np.zeros(len(times), np.int64)
    if len(ref_times) > 1:
        at = np.clip(np.searchsorted(ref_times, times), 1, len(ref_times) - 1)
        frame = at - (times - ref_times[at - 1] < ref_times[at] - times)
    distances = popcount64(ref_codes[frame] ^ np.asarray(hashes, np.uint64)[:, None])
    column = distances.argmin(axis=1)
    return column, distances[np.arange(len(column)), column]


def span_votes(match: ClipMatch, query: VideoFingerprint, ref_times: np.ndarray,
               ref_codes: np.ndarray, radius: int = DEFAULT_RADIUS) -> np.ndarray:
    """How a span's query frames matched: per column of ``ref_codes`` (as in
    ``nearest_codes``), the frames whose closest code on the span's line is that column's,
    within ``radius``."""
    on = query.informative & (query.timestamps >= match.query_start_s) & (
        query.timestamps <= match.query_end_s)
    hashes = (query.mirror_hashes if match.mirrored else query.hashes)[on]
    column, distance = nearest_codes(ref_times, ref_codes,
                                     match.speed * query.timestamps[on] + match.offset_s, hashes)
    return np.bincount(column[distance <= radius], minlength=ref_codes.shape[1])


def window(column: int) -> CropVariant | None:
    """The crop window of a ``nearest_codes`` column (None for the whole frame)."""
    return CROP_VARIANTS[column - 1] if column else None
