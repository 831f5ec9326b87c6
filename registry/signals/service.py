"""Opt-out signal evidence: dated snapshots of what a crawler observed, read once by the
versioned mapping, cited by licence evaluation and by reports."""

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import rfc8785
from sqlmodel import Session, select

from registry.access import readable_asset_ids, readable_assets, readable_sources
from registry.assets.models import Asset
from registry.auth.actor import SYSTEM_ACTOR, Actor
from registry.core.crud import filter_retired, get_or_404, require_live, retry_on_concurrent_change
from registry.core.errors import InvalidInput, NotFound, PayloadTooLarge
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.core.pagination import paginate
from registry.evaluation.schemas import Reason
from registry.licences.models import Licence, grants_training_itself
from registry.signals import mapping, parsing
from registry.signals.findings import Finding, Kind, Term
from registry.signals.models import SignalSnapshot
from registry.signals.schemas import MAX_EVIDENCE_BYTES, SignalCreate, SignalEvidence
from registry.sources.models import Source
from registry.sources.service import get_source
from registry.unit_of_work import commit_change, retire

ENTITY = "signal_snapshot"
# A crawler's clock may run a little ahead of the registry's; an observation further in
# the future is a mistake.
_CLOCK_SKEW = timedelta(minutes=5)
_KIND_LABEL = {Kind.robots_txt: "robots.txt", Kind.tdmrep_json: "tdmrep.json",
               Kind.http_headers: "response headers", Kind.ai_txt: "ai.txt"}


def _digest(data: SignalCreate) -> str:
    raw = (data.content or "").encode() if data.headers is None else rfc8785.dumps(
        [list(pair) for pair in data.headers])
    return hashlib.sha256(raw).hexdigest()


def create_snapshot(session: Session, actor: Actor, source_id: str, data: SignalCreate) -> SignalSnapshot:
    source = require_live(session, Source, source_id, "source")
    media_types = list(source.media_types)
    if data.asset_id is not None:
        asset = require_live(session, Asset, data.asset_id, "asset")
        if asset.source_id != source.id:
            raise InvalidInput(f"asset {asset.id} is not in source {source.id}")
        media_types = [asset.media_type]
    if data.content is not None and len(data.content.encode()) > MAX_EVIDENCE_BYTES:
        raise PayloadTooLarge(f"content exceeds the {MAX_EVIDENCE_BYTES:,}-byte limit of one observation")
    observed_at = data.observed_at.astimezone(UTC)
    if observed_at > utcnow() + _CLOCK_SKEW:
        raise InvalidInput("observed_at is in the future")
    findings = parsing.parse(data.kind, content=data.content, headers=data.headers,
                             agent=data.user_agent, path=data.path, media_types=media_types)
    term, read = mapping.decide(findings, media_types)
    snapshot = SignalSnapshot(
        id=new_id("sig"), source_id=source.id, asset_id=data.asset_id, url=data.url, kind=data.kind.value,
        user_agent=data.user_agent, path=data.path, observed_at=observed_at, content=data.content,
        headers=None if data.headers is None else [list(pair) for pair in data.headers],
        sha256=_digest(data), media_types=media_types, term=term.value,
        findings=[f.model_dump(mode="json") for f in read], mapping_version=mapping.MAPPING_VERSION)
    session.add(snapshot)
    commit_change(session, actor, "signal_snapshot.created", ENTITY, snapshot)
    return snapshot


def get_snapshot(session: Session, actor: Actor, snapshot_id: str) -> SignalSnapshot:
    """A snapshot the actor may read: its source's (and its work's) read scope."""
    snapshot = get_or_404(session, SignalSnapshot, snapshot_id, "signal snapshot")
    try:
        get_source(session, actor, snapshot.source_id)
    except NotFound:
        raise NotFound(f"signal snapshot {snapshot_id} does not exist") from None
    if snapshot.asset_id and not readable_asset_ids(session, actor, [snapshot.asset_id]):
        raise NotFound(f"signal snapshot {snapshot_id} does not exist")
    return snapshot


def list_snapshots(session: Session, actor: Actor, *, source_id: str | None, asset_id: str | None,
                   kind: Kind | None, retired: bool | None, cursor: str | None,
                   limit: int) -> tuple[list[SignalSnapshot], str | None]:
    """The snapshots of the sources the actor reads (of their works: the works it reads)."""
    stmt = select(SignalSnapshot).where(
        SignalSnapshot.source_id.in_(readable_sources(select(Source.id), actor)),
        SignalSnapshot.asset_id.is_(None) | SignalSnapshot.asset_id.in_(readable_assets(select(Asset.id), actor)))
    if source_id:
        stmt = stmt.where(SignalSnapshot.source_id == source_id)
    if asset_id:
        stmt = stmt.where(SignalSnapshot.asset_id == asset_id)
    if kind:
        stmt = stmt.where(SignalSnapshot.kind == kind.value)
    return paginate(session, filter_retired(stmt, SignalSnapshot, retired), SignalSnapshot.id, cursor, limit)


