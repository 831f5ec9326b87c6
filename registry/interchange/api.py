"""Read-only interchange documents, each scoped as the source or model it describes."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from registry.auth.deps import AnyActor
from registry.core.deps import SessionDep
from registry.core.models import utcnow
from registry.interchange import croissant, dataset_card, spdx
from registry.interchange.facts import Links, source_facts

router = APIRouter(tags=["Interchange"])


def _links(request: Request) -> Links:
    return Links(str(request.base_url).rstrip("/"))


def _json_ld(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "object"}}}}}


@router.get("/v1/sources/{source_id}/croissant", response_class=JSONResponse,
            responses=_json_ld(croissant.MEDIA_TYPE, "The source version as a Croissant 1.1 "
                                                     "dataset (JSON-LD) with RAI fields"))
def source_croissant(source_id: str, request: Request, session: SessionDep,
                     actor: AnyActor) -> Response:
    """The source version as Croissant 1.1: its live files (those the key may read) by media
    type and licence, each with its SHA-256, and the newest registry-signed manifest."""
    document = croissant.croissant(source_facts(session, actor, source_id), _links(request))
    return JSONResponse(document, media_type=croissant.MEDIA_TYPE)


@router.get("/v1/sources/{source_id}/dataset-card", response_class=Response,
            responses={200: {"description": "A Hugging Face dataset card: YAML front matter "
                                            "(license, or other + license_name + license_link) "
                                            "and a Markdown body",
                             "content": {"text/markdown": {"schema": {"type": "string"}}}}})
def source_dataset_card(source_id: str, request: Request, session: SessionDep,
                        actor: AnyActor) -> Response:
    card = dataset_card.dataset_card(source_facts(session, actor, source_id), _links(request))
    return Response(card, media_type=dataset_card.MEDIA_TYPE)


@router.get("/v1/models/{model_id}/spdx", response_class=JSONResponse,
            responses=_json_ld(spdx.MEDIA_TYPE, "The model as an SPDX 3.0.1 JSON-LD document "
                                                "(AI and Dataset profiles)"))
def model_spdx(model_id: str, request: Request, session: SessionDep, actor: AnyActor) -> Response:
    """The model (AI profile) trained on each source version it was pinned to (Dataset
    profile), with their declared and concluded licences. A rights holder's key sees the
    sources it may read only."""
    document = spdx.model_spdx(session, actor, model_id, _links(request), utcnow())
    return JSONResponse(document, media_type=spdx.MEDIA_TYPE)
