from typing import Annotated

from fastapi import APIRouter, Query, status

from registry.auth.deps import AnyActor, CheckReader, Writer
from registry.core.crud import RetireRequest
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from registry.lineage import service
from registry.lineage.schemas import (
    AssetLineage,
    CheckLink,
    GenerationCreate,
    GenerationLineage,
    GenerationRead,
    ModelCreate,
    ModelRead,
)

router = APIRouter(tags=["Lineage"])

Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.post("/v1/models", status_code=status.HTTP_201_CREATED, response_model=ModelRead)
def create_model(data: ModelCreate, session: SessionDep, actor: Writer) -> ModelRead:
    """Register a model with the source versions (manifests) it was trained on and their
    weights; a source's version defaults to its latest registry-signed manifest."""
    return service.models_to_read(session, actor, [service.create_model(session, actor, data)])[0]


@router.get("/v1/models", response_model=Page[ModelRead])
def list_models(
    session: SessionDep,
    actor: AnyActor,
    name: Annotated[str | None, Query(max_length=300)] = None,
    owner: Annotated[str | None, Query(max_length=300)] = None,
    source_id: Annotated[str | None, Query(max_length=40,
                                           description="Models trained on this source")] = None,
    retired: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ModelRead]:
    rows, next_cursor = service.list_models(session, actor, name=name, owner=owner,
                                            source_id=source_id,
                                            retired=retired, cursor=cursor, limit=limit)
    return Page(items=service.models_to_read(session, actor, rows), next_cursor=next_cursor)


@router.get("/v1/models/{model_id}", response_model=ModelRead)
def get_model(model_id: str, session: SessionDep, actor: AnyActor) -> ModelRead:
    return service.models_to_read(session, actor, [service.get_model(session, model_id)])[0]


@router.post("/v1/models/{model_id}/retire", response_model=ModelRead)
def retire_model(model_id: str, body: RetireRequest, session: SessionDep,
                 actor: Writer) -> ModelRead:
    model = service.retire_model(session, actor, model_id, body.reason)
    return service.models_to_read(session, actor, [model])[0]


@router.post("/v1/generations", status_code=status.HTTP_201_CREATED,
             response_model=GenerationRead)
def create_generation(data: GenerationCreate, session: SessionDep,
                      actor: Writer) -> GenerationRead:
    """Register generated media: the model that made it, its production, and the near-copy
    checks run on it."""
    generation = service.create_generation(session, actor, data)
    return service.generations_to_read(session, [generation])[0]


@router.post("/v1/generations/{generation_id}/checks", status_code=status.HTTP_201_CREATED,
             response_model=GenerationRead)
def link_check(generation_id: str, body: CheckLink, session: SessionDep,
               actor: Writer) -> GenerationRead:
    """Link a further check run on the generation (409 if it is already linked)."""
    generation = service.link_check(session, actor, generation_id, body.check_id)
    return service.generations_to_read(session, [generation])[0]


@router.get("/v1/generations", response_model=Page[GenerationRead])
def list_generations(
    session: SessionDep,
    actor: CheckReader,
    production: Annotated[str | None, Query(max_length=300)] = None,
    model_id: Annotated[str | None, Query(max_length=40)] = None,
    retired: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[GenerationRead]:
    rows, next_cursor = service.list_generations(session, production=production,
                                                 model_id=model_id, retired=retired,
                                                 cursor=cursor, limit=limit)
    return Page(items=service.generations_to_read(session, rows), next_cursor=next_cursor)


@router.get("/v1/generations/{generation_id}", response_model=GenerationRead)
def get_generation(generation_id: str, session: SessionDep, actor: CheckReader) -> GenerationRead:
    return service.generations_to_read(session, [service.get_generation(session, generation_id)])[0]


@router.get("/v1/generations/{generation_id}/lineage", response_model=GenerationLineage)
def generation_lineage(generation_id: str, session: SessionDep,
                       actor: CheckReader) -> GenerationLineage:
    """generation → model → training sources (weights, pinned manifests) → the works its
    linked checks matched."""
    return service.generation_lineage(session, actor, generation_id)


@router.get("/v1/assets/{asset_id}/lineage", response_model=AssetLineage)
def asset_lineage(asset_id: str, session: SessionDep, actor: AnyActor) -> AssetLineage:
    """work → every source holding the same content → live models trained on them →
    generations whose checks matched it. Rights holders: their own works only, and of their
    copies those they may read (the same file in another holder's source is that holder's)."""
    return service.asset_lineage(session, actor, asset_id)
