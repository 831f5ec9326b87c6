from collections import defaultdict

import sqlalchemy as sa
from sqlmodel import Session, func, select

from registry.access import readable_sources
from registry.auth.actor import Actor
from registry.core.crud import apply_patch, filter_retired, get_or_404, require_live, retry_on_concurrent_change
from registry.core.errors import Conflict, InvalidInput, NotFound
from registry.core.ids import new_id
from registry.core.pagination import paginate
from registry.core.preconditions import ANY_VERSION, Precondition
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.sources.models import Source, SourceHolder
from registry.sources.schemas import SourceCategory, SourceCreate, SourceRead, SourceUpdate, check_crawl_fields
from registry.unit_of_work import commit_change, retire

ENTITY = "source"


def holder_ids_of(session: Session, source_ids: list[str]) -> dict[str, list[str]]:
    rows = session.exec(select(SourceHolder).where(SourceHolder.source_id.in_(source_ids))).all()
    result: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        result[row.source_id].append(row.holder_id)
    return {k: sorted(v) for k, v in result.items()}


def to_read(session: Session, sources: list[Source]) -> list[SourceRead]:
    from registry.assets.models import Asset  # assets build on sources, not the reverse

    ids = [s.id for s in sources]
    holders = holder_ids_of(session, ids)
    counts = dict(session.exec(
        select(Asset.source_id, func.count()).where(Asset.source_id.in_(ids),
                                                    Asset.retired_at.is_(None))
        .group_by(Asset.source_id)).all())
    return [SourceRead(**s.model_dump(), holder_ids=holders.get(s.id, []),
                       asset_count=counts.get(s.id, 0)) for s in sources]


def create_source(session: Session, actor: Actor, data: SourceCreate) -> Source:
    for holder_id in set(data.holder_ids):
        require_live(session, RightsHolder, holder_id, "rights holder")
    require_live(session, Licence, data.licence_id, "licence")
    if data.supersedes_id:
        get_or_404(session, Source, data.supersedes_id, "source")
    existing = session.exec(select(Source.id).where(Source.name == data.name,
                                                    Source.version == data.version)).first()
    if existing:
        raise Conflict(f"source '{data.name}' version '{data.version}' already exists: {existing}")
    fields = data.model_dump(mode="json", exclude={"holder_ids", "acquired_on"})
    source = Source(id=new_id("src"), acquired_on=data.acquired_on, **fields)
    session.add(source)
    for holder_id in sorted(set(data.holder_ids)):
        session.add(SourceHolder(source_id=source.id, holder_id=holder_id))
    commit_change(session, actor, "source.created", ENTITY, source)
    return source


def get_source(session: Session, actor: Actor, source_id: str) -> Source:
    source = get_or_404(session, Source, source_id, "source")
    if session.exec(readable_sources(select(Source.id).where(Source.id == source_id), actor)).first() is None:
        raise NotFound(f"source {source_id} does not exist")
    return source


@retry_on_concurrent_change
def update_source(session: Session, actor: Actor, source_id: str, data: SourceUpdate,
                  precondition: Precondition = ANY_VERSION) -> Source:
    source = get_or_404(session, Source, source_id, "source")
    changes = data.model_dump(mode="json", exclude_unset=True, exclude={"holder_ids"})
    if "acquired_on" in changes:
        changes["acquired_on"] = data.acquired_on
    if "category" in changes and changes["category"] is None:
        raise InvalidInput("a source's category cannot be removed, only changed")
    if data.licence_id:
        require_live(session, Licence, data.licence_id, "licence")
    apply_patch(source, changes, precondition)
    problem = check_crawl_fields(SourceCategory(source.category), source.crawler, source.collection_period)
    if problem:
        raise InvalidInput(problem)
    session.add(source)
    if data.holder_ids is not None:
        current = holder_ids_of(session, [source.id]).get(source.id, [])
        for holder_id in set(data.holder_ids) - set(current):
            require_live(session, RightsHolder, holder_id, "rights holder")
        session.execute(sa.delete(SourceHolder).where(SourceHolder.source_id == source.id))
        for holder_id in sorted(set(data.holder_ids)):
            session.add(SourceHolder(source_id=source.id, holder_id=holder_id))
    commit_change(session, actor, "source.updated", ENTITY, source)
    return source


@retry_on_concurrent_change
def retire_source(session: Session, actor: Actor, source_id: str, reason: str) -> Source:
    source = get_or_404(session, Source, source_id, "source")
    retire(session, actor, source, ENTITY, reason)
    return source


def list_sources(session: Session, actor: Actor, *, holder_id: str | None,
                 licence_id: str | None, media_type: str | None, name: str | None,
                 retired: bool | None, cursor: str | None,
                 limit: int) -> tuple[list[Source], str | None]:
    stmt = readable_sources(select(Source), actor)
    if holder_id:
        stmt = stmt.where(Source.id.in_(
            select(SourceHolder.source_id).where(SourceHolder.holder_id == holder_id)))
    if licence_id:
        stmt = stmt.where(Source.licence_id == licence_id)
    if media_type:
        stmt = stmt.where(sa.cast(Source.media_types, sa.String).contains(f'"{media_type}"'))
    if name:
        stmt = stmt.where(Source.name.contains(name))
    stmt = filter_retired(stmt, Source, retired)
    return paginate(session, stmt, Source.id, cursor, limit)
