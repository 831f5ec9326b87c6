from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from registry.auth.deps import AnyActor, Writer
from registry.core.crud import RetireRequest
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from registry.core.preconditions import ETAG_RESPONSE, IfMatch, Precondition, set_etag
from registry.holders import service
from registry.holders.schemas import HolderCreate, HolderKind, HolderRead, HolderUpdate

router = APIRouter(prefix="/v1/holders", tags=["Rights holders"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=HolderRead)
def create_holder(data: HolderCreate, session: SessionDep, actor: Writer) -> HolderRead:
    return HolderRead.model_validate(service.create_holder(session, actor, data))


@router.get("", response_model=Page[HolderRead])
def list_holders(
    session: SessionDep,
    actor: AnyActor,
    kind: HolderKind | None = None,
    name: Annotated[str | None, Query(max_length=300, description="Substring of the name")] = None,
    retired: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[HolderRead]:
    rows, next_cursor = service.list_holders(session, actor, kind=kind, name=name,
                                             retired=retired, cursor=cursor, limit=limit)
    return Page(items=[HolderRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{holder_id}", response_model=HolderRead, responses=ETAG_RESPONSE)
def get_holder(holder_id: str, session: SessionDep, actor: AnyActor,
               response: Response) -> HolderRead:
    holder = service.get_holder(session, actor, holder_id)
    set_etag(response, holder)
    return HolderRead.model_validate(holder)


@router.patch("/{holder_id}", response_model=HolderRead, responses=ETAG_RESPONSE)
def update_holder(holder_id: str, data: HolderUpdate, session: SessionDep,
                  actor: AnyActor, response: Response, if_match: IfMatch = None) -> HolderRead:
    """Curators and admins edit any holder; a rights holder edits its own record."""
    service.require_editor(actor, holder_id)
    holder = service.update_holder(session, actor, holder_id, data, Precondition(if_match))
    set_etag(response, holder)
    return HolderRead.model_validate(holder)


@router.post("/{holder_id}/retire", response_model=HolderRead)
def retire_holder(holder_id: str, body: RetireRequest, session: SessionDep,
                  actor: Writer) -> HolderRead:
    return HolderRead.model_validate(service.retire_holder(session, actor, holder_id, body.reason))
