"""Training opt-outs (TDM reservations) and the flags they raise, with licence expiries.

An opt-out names a work by SHA-256 (that exact file) and/or by ``imagehash.phash`` (the work
and its near copies). A registered asset is the opted-out work when its digest is equal, or
when a pHash of it is within ``PHASH_RADIUS`` bits: its stored pHash (an image's, or a clip's
first informative frame's, in the database) or, when the live index is at hand, any frame of
a registered clip (the same radius the frame index uses for clip matching).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
from sqlmodel import Session, func, select

from registry.access import holder_assets, holder_sources, holds, readable_held, scoped
from registry.assets.models import Asset
from registry.auth.actor import Actor
from registry.core.crud import filter_retired, retry_on_concurrent_change
from registry.core.ids import new_id
from registry.core.pagination import paginate
from registry.evaluation.schemas import Reason
from registry.fingerprints.alignment import DEFAULT_RADIUS
from registry.fingerprints.index import popcount64, split_frame_ids
from registry.fingerprints.live import LiveIndex
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.records import to_signed
from registry.holders.service import filing_holder, get_held_record
from registry.licences.models import Licence
from registry.lineage.service import models_trained_on
from registry.manifests.models import Manifest
from registry.optouts.models import OptOut
from registry.optouts.schemas import FlagKind, FlagsRead, ModelFlag, OptOutCreate, SourceFlag
from registry.sources.models import Source
from registry.unit_of_work import commit_change, retire

ENTITY = "opt_out"
PHASH_RADIUS = DEFAULT_RADIUS  # 8 of 64 bits: the frame index's match radius
_ROWS, _CELLS = 20_000, 4_000_000  # rows per batch; bound on (opt-outs x rows)

# JSON (RFC 8785) holds integers up to 2**53 only: the log records the pHash as hex.

# -- records ------------------------------------------------------------------------------
def create_opt_out(session: Session, actor: Actor, data: OptOutCreate) -> OptOut:
    holder_id = filing_holder(session, actor, data.holder_id, "opt-outs")
    opt_out = OptOut(id=new_id("opt"), holder_id=holder_id, sha256=data.sha256,
                     phash=None if data.phash is None else to_signed(int(data.phash, 16)),
                     effective_from=data.effective_from, note=data.note)
    session.add(opt_out)
    commit_change(session, actor, "opt_out.created", ENTITY, opt_out)
    return opt_out


def get_opt_out(session: Session, actor: Actor, opt_out_id: str) -> OptOut:
    return get_held_record(session, actor, OptOut, opt_out_id, "opt-out")


def list_opt_outs(session: Session, actor: Actor, *, holder_id: str | None,
                  retired: bool | None, cursor: str | None,
                  limit: int) -> tuple[list[OptOut], str | None]:
    stmt = readable_held(select(OptOut), actor, OptOut.holder_id)
    if holder_id:
        stmt = stmt.where(OptOut.holder_id == holder_id)
    return paginate(session, filter_retired(stmt, OptOut, retired), OptOut.id, cursor, limit)


@retry_on_concurrent_change
def withdraw_opt_out(session: Session, actor: Actor, opt_out_id: str, reason: str) -> OptOut:
    opt_out = get_opt_out(session, actor, opt_out_id)
    retire(session, actor, opt_out, ENTITY, reason)
    return opt_out


# -- which registered assets are opted-out works ------------------------------------------
@dataclass
class OptedOutWork:
    opt_out: OptOut
    asset: Asset
    via: str  # sha256 | phash | frame
    distance: int | None = None
    reference_time_s: float | None = None


def _live_assets(session: Session, ids: Iterable[str], source_ids: list[str] | None) -> dict[str, Asset]:
    ids = sorted(set(ids))
    found: dict[str, Asset] = {}
    for start in range(0, len(ids), 500):
        stmt = select(Asset).where(Asset.id.in_(ids[start:start + 500]), Asset.retired_at.is_(None))
        if source_ids is not None:
            stmt = stmt.where(Asset.source_id.in_(source_ids))
        found |= {a.id: a for a in session.exec(stmt).all()}
    return found


def _stored_phash_hits(session: Session, codes: np.ndarray,
                       source_ids: list[str] | None) -> list[tuple[int, str, int]]:
    """(query index, asset id, distance) for live assets whose stored pHash is close."""
    stmt = (select(FingerprintSet.asset_id, FingerprintSet.phash)
            .join(Asset, Asset.id == FingerprintSet.asset_id)
            .where(Asset.retired_at.is_(None), FingerprintSet.phash.is_not(None)))
    if source_ids is not None:
        stmt = stmt.where(Asset.source_id.in_(source_ids))
    hits = []
    chunk = max(256, min(_ROWS, _CELLS // len(codes)))
    rows = session.exec(stmt.execution_options(yield_per=chunk))
    while batch := rows.fetchmany(chunk):
        asset_ids = [a for a, _ in batch]
        stored = np.array([p for _, p in batch], dtype=np.int64).view(np.uint64)
        distances = popcount64(stored[None, :] ^ codes[:, None])
        for qi, col in zip(*np.nonzero(distances <= PHASH_RADIUS), strict=True):
            hits.append((int(qi), asset_ids[col], int(distances[qi, col])))
    return hits


def _indexed_phash_hits(session: Session, live: LiveIndex, codes: np.ndarray) -> list[tuple[int, str, int]]:
    """The same as ``_stored_phash_hits``, from the live image index: a range search, not a
    scan of every stored pHash (which grows with the registry). Callers keep the hits on
    live assets of the sources they ask about."""
    lims, ids, distances = live.images.phash_index.range_search_arrays(codes, PHASH_RADIUS)
    owner = np.searchsorted(lims, np.arange(len(ids)), side="right") - 1  # query index
    plain = ids % 2 == 0  # an image's stored pHash; 2 * no + 1 is its border-trimmed one
    nos = ids[plain] // 2
    asset_of = live.asset_ids(session, set(nos.tolist()))
    return [(qi, asset_of[no], d) for qi, no, d in
            zip(owner[plain].tolist(), nos.tolist(), distances[plain].tolist(), strict=True)
            if no in asset_of]


def opted_out_works(session: Session, opt_outs: list[OptOut], *,
                    source_ids: list[str] | None = None,
                    live: LiveIndex | None = None) -> list[OptedOutWork]:
    """Live assets (in ``source_ids`` if given) that are the works ``opt_outs`` name; one
    entry per (opt-out, asset), the strongest evidence kept (same file, then nearest)."""
    found: dict[tuple[str, str], OptedOutWork] = {}
    by_sha: dict[str, list[OptOut]] = defaultdict(list)
    for o in opt_outs:
        if o.sha256:
            by_sha[o.sha256].append(o)
    if by_sha:
        stmt = select(Asset).where(Asset.sha256.in_(list(by_sha)), Asset.retired_at.is_(None))
        if source_ids is not None:
            stmt = stmt.where(Asset.source_id.in_(source_ids))
        for asset in session.exec(stmt).all():
            for o in by_sha[asset.sha256]:
                found[(o.id, asset.id)] = OptedOutWork(o, asset, "sha256", 0)
    hashed = [o for o in opt_outs if o.phash is not None]
    if not hashed:
        return list(found.values())
    codes = np.array([o.phash for o in hashed], dtype=np.int64).view(np.uint64)
    stored = (_stored_phash_hits(session, codes, source_ids) if live is None
              else _indexed_phash_hits(session, live, codes))
    hits: list[tuple[int, str, int, str, float | None]] = [
        (qi, asset_id, d, "phash", None) for qi, asset_id, d in stored]
    if live is not None:
        lims, ids, dists = live.frames.range_search_arrays(codes, PHASH_RADIUS)
        nos, times = split_frame_ids(ids)
        owner = np.searchsorted(lims, np.arange(len(ids)), side="right") - 1  # query index
        asset_of = live.asset_ids(session, set(nos.tolist()))
        for qi, no, t, d in zip(owner.tolist(), nos.tolist(), times.tolist(), dists.tolist(),
                                strict=True):
            if no in asset_of:
                hits.append((qi, asset_of[no], d, "frame", round(t, 3)))
    assets = _live_assets(session, {h[1] for h in hits}, source_ids)
    for qi, asset_id, distance, via, t in sorted(hits, key=lambda h: h[2]):
        key = (hashed[qi].id, asset_id)
        if asset_id in assets and key not in found:
            found[key] = OptedOutWork(hashed[qi], assets[asset_id], via, distance, t)
    return list(found.values())


def live_opt_outs(session: Session, *, effective_on: date | None = None,
                  holder_id: str | None = None) -> list[OptOut]:
    stmt = select(OptOut).where(OptOut.retired_at.is_(None))
    if effective_on is not None:
        end_of_day = datetime.combine(effective_on, time.max, tzinfo=UTC)
        stmt = stmt.where(OptOut.effective_from <= end_of_day)
    if holder_id is not None:
        stmt = stmt.where(OptOut.holder_id == holder_id)
    return list(session.exec(stmt.order_by(OptOut.id)).all())


def opt_out_reasons(session: Session, source_ids: list[str], on: date,
                    live: LiveIndex | None = None,
                    reader: Actor | None = None) -> dict[str, list[Reason]]:
    """Licence-evaluation denials per source: its works opted out on or before ``on``
    (the opt-outs read and the works matched once for all the sources). Another holder's
    opt-out is not named to a ``reader`` that may not read it (``holds``)."""
    opt_outs = live_opt_outs(session, effective_on=on)
    if not opt_outs or not source_ids:
        return {}
    works = opted_out_works(session, opt_outs, source_ids=sorted(set(source_ids)), live=live)
    reasons: dict[str, list[Reason]] = defaultdict(list)
    for w in sorted(works, key=lambda w: (w.opt_out.id, w.asset.id)):
        if reader is not None and not holds(reader, w.opt_out.holder_id):
            reasons[w.asset.source_id].append(Reason(
                code="opted_out", asset_id=w.asset.id,
                message=f"asset {w.asset.id} is a work that another rights holder reserved "
                        f"against AI training from {w.opt_out.effective_from.date().isoformat()} "
                        f"(matched by {w.via})"))
            continue
        reasons[w.asset.source_id].append(Reason(
            code="opted_out", opt_out_id=w.opt_out.id, asset_id=w.asset.id,
            message=f"asset {w.asset.id} is a work that {w.opt_out.holder_id} reserved "
                    f"against AI training from {w.opt_out.effective_from.date().isoformat()} "
                    f"(opt-out {w.opt_out.id}, matched by {w.via})"))
    return dict(reasons)


# -- flags --------------------------------------------------------------------------------
def _name(source: Source) -> str:
    return f"{source.name} {source.version}"


def _owned(session: Session, holder_id: str, asset_ids: list[str]) -> set[str]:
    if not asset_ids:
        return set()
    return set(session.exec(select(Asset.id).where(Asset.id.in_(asset_ids),
                                                   holder_assets(holder_id))).all())


def _visible_works(session: Session, actor: Actor, live: LiveIndex | None) -> list[OptedOutWork]:
    holder = actor.holder_id if scoped(actor) else None
    works = opted_out_works(session, live_opt_outs(session, holder_id=holder), live=live)
    if holder is not None:  # only the holder's own works, as a lookup answers
        owned = _owned(session, holder, [w.asset.id for w in works])
        works = [w for w in works if w.asset.id in owned]
    return works


def _opt_out_flags(session: Session, works: list[OptedOutWork]) -> list[SourceFlag]:
    sources = {s.id: s for s in session.exec(select(Source).where(
        Source.id.in_({w.asset.source_id for w in works}))).all()}
    return [SourceFlag(kind=FlagKind.opt_out, source_id=w.asset.source_id,
                       source_name=_name(sources[w.asset.source_id]),
                       asset_id=w.asset.id, opt_out_id=w.opt_out.id, holder_id=w.opt_out.holder_id,
                       effective_from=w.opt_out.effective_from, via=w.via, distance=w.distance,
                       reference_time_s=w.reference_time_s)
            for w in works if sources[w.asset.source_id].retired_at is None]


def _expiry_flags(session: Session, actor: Actor, on: date) -> list[SourceFlag]:
    holder = actor.holder_id if scoped(actor) else None
    own = (select(Source, Licence).join(Licence, Licence.id == Source.licence_id)
           .where(Source.retired_at.is_(None), Licence.valid_until < on).order_by(Source.id))
    if holder is not None:
        own = own.where(holder_sources(holder))
    flags = []
    for src, lic in session.exec(own).all():
        flags.append(SourceFlag(kind=FlagKind.licence_expired, source_id=src.id,
                                source_name=_name(src), asset_id=None,
                                licence_id=lic.id, licence=lic.identifier,
                                valid_until=lic.valid_until))
    # Assets under their own licence: one flag per (source, licence), not one per asset.
    per_asset = (select(Asset.source_id, Asset.licence_id, func.count(), func.min(Asset.id))
                 .join(Licence, Licence.id == Asset.licence_id)
                 .join(Source, Source.id == Asset.source_id)
                 .where(Asset.retired_at.is_(None), Source.retired_at.is_(None),
                        Licence.valid_until < on)
                 .group_by(Asset.source_id, Asset.licence_id))
    if holder is not None:
        per_asset = per_asset.where(holder_assets(holder))
    grouped = sorted(session.exec(per_asset).all())
    licences = {lic.id: lic for lic in session.exec(select(Licence).where(
        Licence.id.in_({g[1] for g in grouped}))).all()}
    sources = {s.id: s for s in session.exec(select(Source).where(
        Source.id.in_({g[0] for g in grouped}))).all()}
    for source_id, lic_id, count, first in grouped:
        lic = licences[lic_id]
        flags.append(SourceFlag(kind=FlagKind.licence_expired, source_id=source_id,
                                source_name=_name(sources[source_id]),
                                asset_id=first if count == 1 else None, asset_count=count,
                                licence_id=lic_id, licence=lic.identifier,
                                valid_until=lic.valid_until))
    return flags


def _model_flags(session: Session, flags: list[SourceFlag],
                 added: dict[str, datetime]) -> list[ModelFlag]:
    """``added``: when each opted-out asset was registered; a model trained on a source
    version (manifest) signed before the work was added did not train on it."""
    trained = models_trained_on(session, sorted({f.source_id for f in flags}))
    signed = dict(session.exec(select(Manifest.id, Manifest.issued_at).where(Manifest.id.in_(
        {link.manifest_id for pairs in trained.values() for _, link in pairs}))).all())
    result = []
    for flag in flags:
        for model, link in trained.get(flag.source_id, []):
            if flag.kind is FlagKind.opt_out and flag.effective_from and flag.asset_id:
                # Training went on to (or past) the day the reservation took effect.
                late = (model.trained_until >= flag.effective_from.astimezone(UTC).date()
                        and added[flag.asset_id] <= signed[link.manifest_id])
            else:  # training went on after the licence's last day
                late = model.trained_until > flag.valid_until  # type: ignore[operator]
            if late:
                result.append(ModelFlag(
                    kind=flag.kind, model_id=model.id, model_name=model.name,
                    model_version=model.version, trained_until=model.trained_until,
                    source_id=flag.source_id, asset_id=flag.asset_id, opt_out_id=flag.opt_out_id,
                    effective_from=flag.effective_from, licence_id=flag.licence_id,
                    valid_until=flag.valid_until))
    return result


def flags(session: Session, actor: Actor, on: date | None, live: LiveIndex | None) -> FlagsRead:
    on = on or datetime.now(UTC).date()
    works = _visible_works(session, actor, live)
    source_flags = _opt_out_flags(session, works) + _expiry_flags(session, actor, on)
    return FlagsRead(on=on, phash_radius=PHASH_RADIUS, sources=source_flags,
                     models=_model_flags(session, source_flags,
                                         {w.asset.id: w.asset.created_at for w in works}))
