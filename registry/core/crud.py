"""Helpers every domain service uses for the read/update/retire parts of its records."""

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, SQLModel

from registry.auditlog.service import Actor, commit_change
from registry.core.errors import Conflict, NotFound
from registry.core.models import utcnow

M = TypeVar("M", bound=SQLModel)


class RetireRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=1000,
                        description="Why the record is retired; kept with it for the record")


def get_or_404(session: Session, model: type[M], record_id: str, label: str) -> M:
    record = session.get(model, record_id) if len(record_id) <= 80 else None
    if record is None:
        raise NotFound(f"{label} {record_id} does not exist")
    return record


def require_live(session: Session, model: type[M], record_id: str, label: str) -> M:
    """A record that new records may point at: it exists and is not retired."""
    record = get_or_404(session, model, record_id, label)
    if getattr(record, "retired_at", None) is not None:
        raise Conflict(f"{label} {record_id} is retired and cannot be used for new records")
    return record


def apply_patch(entity: SQLModel, changes: dict[str, Any]) -> None:
    if getattr(entity, "retired_at", None) is not None:
        raise Conflict(f"{getattr(entity, 'id')} is retired and can no longer be changed")
    for name, value in changes.items():
        setattr(entity, name, value)
    setattr(entity, "updated_at", utcnow())


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


def filter_retired(statement: Any, model: Any, retired: bool | None) -> Any:
    if retired is None:
        return statement
    column = model.retired_at
    return statement.where(column.is_not(None) if retired else column.is_(None))
