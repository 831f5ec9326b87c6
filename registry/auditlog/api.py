import base64
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse
from sqlmodel import select

from registry.auditlog import tree
from registry.auditlog.models import LogEntry
from registry.auditlog.schemas import ConsistencyProof, InclusionProof, LogEntryPage, LogEntryRead, ProvenEntry
from registry.auth.deps import Overseer
from registry.core.deps import SessionDep, SettingsDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/v1/log", tags=["Audit log"])

Size = Annotated[int, Query(ge=0, le=2**62)]
_NOTE = {200: {"content": {"text/plain": {}}, "description": "C2SP signed checkpoint note"}}


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


@router.get("/entries/{idx}", response_model=ProvenEntry)
def get_entry(idx: Annotated[int, Path(ge=0, le=2**62)], session: SessionDep,
              settings: SettingsDep, actor: Overseer) -> ProvenEntry:
    """One entry, proven against the latest signed checkpoint."""
    entry = tree.entry(session, idx)
    checkpoint = tree.latest_checkpoint(session, settings)
    return ProvenEntry(entry=LogEntryRead.from_entry(entry),
                       payload=base64.b64encode(entry.payload).decode(),
                       inclusion=InclusionProof(**tree.inclusion(session, idx, checkpoint.size)),
                       checkpoint=checkpoint.note)


@router.get("/checkpoint", response_class=PlainTextResponse, responses=_NOTE)
def latest_checkpoint(session: SessionDep, settings: SettingsDep) -> PlainTextResponse:
    """Public: the signed checkpoint of the log as it is now."""
    return PlainTextResponse(tree.latest_checkpoint(session, settings).note)


@router.get("/checkpoints/{size}", response_class=PlainTextResponse, responses=_NOTE)
def stored_checkpoint(size: Annotated[int, Path(ge=0, le=2**62)],
                      session: SessionDep) -> PlainTextResponse:
    """Public: a checkpoint published earlier, by tree size."""
    return PlainTextResponse(tree.stored_checkpoint(session, size).note)


@router.get("/proofs/inclusion", response_model=InclusionProof)
def inclusion_proof(idx: Size, tree_size: Size, session: SessionDep) -> InclusionProof:
    """Public: proof that leaf ``idx`` is in the tree of ``tree_size`` leaves."""
    return InclusionProof(**tree.inclusion(session, idx, tree_size))


@router.get("/proofs/consistency", response_model=ConsistencyProof)
def consistency_proof(first: Size, second: Size, session: SessionDep) -> ConsistencyProof:
    """Public: proof that the tree of ``second`` leaves extends the tree of ``first``."""
    return ConsistencyProof(**tree.consistency(session, first, second))
