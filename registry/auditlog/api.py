from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import select

from registry.auditlog.models import LogEntry
from registry.auditlog.schemas import LogEntryPage, LogEntryRead
from registry.auth.deps import Overseer
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/v1/log", tags=["Audit log"])


@router.get("/entries", response_model=LogEntryPage)
def list_entries(
    session: SessionDep,
    actor: Overseer,
    after: Annotated[int, Query(ge=-1, le=2**62, description="Return entries with idx > after")] = -1,
    entity_id: Annotated[str | None, Query(max_length=80)] = None,
    key: Annotated[str | None, Query(max_length=40, description="Only entries made by this key")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> LogEntryPage:
    stmt = select(LogEntry).where(LogEntry.idx > after)
    if entity_id:
        stmt = stmt.where(LogEntry.entity_id == entity_id)
    if key:
        stmt = stmt.where(LogEntry.actor == key)
    rows = list(session.exec(stmt.order_by(LogEntry.idx).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return LogEntryPage(items=[LogEntryRead.from_entry(r) for r in rows],
                        next_after=rows[-1].idx if more else None)
