from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from registry.auth.deps import AnyActor, Writer
from registry.core.crud import RetireRequest
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from registry.core.preconditions import ETAG_RESPONSE, IfMatch, Precondition, set_etag
from registry.licences import service
from registry.licences.schemas import AiTraining, LicenceCreate, LicenceRead, LicenceUpdate

router = APIRouter(prefix="/v1/licences", tags=["Licences"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=LicenceRead)
def create_licence(data: LicenceCreate, session: SessionDep, actor: Writer) -> LicenceRead:
    return LicenceRead.model_validate(service.create_licence(session, actor, data))


@router.get("", response_model=Page[LicenceRead])
def list_licences(
    session: SessionDep,
    actor: AnyActor,
    identifier: Annotated[str | None, Query(max_length=300)] = None,
    ai_training: AiTraining | None = None,
    commercial_use: bool | None = None,
    retired: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[LicenceRead]:
    rows, next_cursor = service.list_licences(
        session, identifier=identifier, ai_training=ai_training, commercial_use=commercial_use,
        retired=retired, cursor=cursor, limit=limit)
    return Page(items=[LicenceRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{licence_id}", response_model=LicenceRead, responses=ETAG_RESPONSE)
def get_licence(licence_id: str, session: SessionDep, actor: AnyActor,
                response: Response) -> LicenceRead:
    licence = service.get_licence(session, licence_id)
    set_etag(response, licence)
    return LicenceRead.model_validate(licence)


@router.patch("/{licence_id}", response_model=LicenceRead, responses=ETAG_RESPONSE)
def update_licence(licence_id: str, data: LicenceUpdate, session: SessionDep,
                   actor: Writer, response: Response, if_match: IfMatch = None) -> LicenceRead:
    licence = service.update_licence(session, actor, licence_id, data, Precondition(if_match))
    set_etag(response, licence)
    return LicenceRead.model_validate(licence)


@router.post("/{licence_id}/retire", response_model=LicenceRead)
def retire_licence(licence_id: str, body: RetireRequest, session: SessionDep,
                   actor: Writer) -> LicenceRead:
    return LicenceRead.model_validate(service.retire_licence(session, actor, licence_id, body.reason))
