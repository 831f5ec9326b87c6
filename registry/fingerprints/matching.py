"""Near-copy matcher: pHash range search, ORB visual words, geometric verification.

Two channels, both Hamming-distance only:

* pHashes -- each registered image contributes its plain and its border-trimmed
  pHash to a multi-index-hashing range index; a query probes it with four variants
  (plain, mirrored, trimmed, trimmed+mirrored);
* ORB codes -- an inverted file of visual words (words.py) shortlists the images
  sharing the most rare words with the query; the query's codes are matched against
  the shortlisted images' codes (read from the fingerprint store, not kept in RAM).
  The codes vote for images, and the best-voted images are verified geometrically:
  matches must agree on one keypoint rotation, then a similarity transform
  (rotation + scale + shift) is fitted with RANSAC and must agree with that
  rotation. The evidence is the number of distinct 8x8-pixel cells of the reference
  covered by the RANSAC inliers: chance matches that line up tend to pile onto a
  few spots, a crop or a rotated copy spreads over the picture. The fitted transform
  and the share of the query the inliers span come with it (``Fit``), as evidence of
  where the copy sits in the work.

A candidate's score is a logistic regression over the two pieces of evidence, each
counted only beyond what unrelated images reach by chance: pHash bits closer than
PHASH_CHANCE_DISTANCE, inlier cells above ORB_CHANCE_CELLS. It is fitted on the
calibration split with both classes weighted equally (roughly "probability this
pair is a copy" at even odds); the verdict thresholds apply to that score. A fit of
AGREEMENT_MIN_CELLS or more is also checked photometrically (agreement.py: the registered
picture's thumbnail placed in the query by the fit, against the query), and its agreement
beyond AGREEMENT_CHANCE is a third term: a weak fit whose pictures agree is a copy. A
weak fit whose pictures disagree (below AGREEMENT_VETO) counts no inlier cells at all:
chance fits (a clock's circle on a retina's) line up keypoints, not pictures. When no look
finds a copy, a matcher built with ``windows=True`` (registered pictures, not keyframes)
searches the query as a crop window of the best-voted candidates' thumbnails
(windows.py), and the window's correlation beyond WINDOW_CHANCE is a fourth term.

Among near-identical candidates (frames of one shot) the score saturates at 1.0, so
candidates are ranked by the score as reported (SCORE_DECIMALS), then by the raw
evidence (``strength``): pHash bits closer than chance first -- the pHash tells
neighbouring frames apart, where every one of them has plenty of ORB inliers --
then ORB inlier cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import faiss
import numpy as np
from PIL import Image

from registry.fingerprints.agreement import agreement, band_pass, decode_thumbnail
from registry.fingerprints.frames import work_size
from registry.fingerprints.image import (
    WORK_SIDE,
    ImageFingerprint,
    OrbView,
    QueryDescriptors,
    query_descriptors,
)
from registry.fingerprints.windows import QueryWindows, Window

# ---- calibrated by `.venv/bin/python scripts/eval_fingerprints.py` ---------------
# Run of 2026-11-25 (fingerprint version 1, ORB 300 reference / 1000 query features):
# fitted on the calibration split only -- seed 1, 2 draws per family of the 18
# registered works, and the calibration pool of 10 never-registered works (230
# queries). Held-out evaluation split (seed 2, a disjoint pool of 11 never-registered
# works, 253 queries): every family >= 98% recall, FPR 0/253.
SCORE_WEIGHTS = (-8.955, 0.895, 1.936)  # logit = bias + per pHash bit + per ORB cell (margins)
COPY_MIN_SCORE = 0.5  # even odds; calibration FPR there is 0% (target <= 0.5%)
SIMILAR_MIN_SCORE = 0.1  # floor; calibration FPR there is 0% (target <= 5%)
PHASH_LOOKUP_MAX_DISTANCE = 17  # hash-only lookup: plain pHash at calibration FPR <= 0.5%

# ---- matching parameters (design choices, see the eval's ablation) ------------
ORB_MAX_HAMMING = 64  # of 256 bits: beyond this an ORB pair is noise
ORB_KNN = 4  # neighbours per query code; a true match is rarely beyond the 4th
ORB_MIN_VOTES = 6  # fewer raw matches than this cannot be verified meaningfully
ORB_VERIFY_TOP = 8  # images verified with RANSAC per mirror variant
RANSAC_PIXELS = 8.0  # reprojection tolerance in the 512-px reference frame
ORB_ANGLE_TOLERANCE = 24  # 1/256 turns (~34 deg) around the dominant keypoint rotation
ORB_ROTATION_TOLERANCE = 25.0  # degrees between RANSAC rotation and keypoint rotation
INLIER_CELL_PIXELS = 8  # inliers are counted once per 8x8 cell of the reference frame
# Chance levels, read off the never-registered calibration queries (the eval prints
# them): their closest pHash over all variant pairs was 18 bits, their best
# verification covered 7 cells. Evidence counts only beyond these levels.
PHASH_CHANCE_DISTANCE = 20
ORB_CHANCE_CELLS = 5
PHASH_CANDIDATE_DISTANCE = 24  # the eval's candidate radius, so its ablation can rescore them
# The aligned-picture check (agreement.py) of fits with at least AGREEMENT_MIN_CELLS cells
# (one above chance): the never-registered calibration queries' such fits agreed at 0.43
# at most, copies' fits of 10-14 cells at 0.68 or more (5th percentile). AGREEMENT_WEIGHT
# puts the copy line at an agreement of 0.6 for the weakest fit counted (6 cells), 0.47
# for 9 cells, which chance fits of those sizes never reached (0.17 or less).
AGREEMENT_MIN_CELLS = ORB_CHANCE_CELLS + 1
AGREEMENT_CHANCE = 0.45
AGREEMENT_WEIGHT = 47.0
# ... and a fit of fewer than AGREEMENT_VETO_CELLS cells whose pictures disagree (agreement
# below AGREEMENT_VETO) counts no cells at all: on the calibration data of 2026-12-07
# (calibration split and calibration-pool draws 12-15, 1,550 never-registered pictures) the
# copies' own fits agreed at 0.30 or more where the false copies' 10- and 11-cell fits
# (a clock taken for a retina photograph) agreed at 0.02-0.08, and no chance fit there
# reached 12 cells (13 in the denser-keypoint trials: fits of 16 cells stand whatever).
AGREEMENT_VETO = 0.2
AGREEMENT_VETO_CELLS = 16
# The crop-window look (windows.py), when no other look finds a copy: the best window of the
# WINDOW_CANDIDATES best-voted candidates' thumbnails, its correlation counted beyond
# WINDOW_CHANCE. On the calibration data of 2026-12-08 (calibration split and draws 12-15),
# when these were set, never-registered pictures' best windows reached 0.65 at most (bars
# trimmed), the copies the look found 0.85-0.95; WINDOW_WEIGHT puts the copy line at 0.8.
# (With the final trimming, windows.BAR_TOLERANCE: 0.66, and 0.78 for a text page in bars
# on a gradient canvas, blurred; copies 0.93-0.98.)
WINDOW_CANDIDATES = 16
WINDOW_CHANCE = 0.7
WINDOW_WEIGHT = 90.0
# A work whose best half-resolution window stays this far below WINDOW_CHANCE is not
# refined (its window could not count). On the same calibration data (24,876 query-work
# pairs searched, 2026-12-08, tenth session) refining raised a window by 0.234 at most,
# and every window reaching WINDOW_CHANCE had 0.694 or more at half resolution; 99% of
# the pairs stay below 0.4, and skipping their refinement takes the look from 25 to 18 ms
# (a profile: 16 works, 30 crops of sample pictures).
WINDOW_REFINE_REACH = 0.3

# Which query variant is compared with which stored pHash, per evidence channel;
# the eval's ablation switches channels on and off.
PHASH_PAIRS = {
    "phash": [("plain", "plain")],
    "phash_mirror": [("mirror", "plain")],
    "phash_trim": [("trim", "trimmed"), ("trim", "plain"), ("plain", "trimmed")],
    "phash_trim_mirror": [("trim_mirror", "trimmed"), ("trim_mirror", "plain"),
                          ("mirror", "trimmed")],
    # a picture-in-picture cut-out (image.InsetView), when the second look found one
    "phash_inset": [("inset", "plain"), ("inset", "trimmed")],
    "phash_inset_mirror": [("inset_mirror", "plain"), ("inset_mirror", "trimmed")],
}
ORB_VARIANTS = {"orb": "plain", "orb_mirror": "mirror"}
WINDOW_CHANNEL = "window"  # the crop-window look's best window
PHASH_CHANNELS = tuple(PHASH_PAIRS)
ALL_CHANNELS = PHASH_CHANNELS + tuple(ORB_VARIANTS) + (WINDOW_CHANNEL,)
MIRRORED_CHANNELS = ("phash_mirror", "phash_trim_mirror", "phash_inset_mirror", "orb_mirror")
SCORE_DECIMALS = 4  # scores are reported (and ranked) to this many decimals

_MAX_KEYPOINTS = 1 << 16  # ORB ids are work_id << 16 | keypoint number
_MAX_WORK_ID = 1 << 47  # so that ORB ids fit faiss' signed 64-bit ids


# --------------------------------------------------------------------------- index


class FaissBinaryIndex:
    """In-memory exact Hamming index (IndexBinaryFlat behind an id map, so codes can be
    removed): the exhaustive baseline over every registered code. The per-query index
    over shortlisted codes needs no removal and uses a bare IndexBinaryFlat."""

    def __init__(self, bits: int):
        self.bits = bits
        self._index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(bits))

    def __len__(self) -> int:
        return self._index.ntotal

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, self.bits // 8)
        self._index.add_with_ids(codes, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]  # SWIG takes ids

    def search(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, self.bits // 8)
        if len(self) == 0 or len(codes) == 0:
            return (np.full((len(codes), k), self.bits, np.int32), np.full((len(codes), k), -1, np.int64))
        return self._index.search(codes, min(k, len(self)))


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Fit:
    """A similarity transform verified by RANSAC, taking the query's frame onto the
    registered image's (for the mirror variant: the mirrored query's)."""

    cells: int  # reference 8x8 cells covered by the inliers: the evidence that is scored
    scale: float  # the query's long side in units of the reference's (1 = same framing)
    rotation_deg: float  # clockwise as displayed (image y points down)
    tx: float  # where the query's top-left corner lands, as a fraction of the reference width
    ty: float  # ... and of its height
    coverage: float  # share of the query frame inside the inliers' convex hull

    def model(self, query_frame: tuple[int, int], reference_frame: tuple[int, int]) -> np.ndarray:
        """The fitted 2x3 similarity between the two ORB frames of these sizes (query ->
        reference), as RANSAC returned it."""
        s = self.scale * max(reference_frame) / max(query_frame)
        turn = math.radians(self.rotation_deg)
        return np.array([[s * math.cos(turn), -s * math.sin(turn), self.tx * reference_frame[0]],
                         [s * math.sin(turn), s * math.cos(turn), self.ty * reference_frame[1]]])


@dataclass
class Evidence:
    """Raw evidence for one (query, registered image) pair, per channel: best pHash
    Hamming distance (64 = no evidence) or ORB inlier cells (0 = no evidence), and the
    geometric fit behind each ORB channel's cells."""

    phash: dict[str, int] = field(default_factory=dict)
    orb: dict[str, int] = field(default_factory=dict)
    fits: dict[str, Fit] = field(default_factory=dict)
    # aligned-picture agreement (agreement.py) of each ORB channel's fit, where it was
    # measured: fits of at least AGREEMENT_MIN_CELLS cells on a fingerprint with a thumbnail
    agreements: dict[str, float] = field(default_factory=dict)
    window: Window | None = None  # the crop-window look's, when it ran for this pair

    def agreement(self, channels=ALL_CHANNELS) -> float | None:
        return max([a for c, a in self.agreements.items() if c in channels], default=None)

    def phash_distance(self, channels=ALL_CHANNELS) -> int:
        return min([d for c, d in self.phash.items() if c in channels], default=64)

    def orb_cells(self, channels=ALL_CHANNELS) -> int:
        return max([n for c, n in self.orb.items() if c in channels], default=0)

    def counted_cells(self, channels=ALL_CHANNELS) -> int:
        """``orb_cells`` without the fits the aligned-picture check contradicts (see
        AGREEMENT_VETO): what the score counts."""
        return max([n for c, n in self.orb.items() if c in channels
                    and (n >= AGREEMENT_VETO_CELLS or self.agreements.get(c, 1.0) >= AGREEMENT_VETO)],
                   default=0)

    def best_fit(self) -> tuple[str, Fit] | None:
        """The ORB channel with the most inlier cells (the plain one on a tie) and its fit."""
        return max(self.fits.items(), key=lambda item: item[1].cells, default=None)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def margins(evidence: Evidence, channels=ALL_CHANNELS) -> tuple[int, int]:
    """Evidence beyond chance: (pHash bits under the chance distance, ORB cells above
    the chance count)."""
    return (max(0, PHASH_CHANCE_DISTANCE - evidence.phash_distance(channels)),
            max(0, evidence.counted_cells(channels) - ORB_CHANCE_CELLS))


