"""The single write path: every change commits together with its audit-log entry.

Services stage their rows, then call ``commit_change`` (or ``commit_changes`` for several
records changed by one request); the entries are appended in the same transaction, so a
change without its entry (or the reverse) cannot be committed. It sits above ``core`` (the
kit, which knows no domain) and below the domain services that write through it.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel

from registry.auditlog.service import append_entry, snapshot
from registry.auth.actor import Actor
from registry.core.errors import ChangedConcurrently, Conflict
from registry.core.models import utcnow


def record_view(session: Session, entity_type: str, entity: SQLModel) -> dict[str, Any]:
    """What the log stores for a record (``record_views`` of one)."""
    return record_views(session, entity_type, [entity])[0]


def record_views(session: Session, entity_type: str,
                 entities: Sequence[SQLModel]) -> list[dict[str, Any]]:
    """What the log stores for each record: its columns plus domain extras (e.g. holder
    links), the extras of all the records read together (a fixed number of queries)."""
    # Imported here, not at the top: the list names every domain's extras, and those
    # domains' services import this module to write.
    from registry.audited import AUDITED

    spec = AUDITED[entity_type]
    views = [snapshot(entity) for entity in entities]
    if spec.unlogged:
        views = [{k: v for k, v in view.items() if k not in spec.unlogged} for view in views]
    if spec.extras and entities:
        extras = spec.extras(session, list(entities))
        for view, entity in zip(views, entities, strict=True):
            view |= extras[getattr(entity, "id")]
    return views


def commit_change(session: Session, actor: Actor, action: str, entity_type: str,
                  entity: SQLModel) -> None:
    """Commit the staged change together with its log entry, or neither."""
    commit_changes(session, actor, [(action, entity_type, entity)])


def commit_changes(session: Session, actor: Actor,
                   changes: list[tuple[str, str, SQLModel]]) -> None:
    """Commit the staged changes together with one log entry each (in order), or nothing.

    A versioned record (core.models.Versioned) changed by another request since it was
    read matches no row at the flush: the change is refused as ChangedConcurrently (409),
    so of simultaneous read-check-writes exactly one wins and logs."""
    try:
        # Flushing first surfaces constraint errors and, on SQLite, takes the write lock
        # before the log head is read; the refresh makes the snapshot what the database
        # actually stores (numeric scale, timestamps), so replays compare like with like.
        try:
            session.flush()
        except StaleDataError:
            raise ChangedConcurrently(
                "another request changed this record at the same time and was applied first; "
                "read it again and retry if the change still applies") from None
        for action, entity_type, entity in changes:
            session.refresh(entity)
            append_entry(session, actor, action, entity_type, getattr(entity, "id"),
                         record_view(session, entity_type, entity))
        session.commit()
    except BaseException:
        session.rollback()
        raise


def retire(session: Session, actor: Actor, entity: SQLModel, entity_type: str,
           reason: str) -> SQLModel:
    if getattr(entity, "retired_at") is not None:
        raise Conflict(f"{getattr(entity, 'id')} was already retired")
    now = utcnow()
    entity.retired_at = now  # type: ignore[attr-defined]
    entity.retired_reason = reason  # type: ignore[attr-defined]
    entity.retired_by = actor.key_id  # type: ignore[attr-defined]
    entity.updated_at = now  # type: ignore[attr-defined]
    session.add(entity)
    commit_change(session, actor, f"{entity_type}.retired", entity_type, entity)
    return entity
