from fastapi import APIRouter, status

from registry.auth import service
from registry.auth.deps import Admin
from registry.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from registry.core.deps import SessionDep

router = APIRouter(prefix="/v1/keys", tags=["API keys"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_key(data: ApiKeyCreate, session: SessionDep, actor: Admin) -> ApiKeyCreated:
    issued = service.create_key(session, actor, data)
    return ApiKeyCreated(**ApiKeyRead.model_validate(issued.record).model_dump(),
                         secret=issued.secret)


@router.get("", response_model=list[ApiKeyRead])
def list_keys(session: SessionDep, actor: Admin) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(k) for k in service.list_keys(session)]


@router.post("/{key_id}/revoke", response_model=ApiKeyRead)
def revoke_key(key_id: str, session: SessionDep, actor: Admin) -> ApiKeyRead:
    return ApiKeyRead.model_validate(service.revoke_key(session, actor, key_id))