def agreement_margin(evidence: Evidence, channels=ALL_CHANNELS) -> float:
    """Aligned-picture agreement beyond what chance fits reach (0 when not measured)."""
    measured = evidence.agreement(channels)
    return 0.0 if measured is None else max(0.0, measured - AGREEMENT_CHANCE)


def window_margin(evidence: Evidence, channels=ALL_CHANNELS) -> float:
    """The best crop window's correlation beyond what unrelated pictures reach (0 when
    not searched)."""
    if evidence.window is None or WINDOW_CHANNEL not in channels:
        return 0.0
    return max(0.0, evidence.window.correlation - WINDOW_CHANCE)


def score(evidence: Evidence, channels=ALL_CHANNELS, weights=None) -> float:
    """Calibrated similarity in [0, 1] from the evidence of the enabled channels."""
    bias, per_bit, per_cell = weights or SCORE_WEIGHTS
    phash_margin, orb_margin = margins(evidence, channels)
    return _sigmoid(bias + per_bit * phash_margin + per_cell * orb_margin
                    + AGREEMENT_WEIGHT * agreement_margin(evidence, channels)
                    + WINDOW_WEIGHT * window_margin(evidence, channels))


def verdict(value: float, copy_min=None, similar_min=None) -> str:
    if value >= (COPY_MIN_SCORE if copy_min is None else copy_min):
        return "copy"
    if value >= (SIMILAR_MIN_SCORE if similar_min is None else similar_min):
        return "similar"
    return "clear"