@retry_on_concurrent_change
def retire_snapshot(session: Session, actor: Actor, snapshot_id: str, reason: str) -> SignalSnapshot:
    snapshot = get_snapshot(session, actor, snapshot_id)
    retire(session, actor, snapshot, ENTITY, reason)
    return snapshot


# -- the current evidence, for evaluation and reports ---------------------------------------
def _current(session: Session, source_ids: Iterable[str],
             observed_before: datetime | None = None) -> list[tuple[SignalSnapshot, str | None]]:
    """The newest live snapshot per (source, work, url, kind), of sources and of their live
    works, with the work's own licence (one query). ``observed_before``: as known then."""
    stmt = (select(SignalSnapshot, Asset.licence_id)
            .outerjoin(Asset, Asset.id == SignalSnapshot.asset_id)
            .where(SignalSnapshot.source_id.in_(list(source_ids)), SignalSnapshot.retired_at.is_(None),
                   Asset.retired_at.is_(None))
            .order_by(SignalSnapshot.observed_at.desc(), SignalSnapshot.id.desc()))
    if observed_before is not None:
        stmt = stmt.where(SignalSnapshot.observed_at < observed_before)
    newest: dict[tuple[str, str | None, str, str], tuple[SignalSnapshot, str | None]] = {}
    for snapshot, asset_licence in session.exec(stmt).all():
        newest.setdefault((snapshot.source_id, snapshot.asset_id, snapshot.url, snapshot.kind),
                          (snapshot, asset_licence))
    return sorted(newest.values(), key=lambda pair: (pair[0].observed_at, pair[0].id))


def _decisive(snapshot: SignalSnapshot) -> list[Finding]:
    findings = [Finding.model_validate(f) for f in snapshot.findings]
    return [f for f in findings if f.term is not None and f.term.value == snapshot.term] or findings


def summary(snapshot: SignalSnapshot) -> str:
    findings = _decisive(snapshot)
    said = "; ".join(f.summary() for f in findings[:5]) or "no statement about AI training"
    return f"{Term(snapshot.term).value} ({said})"


def signal_evidence(session: Session, source_ids: list[str]) -> dict[str, list[SignalEvidence]]:
    """The evidence each source's AI-training term rests on: its newest live snapshot per
    (work, url, kind), oldest observation first (a fixed number of queries)."""
    result: dict[str, list[SignalEvidence]] = {source_id: [] for source_id in source_ids}
    for snapshot, _ in _current(session, source_ids):
        result[snapshot.source_id].append(SignalEvidence(
            snapshot_id=snapshot.id, source_id=snapshot.source_id, asset_id=snapshot.asset_id,
            kind=Kind(snapshot.kind), url=snapshot.url, observed_at=snapshot.observed_at,
            sha256=snapshot.sha256, term=Term(snapshot.term), findings_summary=summary(snapshot),
            mapping_version=snapshot.mapping_version))
    return result


def signal_reasons(session: Session, sources: list[Source], on: date, licences: dict[str, Licence],
                   reader: Actor | None = None) -> dict[str, list[Reason]]:
    """Denials from the current signal evidence as known on ``on``: a reservation
    (not_allowed), or a constrained one without a licence that says more. ``reader``: a
    rights holder is told of another holder's work only that one is reserved."""
    by_id = {s.id: s for s in sources}
    reasons: dict[str, list[Reason]] = {}
    cutoff = datetime.combine(on + timedelta(days=1), time.min, tzinfo=UTC)
    current = [(s, lic) for s, lic in _current(session, by_id, cutoff)
               if s.term in (Term.not_allowed.value, Term.constrained.value)]
    named = readable_asset_ids(session, reader or SYSTEM_ACTOR, {s.asset_id for s, _ in current if s.asset_id})
    for snapshot, asset_licence in current:
        licence = licences.get(asset_licence or by_id[snapshot.source_id].licence_id)
        if snapshot.term == Term.constrained.value and grants_training_itself(licence):
            continue
        code = "tdm_reservation" if snapshot.term == Term.not_allowed.value else "tdm_constrained"
        verdict = ("reserves AI training" if snapshot.term == Term.not_allowed.value else
                   "limits AI training, and no licence grants it")
        if snapshot.asset_id and snapshot.asset_id not in named:
            reasons.setdefault(snapshot.source_id, []).append(Reason(
                code=code, message=f"an observed opt-out signal {verdict} for a work of this source"))
            continue
        subject = f"work {snapshot.asset_id}" if snapshot.asset_id else "the source"
        reasons.setdefault(snapshot.source_id, []).append(Reason(
            code=code,
            message=f"{_KIND_LABEL[Kind(snapshot.kind)]} at {snapshot.url}, observed "
                    f"{snapshot.observed_at.date().isoformat()}, {verdict} for {subject}: {summary(snapshot)}",
            asset_id=snapshot.asset_id, signal_id=snapshot.id))
    return reasons
