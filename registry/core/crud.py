"""Helpers every domain service uses to read and update its records (retiring one is a
logged change: ``registry.unit_of_work.retire``)."""

import functools
import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, SQLModel

from registry.core.errors import ChangedConcurrently, Conflict, NotFound
from registry.core.models import Versioned, utcnow
from registry.core.preconditions import ANY_VERSION, Precondition

M = TypeVar("M", bound=SQLModel)
P = ParamSpec("P")
R = TypeVar("R")
CONCURRENT_CHANGE_ATTEMPTS = 10


def retry_on_concurrent_change(change: Callable[P, R]) -> Callable[P, R]:
    """Run a read-check-write again when a simultaneous change to the same record won
    (ChangedConcurrently): it re-reads, so it re-decides on the state that won -- a
    second retire or the same claim transition is then refused as such (409), a PATCH
    without If-Match applies on top, one with If-Match fails its precondition (412).
    Only for changes whose checks make a repeat safe (not e.g. a signing-key rotation,
    which would rotate twice). The first argument is the request's session."""
    @functools.wraps(change)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        session = args[0]
        for attempt in range(1, CONCURRENT_CHANGE_ATTEMPTS + 1):
            try:
                return change(*args, **kwargs)
            except ChangedConcurrently:
                if attempt == CONCURRENT_CHANGE_ATTEMPTS:
                    raise
                session.expire_all()  # type: ignore[attr-defined]
                # jitter: writers that collided do not collide again in lockstep
                time.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")
    return run


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


def apply_patch(entity: Versioned, changes: dict[str, Any],
                precondition: Precondition = ANY_VERSION) -> None:
    precondition.check(entity)
    if getattr(entity, "retired_at", None) is not None:
        raise Conflict(f"{getattr(entity, 'id')} is retired and can no longer be changed")
    for name, value in changes.items():
        setattr(entity, name, value)
    setattr(entity, "updated_at", utcnow())


def filter_retired(statement: Any, model: Any, retired: bool | None) -> Any:
    if retired is None:
        return statement
    column = model.retired_at
    return statement.where(column.is_not(None) if retired else column.is_(None))
