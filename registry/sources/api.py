from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from registry.auth.deps import AnyActor, Writer
from registry.core.crud import RetireRequest
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from registry.core.preconditions import ETAG_RESPONSE, IfMatch, Precondition, set_etag
from registry.sources import service
from registry.sources.schemas import SourceCreate, SourceRead, SourceUpdate

router = APIRouter(prefix="/v1/sources", tags=["Sources"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SourceRead)
def create_source(data: SourceCreate, session: SessionDep, actor: Writer) -> SourceRead:
    return service.to_read(session, [service.create_source(session, actor, data)])[0]


@router.get("", response_model=Page[SourceRead])
def list_sources(
    session: SessionDep,
    actor: AnyActor,
    holder_id: Annotated[str | None, Query(max_length=40)] = None,
    licence_id: Annotated[str | None, Query(max_length=40)] = None,
    media_type: Annotated[str | None, Query(max_length=100)] = None,
    name: Annotated[str | None, Query(max_length=300)] = None,
    retired: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[SourceRead]:
    rows, next_cursor = service.list_sources(
        session, actor, holder_id=holder_id, licence_id=licence_id, media_type=media_type,
        name=name, retired=retired, cursor=cursor, limit=limit)
    return Page(items=service.to_read(session, rows), next_cursor=next_cursor)


@router.get("/{source_id}", response_model=SourceRead, responses=ETAG_RESPONSE)
def get_source(source_id: str, session: SessionDep, actor: AnyActor,
               response: Response) -> SourceRead:
    source = service.get_source(session, actor, source_id)
    set_etag(response, source)
    return service.to_read(session, [source])[0]


@router.patch("/{source_id}", response_model=SourceRead, responses=ETAG_RESPONSE)
def update_source(source_id: str, data: SourceUpdate, session: SessionDep,
                  actor: Writer, response: Response, if_match: IfMatch = None) -> SourceRead:
    source = service.update_source(session, actor, source_id, data, Precondition(if_match))
    set_etag(response, source)
    return service.to_read(session, [source])[0]


@router.post("/{source_id}/retire", response_model=SourceRead)
def retire_source(source_id: str, body: RetireRequest, session: SessionDep,
                  actor: Writer) -> SourceRead:
    return service.to_read(session, [service.retire_source(session, actor, source_id, body.reason)])[0]