def strength(evidence: Evidence) -> tuple[float, ...]:
    """What ranks candidates whose reported scores are equal, larger first: pHash bits
    closer than chance, then the ORB inlier cells the score counts, then the crop window's
    correlation."""
    window = evidence.window.correlation if evidence.window is not None else -1.0
    return margins(evidence)[0], evidence.counted_cells(), round(window, SCORE_DECIMALS)


@dataclass
class Candidate:
    work_id: int
    score: float
    verdict: str
    evidence: Evidence

    def rank(self) -> tuple:
        """Sort key, best first: reported score, then ``strength``, then registration order."""
        return (-round(self.score, SCORE_DECIMALS), *(-v for v in strength(self.evidence)),
                self.work_id)

    @property
    def channel(self) -> str:
        """What found the match: "global_hash" when the pHashes alone reach its verdict
        (the whole picture matches), else "local_features" (ORB and RANSAC) when they reach
        it without the crop window, else "crop_window"."""
        if verdict(score(self.evidence, PHASH_CHANNELS)) == self.verdict:
            return "global_hash"
        without_window = tuple(c for c in ALL_CHANNELS if c != WINDOW_CHANNEL)
        if verdict(score(self.evidence, without_window)) == self.verdict:
            return "local_features"
        return "crop_window"

    @property
    def mirrored(self) -> bool:
        """Whether the channel's best evidence came from the mirrored query (strictly:
        a symmetric picture matches both ways)."""
        ev = self.evidence
        if self.channel == "crop_window":
            return ev.window is not None and ev.window.mirrored
        if self.channel == "local_features":
            best = ev.best_fit()
            return best is not None and best[0] in MIRRORED_CHANNELS
        unmirrored = [c for c in PHASH_CHANNELS if c not in MIRRORED_CHANNELS]
        return ev.phash_distance(MIRRORED_CHANNELS) < ev.phash_distance(unmirrored)


