import base64
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import FileResponse

from registry.assets import service
from registry.assets.schemas import AssetRead, AssetUpdate
from registry.auth.deps import AnyActor, Writer
from registry.core.crud import RetireRequest
from registry.core.deps import SINGLE_PARTS, BlobsDep, SessionDep, SettingsDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from registry.core.preconditions import ETAG_RESPONSE, IfMatch, Precondition, set_etag

router = APIRouter(tags=["Assets"])


def repr_digest(sha256_hex: str) -> str:
    """RFC 9530 Repr-Digest header value, so a client can check what it downloaded."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


@router.post("/v1/sources/{source_id}/assets", status_code=status.HTTP_201_CREATED,
             response_model=AssetRead,
             dependencies=[SINGLE_PARTS])
def upload_asset(
    source_id: str,
    session: SessionDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    actor: Writer,
    file: Annotated[UploadFile, File(description="The image or video file")],
    holder_id: Annotated[str | None, Form(max_length=40)] = None,
    licence_id: Annotated[str | None, Form(max_length=40)] = None,
    original_uri: Annotated[str | None, Form(max_length=2000)] = None,
) -> AssetRead:
    """Upload one work into a source. The bytes are stored by SHA-256; the record is created
    only once the file has been fully received and decoded."""
    asset = service.register_upload(
        session, actor, blobs, settings, source_id, file.file, holder_id=holder_id or None,
        licence_id=licence_id or None, original_uri=original_uri or None)
    return AssetRead.model_validate(asset)


@router.get("/v1/assets", response_model=Page[AssetRead])
def list_assets(
    session: SessionDep,
    actor: AnyActor,
    source_id: Annotated[str | None, Query(max_length=40)] = None,
    holder_id: Annotated[str | None, Query(max_length=40)] = None,
    licence_id: Annotated[str | None, Query(max_length=40)] = None,
    media_type: Annotated[str | None, Query(max_length=100)] = None,
    sha256: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{64}$")] = None,
    retired: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[AssetRead]:
    rows, next_cursor = service.list_assets(
        session, actor, source_id=source_id, holder_id=holder_id, licence_id=licence_id,
        media_type=media_type, sha256=sha256, retired=retired, cursor=cursor, limit=limit)
    return Page(items=[AssetRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/assets/{asset_id}", response_model=AssetRead, responses=ETAG_RESPONSE)
def get_asset(asset_id: str, session: SessionDep, actor: AnyActor, response: Response) -> AssetRead:
    asset = service.get_asset(session, actor, asset_id)
    set_etag(response, asset)
    return AssetRead.model_validate(asset)


@router.get("/v1/assets/{asset_id}/content", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The asset's stored bytes"}})
def get_asset_content(asset_id: str, session: SessionDep, actor: AnyActor,
                      blobs: BlobsDep) -> FileResponse:
    asset = service.get_asset(session, actor, asset_id)
    return FileResponse(blobs.path(asset.sha256), media_type=asset.media_type,
                        headers={"Repr-Digest": repr_digest(asset.sha256)})


@router.patch("/v1/assets/{asset_id}", response_model=AssetRead, responses=ETAG_RESPONSE)
def update_asset(asset_id: str, data: AssetUpdate, session: SessionDep,
                 actor: Writer, response: Response, if_match: IfMatch = None) -> AssetRead:
    asset = service.update_asset(session, actor, asset_id, data, Precondition(if_match))
    set_etag(response, asset)
    return AssetRead.model_validate(asset)


@router.post("/v1/assets/{asset_id}/retire", response_model=AssetRead)
def retire_asset(asset_id: str, body: RetireRequest, session: SessionDep,
                 actor: Writer) -> AssetRead:
    return AssetRead.model_validate(service.retire_asset(session, actor, asset_id, body.reason))
