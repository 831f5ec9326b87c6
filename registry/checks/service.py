"""Near-copy checks: submitted media or hashes against the live indexes, answered with
the registered works they copy, and stored so that reports can cite them."""

from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select

from registry.access import holders_of, licence_of
from registry.assets.media import MediaInfo, probe
from registry.assets.models import Asset
from registry.assets.service import stage_upload
from registry.auth.actor import Actor
from registry.checks.models import Check
from registry.checks.schemas import Channel, CheckItem, FingerprintQuery, Match, Span, Transform, Verdict
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.errors import NotFound
from registry.core.ids import new_id
from registry.fingerprints.alignment import (
    DEFAULT_RADIUS,
    ClipMatch,
    frame_codes,
    match_video,
    nearest_codes,
    span_votes,
    window,
)
from registry.fingerprints.clip_query import ClipDescriptors
from registry.fingerprints.descriptors import Descriptor
from registry.fingerprints.image import QueryDescriptors
from registry.fingerprints.index import split_frame_ids
from registry.fingerprints.live import LiveIndex
from registry.fingerprints.matching import SCORE_DECIMALS, Candidate, Evidence, Fit, score, strength, verdict
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.records import fingerprint_clip_file, load_clip_frames, query_image_file, reframe_part
from registry.fingerprints.reframe import ReferenceGrid, ReframedMatch, find_reframed, prefer_reframed, reframe_wanted
from registry.fingerprints.video import VideoFingerprint
from registry.licences.models import Licence
from registry.sources.models import Source
from registry.sources.service import holder_ids_of
from registry.unit_of_work import commit_change

ENTITY = "check"

# A clip span is a copy when it is long or dense enough that chance cannot explain it.
CLIP_COPY_MIN_FRAMES = 10
CLIP_COPY_MIN_AGREEMENT = 0.5


@dataclass
class Hit:
    """A match before it is resolved against the database."""

    no: int
    via: str
    score: float
    verdict: str
    distance: int | None = None
    reference_time_s: float | None = None
    spans: list[Span] = field(default_factory=list)
    strength: tuple[float, ...] = ()  # ranks hits of equal reported score, larger first
    channel: Channel = Channel.global_hash
    coverage: float = 1.0
    mirrored: bool = False
    inlier_cells: int | None = None
    transform: Transform | None = None
    picture_agreement: float | None = None

    def rank(self) -> tuple:
        return (-round(self.score, SCORE_DECIMALS), *(-v for v in self.strength), self.no)


def _candidate_hit(c: Candidate) -> Hit:
    best = c.evidence.best_fit()
    fit = best[1] if best else None
    hit = Hit(c.work_id, "image", c.score, c.verdict, c.evidence.phash_distance(),
              strength=strength(c.evidence), channel=Channel(c.channel), mirrored=c.mirrored,
              inlier_cells=fit.cells if fit else None)
    measured = c.evidence.agreement()
    if measured is not None:
        hit.picture_agreement = round(measured, 3)
    if hit.channel is Channel.local_features:
        _fitted(hit, fit)
    window = c.evidence.window
    if hit.channel is Channel.crop_window and window is not None:
        hit.coverage = round(window.coverage, 3)
        hit.transform = Transform(scale=round(window.scale, 3), rotation_deg=0.0,
                                  tx=round(window.tx, 3), ty=round(window.ty, 3))
        hit.picture_agreement = round(window.correlation, 3)
    return hit


def _fitted(hit: Hit, fit: Fit) -> None:
    hit.coverage = round(fit.coverage, 3)
    hit.transform = Transform(scale=round(fit.scale, 3), rotation_deg=round(fit.rotation_deg, 1),
                              tx=round(fit.tx, 3), ty=round(fit.ty, 3))


def _phash_hit(no: int, via: str, distance: int, reference_time_s: float | None = None) -> Hit:
    evidence = Evidence(phash={"phash": distance})
    value = score(evidence)
    return Hit(no, via, value, verdict(value), distance, reference_time_s,
               strength=strength(evidence))