# --------------------------------------------------------------------------- matcher

# Images per ORB variant that the inverted file hands to verification. It and the
# postings budget (words.POSTINGS_BUDGET) were chosen on the calibration split at 1 M
# images (scripts/bench_matcher.py --split calibration): the smallest values whose recall
# equals reading every posting; 16 cost 25% more time for no recall.
SHORTLIST = 8
# The merged look's shortlist (the last look, see Matcher.query). 32 found more reframes
# with edits (evaluation 51 -> 52/54 with every second look at 32) but lifted the p99 at
# 1 M images to 220 ms (263 with every second look at 32; target 200): README.
MERGED_SHORTLIST = 8
# pHash-only candidates within this many bits: beyond it the pHash alone cannot reach
# "similar" (the ORB channel brings its own candidates, whatever their pHash distance).
PHASH_CANDIDATE_RADIUS = next(d for d in range(64) if score(Evidence(phash={"phash": d + 1}))
                              < SIMILAR_MIN_SCORE)


def _hamming64(a: int, b: int) -> int:
    return (a ^ b).bit_count()


class FingerprintStore(Protocol):
    """Where the matcher reads registered descriptors for verification (the database in
    the app): it keeps none of them in RAM itself."""

    def get(self, work_ids: list[int]) -> dict[int, ImageFingerprint]: ...


class MemoryStore(dict):
    """Fingerprints held in a dict: for offline evaluation and small tools."""

    def get(self, work_ids):
        return {w: self[w] for w in work_ids if w in self}


