"""What a rights holder's key may read, written once for every service.

Admins, curators and auditors read everything. A rights holder reads:
- **assets**: its works -- assets naming it as their holder, and assets naming no holder in
  sources it holds (an asset's holders are its own, else its source's: ``holders_of``, and
  its licence likewise: ``licence_of``);
- **sources**: the sources it holds, and those holding one of its works;
- **held records** (claims, opt-outs): its own (``holds``).
Everything else answers as unknown (404), and records that point at other holders' sources
(a model's training mix, a compensation statement, a work's copies) show only the sources
and assets it may read. Audit-log entries are signed as they are: one naming anything else
is cited without its payload (``withheld_entries``).
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from registry.assets.models import Asset
from registry.auth.actor import Actor
from registry.auth.models import Role
from registry.sources.models import Source, SourceHolder


def holders_of(asset_holder_id: str | None, source_holder_ids: Sequence[str]) -> list[str]:
    """An asset's rights holders: the one it names, else its source's (who share it)."""
    return [asset_holder_id] if asset_holder_id else list(source_holder_ids)


def licence_of(asset_licence_id: str | None, source_licence_id: str) -> str:
    """An asset's licence: the one it names, else its source's."""
    return asset_licence_id or source_licence_id


def holder_assets(holder_id: str | None) -> Any:
    """SQL clause: the assets that are ``holder_id``'s works."""
    held_sources = select(SourceHolder.source_id).where(SourceHolder.holder_id == holder_id)
    return or_(Asset.holder_id == holder_id,
               and_(Asset.holder_id.is_(None), Asset.source_id.in_(held_sources)))


def holder_sources(holder_id: str | None) -> Any:
    """SQL clause: the sources ``holder_id`` holds or that hold one of its works."""
    held = select(SourceHolder.source_id).where(SourceHolder.holder_id == holder_id)
    with_assets = select(Asset.source_id).where(Asset.holder_id == holder_id)
    return or_(Source.id.in_(held), Source.id.in_(with_assets))


def scoped(actor: Actor) -> bool:
    """Whether the actor reads only its own holder's part of the registry."""
    return actor.role is Role.rights_holder


def readable_assets(statement: Any, actor: Actor) -> Any:
    return statement.where(holder_assets(actor.holder_id)) if scoped(actor) else statement


def readable_sources(statement: Any, actor: Actor) -> Any:
    return statement.where(holder_sources(actor.holder_id)) if scoped(actor) else statement


def readable_source_ids(session: Session, actor: Actor, source_ids: Iterable[str]) -> set[str]:
    """Which of these sources the actor may read (one query)."""
    ids = set(source_ids)
    if not scoped(actor) or not ids:
        return ids
    return set(session.exec(readable_sources(select(Source.id).where(Source.id.in_(ids)), actor)).all())


def readable_asset_ids(session: Session, actor: Actor, asset_ids: Iterable[str]) -> set[str]:
    """Which of these assets the actor may read (one query)."""
    ids = set(asset_ids)
    if not scoped(actor) or not ids:
        return ids
    return set(session.exec(readable_assets(select(Asset.id).where(Asset.id.in_(ids)), actor)).all())


def readable_held(statement: Any, actor: Actor, holder_column: Any) -> Any:
    """SQL: of records held by a rights holder (claims, opt-outs), those the actor may read."""
    return statement.where(holder_column == actor.holder_id) if scoped(actor) else statement


def holds(actor: Actor, holder_id: str | None) -> bool:
    """Whether the actor may read a record held by ``holder_id`` (a claim, an opt-out)."""
    return not scoped(actor) or actor.holder_id == holder_id


def withheld_entries(session: Session, actor: Actor,
                     named: Mapping[str, tuple[Iterable[str], Iterable[str]]]) -> set[str]:
    """The records (by id) whose audit-log entries the actor may not read in full: those
    naming an asset or a source it may not read. ``named``: each record's (asset ids,
    source ids) as its entry records them. Such an entry is cited by its inclusion proof
    alone, without its payload."""
    if not scoped(actor):
        return set()
    names = {record_id: (set(a), set(s)) for record_id, (a, s) in named.items()}
    assets = readable_asset_ids(session, actor, {a for a_ids, _ in names.values() for a in a_ids})
    sources = readable_source_ids(session, actor, {s for _, s_ids in names.values() for s in s_ids})
    return {record_id for record_id, (a_ids, s_ids) in names.items()
            if not a_ids <= assets or not s_ids <= sources}
