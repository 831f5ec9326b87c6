from typing import Annotated

from fastapi import APIRouter, Query, status

from registry.auth.deps import AnyActor, Writer
from registry.core.crud import RetireRequest
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from registry.signals import service
from registry.signals.findings import Kind
from registry.signals.schemas import SignalCreate, SignalRead

router = APIRouter(tags=["Opt-out signals"])


@router.post("/v1/sources/{source_id}/signals", status_code=status.HTTP_201_CREATED,
             response_model=SignalRead)
def record_signal(source_id: str, data: SignalCreate, session: SessionDep, actor: Writer) -> SignalRead:
    """Record what a crawler observed of the source's (or one of its works') opt-out signals:
    robots.txt, tdmrep.json, ai.txt or response headers. The registry reads it once, with the
    mapping version it records, into an AI-training term."""
    return SignalRead.model_validate(service.create_snapshot(session, actor, source_id, data),
                                     from_attributes=True)


@router.get("/v1/signals", response_model=Page[SignalRead])
def list_signals(
    session: SessionDep,
    actor: AnyActor,
    source_id: Annotated[str | None, Query(max_length=40)] = None,
    asset_id: Annotated[str | None, Query(max_length=40)] = None,
    kind: Kind | None = None,
    retired: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[SignalRead]:
    """Signal snapshots, oldest recorded first; readers see those of the sources they read."""
    rows, next_cursor = service.list_snapshots(session, actor, source_id=source_id, asset_id=asset_id,
                                               kind=kind, retired=retired, cursor=cursor, limit=limit)
    return Page(items=[SignalRead.model_validate(r, from_attributes=True) for r in rows],
                next_cursor=next_cursor)


@router.get("/v1/signals/{signal_id}", response_model=SignalRead)
def get_signal(signal_id: str, session: SessionDep, actor: AnyActor) -> SignalRead:
    return SignalRead.model_validate(service.get_snapshot(session, actor, signal_id), from_attributes=True)


@router.post("/v1/signals/{signal_id}/retire", response_model=SignalRead)
def retire_signal(signal_id: str, body: RetireRequest, session: SessionDep, actor: Writer) -> SignalRead:
    """Set aside a snapshot recorded in error (it stays on record, retired)."""
    return SignalRead.model_validate(service.retire_snapshot(session, actor, signal_id, body.reason),
                                     from_attributes=True)