class Matcher:
    """Registered images behind sub-linear indexes; answers near-copy queries.

    * pHashes (plain and border-trimmed, ids ``2 * work_id`` and ``2 * work_id + 1``)
      in a multi-index-hashing range index;
    * ORB codes as visual words in an inverted file (``words``): a query's words pick a
      shortlist of images, whose full descriptors come from ``store``; the query's codes
      are matched (k nearest) against the shortlist's codes only, and the best-voted
      images are verified geometrically, exactly as an exhaustive search would verify
      them. A query reads the postings of its rarest words only, up to a fixed budget,
      so its cost does not grow with the registry; the shortlist spares the scan.

    ``exhaustive=True`` keeps every ORB code in one flat faiss index instead (the
    baseline the benchmark and evaluation compare against: 38 KB per image, linear time).
    Searches may run in parallel with each other and with ``add``.
    """

    def __init__(self, store: FingerprintStore | None = None, *, exhaustive: bool = False,
                 phash_radius: int = PHASH_CANDIDATE_RADIUS, shortlist: int = SHORTLIST,
                 merged_shortlist: int | None = None, postings_budget: int | None = None,
                 windows: bool = False):
        from registry.fingerprints.index import SegmentedHashIndex
        from registry.fingerprints.words import POSTINGS_BUDGET, InvertedFile, vocabulary

        self.store = store if store is not None else MemoryStore()
        self.phash_index = SegmentedHashIndex()
        self.phash_radius = phash_radius
        self.shortlist = shortlist
        self.merged_shortlist = MERGED_SHORTLIST if merged_shortlist is None else merged_shortlist
        self.postings_budget = POSTINGS_BUDGET if postings_budget is None else postings_budget
        self.exhaustive = exhaustive
        self.windows = windows  # the crop-window look (registered pictures with thumbnails)
        self.orb_index = FaissBinaryIndex(256) if exhaustive else None
        self.vocabulary = vocabulary()
        self.words = InvertedFile(self.vocabulary.size)
        self._removed: set[int] = set()
        self._count = 0

    def __len__(self) -> int:
        return self._count - len(self._removed)

    def add(self, work_id: int, fingerprint: ImageFingerprint) -> None:
        self.add_many([(work_id, fingerprint)])

    def add_many(self, items: list[tuple[int, ImageFingerprint]]) -> None:
        """Register images in one batch (one segment per index)."""
        for work_id, fingerprint in items:
            if not 0 <= work_id < _MAX_WORK_ID:
                raise ValueError(f"work id must be in [0, 2**47), got {work_id}")
            if fingerprint.orb_count > _MAX_KEYPOINTS:
                raise ValueError("too many ORB keypoints in one fingerprint")
        if not items:
            return
        if isinstance(self.store, MemoryStore):
            self.store.update(items)
        if self.orb_index is not None:
            for work_id, fp in items:
                if fp.orb_count:
                    self.orb_index.add(_orb_ids(work_id, fp), fp.orb_codes())
        all_codes = [fp.orb_codes() for _, fp in items]
        counts = [len(c) for c in all_codes]
        words = (np.zeros(sum(counts), np.int64) if self.exhaustive  # no inverted file
                 else self.vocabulary.words(np.concatenate(all_codes)))
        self.add_prepared([w for w, _ in items], [(fp.phash, fp.phash_trimmed) for _, fp in items],
                          np.split(words, np.cumsum(counts)[:-1]))

    def add_prepared(self, work_ids: list[int], phashes: list[tuple[int, int]],
                     words: list[np.ndarray]) -> None:
        """Index images whose words are known already (their descriptors are in the store)."""
        ids = np.array([[2 * w, 2 * w + 1] for w in work_ids], np.int64).ravel()
        self.phash_index.add(ids, np.array(phashes, np.uint64).ravel())
        if not self.exhaustive:
            self.words.add(work_ids, words)
        self._count += len(work_ids)
        self._removed.difference_update(work_ids)

    def remove(self, work_id: int) -> None:
        """Stop matching ``work_id`` (its postings stay until the index is rebuilt)."""
        self._removed.add(work_id)
        self.phash_index.remove_id_range(2 * work_id, 2 * work_id + 2)
        if self.orb_index is not None:
            fp = self.store.get([work_id]).get(work_id)
            if fp is not None and fp.orb_count:
                self.orb_index.remove(_orb_ids(work_id, fp))

    def lookup_phash(self, phash: int, max_distance: int | None = None,
                     k: int = 10) -> list[tuple[int, int]]:
        """Hash-only lookup for clients that computed imagehash.phash locally:
        (work id, distance) within ``max_distance`` bits, nearest first. It has the
        plain-pHash baseline's recall (no crops, mirrors, bars): upload the image for
        the full check."""
        if max_distance is None:
            max_distance = PHASH_LOOKUP_MAX_DISTANCE
        _, ids, distances = self.phash_index.range_search_arrays(
            np.array([phash], np.uint64), max_distance)
        best: dict[int, int] = {}
        for i, d in zip(ids.tolist(), distances.tolist(), strict=True):
            if i // 2 not in self._removed:
                best[i // 2] = min(d, best.get(i // 2, 64))
        return sorted(best.items(), key=lambda item: (item[1], item[0]))[:k]

    def query(self, query: QueryDescriptors | Image.Image, k: int = 5) -> list[Candidate]:
        """Ranked candidates (best first, at most k) with score, verdict and evidence.
        The query's verdict is its first candidate's, or "clear" if there is none."""
        if isinstance(query, Image.Image):
            query = query_descriptors(query)
        hashes = dict(query.phash)
        phash_candidates = self._phash_candidates(hashes)
        words = _QueryWords(self.vocabulary)
        votes: dict[int, int] = {}
        orb_evidence = self._orb_evidence(query.views[0], self.shortlist, words, votes)
        agreements = _Agreements(query)
        candidates = self._candidates(hashes, phash_candidates, orb_evidence, agreements)
        if not _copy_found(candidates):
            # The second look: first the picture-in-picture cut-out when there is one (its
            # pHashes and its keypoints at the registered scale: one detection and a few
            # hashes, and a look only for pictures with an inset), then the retry sizes
            # (image.retry_sides), each view alone, until one finds a copy, then all
            # views' keypoints as one set, whose inliers at different scales add up (on the
            # calibration split 3 points of recall on reframes with rescaling and JPEG,
            # over the views alone).
            inset = query.inset
            looks: list[tuple[OrbView, int]] = []
            if inset is not None:
                hashes.update(inset.phash)
                phash_candidates |= self._phash_candidates(inset.phash)
                looks.append((inset.view, self.shortlist))
            if query.retries:
                looks += [(view, self.shortlist) for view in query.retries]
                looks.append((_merged(query.views, words), self.merged_shortlist))
            for view, shortlist in looks:
                for work_id, fits in self._orb_evidence(view, shortlist, words, votes).items():
                    mine = orb_evidence.setdefault(work_id, {})
                    for channel, fit in fits.items():
                        held = mine.get(channel)
                        if fit is not None and (held is None or fit.cells > held.cells):
                            mine[channel] = fit
                candidates = self._candidates(hashes, phash_candidates, orb_evidence, agreements)
                if _copy_found(candidates):
                    break
        if self.windows and not _copy_found(candidates):
            candidates = self._window_look(query, candidates, agreements, votes)
        return candidates[:k]

    def _window_look(self, query: QueryDescriptors, candidates: list[Candidate],
                     agreements: _Agreements, votes: dict[int, int]) -> list[Candidate]:
        """The last look (windows.py): the query searched for as a crop window of the
        thumbnails of the WINDOW_CANDIDATES candidates whose keypoints drew the most ORB
        matches in any look (then the nearest pHashes): a copy too degraded for a fit
        still draws some."""
        if query.gray is None or not candidates:  # a descriptor without its grey picture
            return candidates
        searched = QueryWindows(query.gray)
        # only what the product's indexes offer (the evaluation's matcher takes pHash
        # candidates from further away, for its ablation)
        offered = [c for c in candidates if votes.get(c.work_id, 0)
                   or c.evidence.phash_distance() <= PHASH_CANDIDATE_RADIUS]
        top = sorted(offered, key=lambda c: (-votes.get(c.work_id, 0),
                                             c.evidence.phash_distance(), c.work_id))
        top = top[:WINDOW_CANDIDATES]
        fingerprints = self.store.get([c.work_id for c in top])
        for c in top:
            fp = fingerprints.get(c.work_id)
            if fp is None or not fp.thumbnail:
                continue
            c.evidence.window = searched.search(agreements.thumbnail_band(c.work_id, fp),
                                                refine_from=WINDOW_CHANCE - WINDOW_REFINE_REACH)
            c.score = score(c.evidence)
            c.verdict = verdict(c.score)
        return sorted(candidates, key=Candidate.rank)

    def _candidates(self, hashes: dict[str, int], phash_candidates: set[int],
                    orb_evidence: dict[int, dict[str, Fit | None]],
                    agreements: _Agreements) -> list[Candidate]:
        fingerprints = self.store.get(sorted(phash_candidates | set(orb_evidence)))
        candidates = []
        for work_id, fp in fingerprints.items():
            fits = orb_evidence.get(work_id, {})
            evidence = Evidence(self._phash_evidence(hashes, fp),
                                {c: f.cells if f else 0 for c, f in fits.items()},
                                {c: f for c, f in fits.items() if f})
            evidence.agreements = agreements.of(work_id, fp, evidence.fits)
            value = score(evidence)
            candidates.append(Candidate(work_id, value, verdict(value), evidence))
        return sorted(candidates, key=Candidate.rank)

    # -- pHash -------------------------------------------------------------------

    def _phash_candidates(self, hashes: dict[str, int]) -> set[int]:
        codes = np.array(list(hashes.values()), np.uint64)
        _, ids, _ = self.phash_index.range_search_arrays(codes, self.phash_radius)
        return {i // 2 for i in ids.tolist()} - self._removed

    @staticmethod
    def _phash_evidence(hashes: dict[str, int], fp: ImageFingerprint) -> dict[str, int]:
        """Best distance per channel over the query's variants at hand (the inset's only
        once the second look cut one out: 64, no evidence, before)."""
        stored = {"plain": fp.phash, "trimmed": fp.phash_trimmed}
        return {channel: min((_hamming64(hashes[q], stored[r]) for q, r in pairs if q in hashes),
                             default=64)
                for channel, pairs in PHASH_PAIRS.items()}

    # -- ORB ---------------------------------------------------------------------

    def _orb_evidence(self, view: OrbView, shortlist: int, words: _QueryWords,
                      most_votes: dict[int, int]) -> dict[int, dict[str, Fit | None]]:
        """Each verified work's fit per ORB channel (None: no plausible fit); ``most_votes``
        keeps each work's most matches in any look and channel."""
        found: dict[int, dict[str, Fit | None]] = {}
        for channel, variant in ORB_VARIANTS.items():
            codes, points, angles = view.orb[variant]
            if len(codes) == 0:
                continue
            distances, ids, fingerprints = self._orb_neighbours(codes, shortlist, words)
            q_index = np.repeat(np.arange(len(codes)), ids.shape[1])
            distances, ids = distances.ravel(), ids.ravel()
            ok = (ids >= 0) & (distances <= ORB_MAX_HAMMING)
            q_index, ids, distances = q_index[ok], ids[ok], distances[ok]
            works = ids >> 16
            voted, votes = np.unique(works, return_counts=True)
            ranked = sorted(zip(voted.tolist(), votes.tolist(), strict=True), key=lambda wc: -wc[1])
            ranked = [(w, c) for w, c in ranked if w not in self._removed][:ORB_VERIFY_TOP]
            for work_id, count in ranked:
                most_votes[work_id] = max(most_votes.get(work_id, 0), count)
            if fingerprints is None:
                fingerprints = self.store.get([w for w, c in ranked if c >= ORB_MIN_VOTES])
            for work_id, count in ranked:
                if count < ORB_MIN_VOTES:
                    break
                fp = fingerprints.get(work_id)
                if fp is None:  # in a shared index but not in the store
                    continue
                mine = works == work_id
                found.setdefault(work_id, {})[channel] = verify_geometry(
                    points, angles, q_index[mine], ids[mine] & 0xFFFF, distances[mine],
                    fp.orb_xy(), fp.orb_angle(), view.size, work_size(fp.width, fp.height, WORK_SIDE))
        return found

    def _orb_neighbours(self, codes: np.ndarray, shortlist: int, words: _QueryWords):
        """The ORB_KNN nearest registered codes of each query code: (distances, ids as
        ``work_id << 16 | keypoint``, the fingerprints already fetched or None)."""
        if self.orb_index is not None:
            distances, ids = self.orb_index.search(codes, ORB_KNN)
            return distances, ids, None
        ranked = self.words.shortlist(words.of(codes), shortlist + len(self._removed),
                                      self.postings_budget)
        fingerprints = self.store.get([w for w, _ in ranked if w not in self._removed][:shortlist])
        owned = [(w, fp) for w, fp in fingerprints.items() if fp.orb_count]
        if not owned:
            return (np.full((len(codes), 1), 256, np.int32), np.full((len(codes), 1), -1, np.int64),
                    fingerprints)
        local = faiss.IndexBinaryFlat(256)  # rows map to ids below: no id map to maintain
        local.add(np.concatenate([fp.orb_codes() for _, fp in owned]))
        ids = np.concatenate([_orb_ids(w, fp) for w, fp in owned])
        distances, rows = local.search(np.ascontiguousarray(codes), min(ORB_KNN, local.ntotal))
        return distances, np.where(rows >= 0, ids[rows], -1), fingerprints


class _Agreements:
    """The aligned-picture agreements of one query's fits, each measured once (the looks
    re-score the same candidates)."""

    def __init__(self, query: QueryDescriptors):
        self.query = query
        self._measured: dict[tuple[int, str, Fit], float | None] = {}
        self._thumbnails: dict[int, np.ndarray] = {}
        self._thumbnail_bands: dict[int, np.ndarray] = {}
        self._bands: dict[bool, np.ndarray | None] = {}  # the query's, by mirroring

    def of(self, work_id: int, fp: ImageFingerprint, fits: dict[str, Fit]) -> dict[str, float]:
        found = {}
        for channel, fit in fits.items():
            if fit.cells < AGREEMENT_MIN_CELLS or not fp.thumbnail:
                continue
            key = (work_id, channel, fit)
            if key not in self._measured:
                self._measured[key] = self._measure(work_id, fp, channel, fit)
            measured = self._measured[key]
            if measured is not None:
                found[channel] = measured
        return found

    def _measure(self, work_id: int, fp: ImageFingerprint, channel: str, fit: Fit) -> float | None:
        band = self._query_band(mirrored=channel in MIRRORED_CHANNELS)
        if band is None:  # a descriptor without its grey picture
            return None
        frame = (band.shape[1], band.shape[0])
        reference = work_size(fp.width, fp.height, WORK_SIDE)
        return agreement(band, self._thumbnail(work_id, fp), fit.model(frame, reference), reference)

    def _thumbnail(self, work_id: int, fp: ImageFingerprint) -> np.ndarray:
        if work_id not in self._thumbnails:
            self._thumbnails[work_id] = decode_thumbnail(fp.thumbnail)
        return self._thumbnails[work_id]

    def thumbnail_band(self, work_id: int, fp: ImageFingerprint) -> np.ndarray:
        """The band-passed thumbnail of a registered picture (the crop-window look's)."""
        if work_id not in self._thumbnail_bands:
            self._thumbnail_bands[work_id] = band_pass(self._thumbnail(work_id, fp))
        return self._thumbnail_bands[work_id]

    def _query_band(self, mirrored: bool) -> np.ndarray | None:
        if mirrored not in self._bands:
            gray = self.query.gray
            if gray is not None and mirrored:
                gray = np.ascontiguousarray(gray[:, ::-1])
            self._bands[mirrored] = None if gray is None else band_pass(gray)
        return self._bands[mirrored]


class _QueryWords:
    """The visual word of each of a query's ORB codes, assigned once per query: the merged
    look's codes are the views' codes again (assigning them again cost 7% of the keyframe
    look-ups of the clip evaluation's first 12 reframe queries, 237 looks: 8.9 -> 8.3 s,
    the same candidates)."""

    def __init__(self, vocabulary) -> None:
        self._vocabulary = vocabulary
        # by the codes array's id (the array is held, so that the id stays its own): its
        # words, or the arrays it was concatenated from, whose words are its words
        self._known: dict[int, tuple[np.ndarray, np.ndarray | list[np.ndarray]]] = {}

    def of(self, codes: np.ndarray) -> np.ndarray:
        _, known = self._known.get(id(codes), (codes, None))
        if isinstance(known, np.ndarray):
            return known
        words = (self._vocabulary.words(codes) if known is None
                 else np.concatenate([self.of(part) for part in known]))
        self._known[id(codes)] = (codes, words)
        return words

    def joined(self, parts: list[np.ndarray], codes: np.ndarray) -> None:
        """``codes`` are ``parts`` concatenated (their words are found when first asked for:
        a second look that finds a copy ends the looks before the merged one)."""
        self._known[id(codes)] = (codes, parts)


def _copy_found(candidates: list[Candidate]) -> bool:
    return any(c.verdict == "copy" for c in candidates)


def _merged(views: tuple[OrbView, ...], words: _QueryWords) -> OrbView:
    """Every view's keypoints in the first view's frame, to be matched as one set."""
    size = views[0].size
    orb = {}
    for variant in views[0].orb:
        codes, points, angles = zip(*(view.orb[variant] for view in views), strict=True)
        to_first = [np.array([size[0] / v.size[0], size[1] / v.size[1]], np.float32) for v in views]
        orb[variant] = (np.concatenate(codes),
                        np.concatenate([p * f for p, f in zip(points, to_first, strict=True)]),
                        np.concatenate(angles))
        words.joined(list(codes), orb[variant][0])
    return OrbView(orb, size)


def _orb_ids(work_id: int, fingerprint: ImageFingerprint) -> np.ndarray:
    return (work_id << 16) + np.arange(fingerprint.orb_count, dtype=np.int64)


def verify_geometry(q_points, q_angles, q_index, r_index, distances, r_points, r_angles,
                    q_size: tuple[int, int], r_size: tuple[int, int]) -> Fit | None:
    """The similarity transform fitted with RANSAC to one-to-one matches and the
    reference cells its inliers cover (None when the fit is implausible). Points are
    in work frames of ``q_size`` and ``r_size`` pixels (width, height).

    A copy rotates every keypoint by the same angle, so matches whose orientation
    difference is far from the dominant one are dropped first: chance matches
    have uniformly random differences, and fewer of them survive to line up."""
    order = np.argsort(distances, kind="stable")  # best matches claim keypoints first
    q_index, r_index = q_index[order], r_index[order]
    _, first_q = np.unique(q_index, return_index=True)
    keep = np.zeros(len(q_index), bool)
    keep[first_q] = True
    q_index, r_index = q_index[keep], r_index[keep]
    # one query keypoint per reference keypoint, the best first, in match order (RANSAC's
    # sampling depends on the order)
    _, first_r = np.unique(r_index, return_index=True)
    if len(first_r) < ORB_MIN_VOTES:
        return None
    first_r.sort()
    q_sel, r_sel = q_index[first_r], r_index[first_r]
    turn = (q_angles[q_sel].astype(np.int16) - r_angles[r_sel]) % 256  # 1/256 turns
    histogram = np.bincount(turn // 16, minlength=16)  # 22.5-degree bins
    peak = (np.argmax(histogram) * 16 + 8)
    off = np.abs((turn - peak + 128) % 256 - 128)
    consistent = off <= ORB_ANGLE_TOLERANCE
    if consistent.sum() < ORB_MIN_VOTES:
        return None
    src, dst = q_points[q_sel[consistent]], r_points[r_sel[consistent]]
    model, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS,
        maxIters=2000, confidence=0.995)
    if model is None or mask is None:
        return None
    scale = math.hypot(model[0, 0], model[1, 0])
    if not 0.1 <= scale <= 10:  # a wild zoom is a degenerate fit, not a copy
        return None
    rotation = math.degrees(math.atan2(model[1, 0], model[0, 0]))  # query -> reference
    disagreement = (rotation + peak * 360 / 256 + 180) % 360 - 180
    if abs(disagreement) > ORB_ROTATION_TOLERANCE:
        return None  # points line up, but keypoints turned another way: chance
    inliers = mask.ravel().astype(bool)
    if not inliers.any():
        return None
    cells = (dst[inliers] // INLIER_CELL_PIXELS).astype(np.int64)
    hull = cv2.convexHull(np.ascontiguousarray(src[inliers], np.float32))
    # The work frames differ in size (QUERY_WORK_SIDE vs WORK_SIDE), so the scale is
    # quoted between the frames themselves: 0.5 when the query is a crop keeping half of
    # each side.
    return Fit(cells=len(np.unique(cells[:, 0] * 65536 + cells[:, 1])),  # < 65536 cells a row
               scale=scale * max(q_size) / max(r_size), rotation_deg=rotation,
               tx=float(model[0, 2]) / r_size[0], ty=float(model[1, 2]) / r_size[1],
               coverage=min(1.0, cv2.contourArea(hull) / (q_size[0] * q_size[1])))