def _reference_frames(session: Session, nos: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(times, codes) of registered clips' indexed frames (see ``frame_codes``)."""
    rows = session.exec(select(FingerprintSet).where(FingerprintSet.no.in_(nos),
                                                     FingerprintSet.kind == "video")).all()
    found = {}
    for row in rows:
        clip = load_clip_frames(row)
        found[row.no] = frame_codes(clip.timestamps, clip.hashes, clip.informative,
                                    clip.variant_hashes)
    return found


def _found_through(hit: Hit, column: int) -> None:
    """Record that ``hit`` matched through column ``column`` of its frame's codes."""
    crop = window(column)
    if crop is not None:
        hit.channel, hit.coverage = Channel.crop_window, round(
            (crop.right - crop.left) * (crop.bottom - crop.top), 3)
        hit.transform = Transform(scale=round(crop.right - crop.left, 3), rotation_deg=0.0,
                                  tx=crop.left, ty=crop.top)


def _frame_hits(session: Session, live: LiveIndex, hashes: list[int]) -> list[Hit]:
    """Registered clip frames within the match radius of any of ``hashes`` (``hashes[1]``,
    if given, is the mirrored query's), those that are not clear, each with what matched:
    the frame's own hash or one of its crop windows'."""
    if not hashes:
        return []
    lims, ids, dists = live.frames.range_search_arrays(np.array(hashes, dtype=np.uint64),
                                                       DEFAULT_RADIUS)
    best: dict[int, tuple[int, float]] = {}
    nos, times = split_frame_ids(ids)
    for no, t, d in zip(nos.tolist(), times.tolist(), dists.tolist(), strict=True):
        if no not in best or d < best[no][0]:
            best[no] = (d, t)
    hits = [_phash_hit(no, "frame", d, round(t, 3)) for no, (d, t) in best.items()]
    hits = [h for h in hits if h.verdict != "clear"]
    references = _reference_frames(session, [h.no for h in hits])
    queries = np.array(hashes, np.uint64)
    for hit in hits:
        if hit.no in references:  # (else retired since: _resolve drops it)
            column, distance = nearest_codes(*references[hit.no],
                                             np.full(len(queries), hit.reference_time_s), queries)
            best_query = int(np.argmin(distance))  # the plain hash on a tie
            hit.mirrored = best_query == 1
            _found_through(hit, int(column[best_query]))
    return hits


def _image_hits(session: Session, live: LiveIndex, query: QueryDescriptors) -> list[Hit]:
    candidates = live.images.query(query, k=5)
    hits = [_candidate_hit(c) for c in candidates if c.verdict != "clear"]
    return hits + _frame_hits(session, live, [query.phash["plain"], query.phash["mirror"]])


def _span(m: ClipMatch) -> Span:
    return Span(query_start_s=round(m.query_start_s, 3), query_end_s=round(m.query_end_s, 3),
                reference_start_s=round(m.ref_start_s, 3), reference_end_s=round(m.ref_end_s, 3),
                offset_s=round(m.offset_s, 3), speed=round(m.speed, 4),
                agreement=round(m.agreement, 3), matched_frames=m.matched_frames,
                mirrored=m.mirrored)


def _reference_grids(session: Session, nos: list[int]) -> dict[int, ReferenceGrid]:
    rows = session.exec(select(FingerprintSet).where(FingerprintSet.no.in_(nos),
                                                     FingerprintSet.kind == "video")).all()
    found = {}
    for row in rows:
        clip = load_clip_frames(row)
        if clip.grid is not None and clip.keyframes is not None:
            found[row.no] = ReferenceGrid(clip.timestamps, clip.grid,
                                          (clip.keyframes.width, clip.keyframes.height),
                                          clip.keyframes.times)
    return found


def _reframed_hits(found: list[ReframedMatch]) -> list[Hit]:
    hits = []
    for r in found:
        m = r.match
        copied = m.matched_frames >= CLIP_COPY_MIN_FRAMES or m.agreement >= CLIP_COPY_MIN_AGREEMENT
        hit = Hit(int(m.ref_asset_id), "clip", round(m.agreement, 3),
                  "copy" if copied else "similar", spans=[_span(m)], strength=(m.score,),
                  channel=Channel.local_features, mirrored=m.mirrored, inlier_cells=r.fit.cells)
        _fitted(hit, r.fit)
        hits.append(hit)
    return hits


def _clip_hits(session: Session, live: LiveIndex, clip: ClipDescriptors) -> list[Hit]:
    """Searched for reframed copies when the frame hashes find no long span (reframe.py)
    and the clip has a reframe part (an upload always does; a descriptor when sent)."""
    fp = clip.fingerprint
    matches = match_video(fp, live.frames)
    reframed: list[ReframedMatch] = []
    if reframe_wanted(matches, fp.timestamps) and (query := reframe_part(clip)) is not None:
        found = find_reframed(query, live.keyframes, lambda nos: _reference_grids(session, nos),
                              complete=lambda: reframe_part(clip, complete=True))
        matches, reframed = prefer_reframed(matches, found)
    by_asset: dict[int, list[ClipMatch]] = defaultdict(list)
    for m in matches:
        by_asset[int(m.ref_asset_id)].append(m)
    references = _reference_frames(session, list(by_asset))
    hits = []
    for no, spans in by_asset.items():
        best = max(spans, key=lambda m: m.score)
        copied = best.matched_frames >= CLIP_COPY_MIN_FRAMES or best.agreement >= CLIP_COPY_MIN_AGREEMENT
        hit = Hit(no, "clip", round(best.agreement, 3), "copy" if copied else "similar",
                  round(best.mean_distance), spans=[_span(m) for m in spans],
                  strength=(best.score,), mirrored=best.mirrored)
        if no in references:
            votes = sum(span_votes(m, fp, *references[no]) for m in spans)
            if votes[1:].sum() > votes[0]:  # most agreeing frames matched through a window
                _found_through(hit, 1 + int(np.argmax(votes[1:])))
        hits.append(hit)
    return hits + _reframed_hits(reframed)


def _resolve(session: Session, live: LiveIndex, hits: list[Hit]) -> list[Match]:
    """Attach asset, source, holders and licence; drop retired assets (they never match)."""
    asset_of = live.asset_ids(session, {h.no for h in hits})
    assets = {a.id: a for a in session.exec(select(Asset).where(
        Asset.id.in_(set(asset_of.values())), Asset.retired_at.is_(None))).all()}
    sources = {s.id: s for s in session.exec(select(Source).where(
        Source.id.in_({a.source_id for a in assets.values()}))).all()}
    holders = holder_ids_of(session, list(sources))
    licence_ids = {licence_of(a.licence_id, sources[a.source_id].licence_id) for a in assets.values()}
    licences = {lic.id: lic for lic in session.exec(select(Licence).where(Licence.id.in_(licence_ids))).all()}
    matches: dict[str, Match] = {}
    for hit in sorted(hits, key=Hit.rank):
        asset = assets.get(asset_of.get(hit.no, ""))
        if asset is None or asset.id in matches:
            continue
        src = sources[asset.source_id]
        licence = licences[licence_of(asset.licence_id, src.licence_id)]
        matches[asset.id] = Match(
            asset_id=asset.id, source_id=src.id, source_name=f"{src.name} {src.version}",
            holder_ids=holders_of(asset.holder_id, holders.get(src.id, [])),
            licence_id=licence.id, licence=licence.identifier, via=hit.via,
            distance=hit.distance, reference_time_s=hit.reference_time_s,
            score=round(hit.score, SCORE_DECIMALS), verdict=Verdict(hit.verdict), spans=hit.spans,
            channel=hit.channel, coverage=hit.coverage, mirrored=hit.mirrored,
            inlier_cells=hit.inlier_cells, transform=hit.transform,
            picture_agreement=hit.picture_agreement)
    return list(matches.values())


def _item(name: str, sha256: str | None, media_type: str | None, matches: list[Match]) -> CheckItem:
    verdicts = {m.verdict for m in matches}
    worst = (Verdict.copy if Verdict.copy in verdicts else
             Verdict.similar if Verdict.similar in verdicts else Verdict.clear)
    return CheckItem(name=name, sha256=sha256, media_type=media_type, verdict=worst, matches=matches)


def describe(path: Path, settings: Settings) -> tuple[MediaInfo, Descriptor]:
    """What a check matches of a file -- an image's query descriptors, a clip's frame
    hashes and reframe part (read from ``path`` when first needed) -- under the upload
    limits. ``registry fingerprint`` writes the same, so a descriptor sent instead of the
    file is matched identically."""
    info = probe(path, max_pixels=settings.max_image_pixels,
                 max_clip_seconds=settings.max_clip_seconds)
    if info.is_video:
        return info, clip_descriptors(path, settings.max_clip_seconds, settings.max_image_pixels)
    return info, query_image_file(path, settings.max_image_pixels)


def clip_descriptors(path: Path, max_seconds: float, max_pixels: int,
                     progress: Callable[[int, float], None] | None = None) -> ClipDescriptors:
    fp = fingerprint_clip_file(path, max_seconds, max_pixels, reference=False, progress=progress)
    return ClipDescriptors(fp, path=path, max_duration_s=max_seconds, max_pixels=max_pixels)


def check_descriptor(session: Session, live: LiveIndex, name: str, descriptor: Descriptor,
                     sha256: str | None = None, media_type: str | None = None) -> CheckItem:
    """The matching rule, whether the descriptor was computed here from an upload or sent."""
    hits = (_clip_hits(session, live, descriptor) if isinstance(descriptor, ClipDescriptors)
            else _image_hits(session, live, descriptor))
    return _item(name, sha256, media_type, _resolve(session, live, hits))


def check_upload(session: Session, live: LiveIndex, blobs: LocalBlobStore, settings: Settings,
                 name: str, stream: BinaryIO, *, keep: ExitStack | None = None,
                 on_staged: Callable[[Path, MediaInfo], None] | None = None) -> CheckItem:
    """``keep``: the file is kept in the blob store, held there by ``keep`` until the check
    citing it is recorded (``LocalBlobStore.hold``); None: match only, store nothing (a
    rights holder's lookup is not a check). ``on_staged``: shown the staged file once it is
    known to be media (e.g. for a thumbnail)."""
    with blobs.staging_file() as staged:
        sha256, _ = stage_upload(stream, staged, settings.max_upload_bytes)
        info, descriptor = describe(staged, settings)
        if on_staged is not None:
            on_staged(staged, info)
        item = check_descriptor(session, live, name, descriptor, sha256, info.media_type)
        # Kept by digest (the check records it) so that evidence reports can show the
        # generated frames next to the registered ones; identical uploads share one blob.
        if keep is not None:
            keep.enter_context(blobs.hold(sha256))
            blobs.put(staged, sha256)
    return item


def check_fingerprints(session: Session, live: LiveIndex, query: FingerprintQuery) -> list[CheckItem]:
    if query.descriptors is not None:
        # No digest: the file never reached the registry, and a report must not cite
        # a blob by a digest the client merely claims.
        return [check_descriptor(session, live, d.name or f"descriptor {i}", d.decoded())
                for i, d in enumerate(query.descriptors, start=1)]
    hashes = [int(h, 16) for h in query.phashes]
    if query.timestamps is not None and len(hashes) > 1:
        order = np.argsort(query.timestamps, kind="stable")
        times = np.asarray(query.timestamps, dtype=np.float64)[order]
        codes = np.asarray(hashes, dtype=np.uint64)[order]
        fp = VideoFingerprint(times, codes, codes, np.ones(len(codes), bool), float(times[-1]),
                              0, 0, "client", None, len(codes), 0.0)
        return [_item("clip fingerprints", None, None,
                      _resolve(session, live, _clip_hits(session, live, ClipDescriptors(fp))))]
    items = []
    for text, code in zip(query.phashes, hashes, strict=True):
        image_hits = [_phash_hit(no, "image", d) for no, d in live.images.lookup_phash(code)]
        hits = [h for h in image_hits if h.verdict != "clear"] + _frame_hits(session, live, [code])
        items.append(_item(text.lower(), None, None, _resolve(session, live, hits)))
    return items


def record_check(session: Session, actor: Actor, kind: str, items: list[CheckItem]) -> Check:
    verdicts = {i.verdict for i in items}
    overall = (Verdict.copy if Verdict.copy in verdicts else
               Verdict.similar if Verdict.similar in verdicts else Verdict.clear)
    check = Check(id=new_id("chk"), kind=kind, requested_by=actor.key_id, verdict=overall.value,
                  items=[i.model_dump(mode="json") for i in items])
    session.add(check)
    commit_change(session, actor, "check.recorded", ENTITY, check)
    return check


def requester_scope(actor: Actor, requested_by: Any) -> Any:
    """What a reader may see of checks and check jobs: a curator only what its own key
    requested, the other reading roles everything."""
    return requested_by == actor.key_id if actor.role.value == "curator" else sa.true()


def get_check(session: Session, actor: Actor, check_id: str) -> Check:
    check = session.exec(select(Check).where(
        Check.id == check_id, requester_scope(actor, Check.requested_by))).first()
    if check is None:
        raise NotFound(f"check {check_id} does not exist")
    return check
