from fastapi import APIRouter, Response, status

from registry.auth.deps import AnyActor, Submitter, Writer
from registry.core.deps import SessionDep, SettingsDep
from registry.manifests import service
from registry.manifests.schemas import AssetInclusion, ManifestRead, ManifestSubmission

router = APIRouter(tags=["Manifests"])

_ENVELOPE = {200: {"content": {"application/json": {}},
                   "description": "The DSSE envelope, byte for byte as signed"}}


@router.post("/v1/sources/{source_id}/manifests", status_code=status.HTTP_201_CREATED,
             response_model=ManifestRead)
def sign_manifest(source_id: str, session: SessionDep, settings: SettingsDep,
                  actor: Writer) -> ManifestRead:
    """Sign a manifest of the source as it is now (all live assets), with the registry key."""
    return ManifestRead.model_validate(service.sign_source_manifest(session, settings, actor, source_id))


@router.post("/v1/sources/{source_id}/manifests/submitted", status_code=status.HTTP_201_CREATED,
             response_model=ManifestRead)
def submit_manifest(source_id: str, body: ManifestSubmission, session: SessionDep,
                    actor: Submitter) -> ManifestRead:
    """Record a manifest signed by one of the source's rights holders."""
    return ManifestRead.model_validate(service.submit_manifest(session, actor, source_id, body.envelope))


@router.get("/v1/sources/{source_id}/manifests", response_model=list[ManifestRead])
def list_manifests(source_id: str, session: SessionDep, actor: AnyActor) -> list[ManifestRead]:
    return [ManifestRead.model_validate(m) for m in service.list_manifests(session, actor, source_id)]


@router.get("/v1/manifests/{manifest_id}", response_model=ManifestRead)
def get_manifest(manifest_id: str, session: SessionDep, actor: AnyActor) -> ManifestRead:
    return ManifestRead.model_validate(service.get_manifest(session, actor, manifest_id))


@router.get("/v1/manifests/{manifest_id}/envelope", response_class=Response, responses=_ENVELOPE)
def download_envelope(manifest_id: str, session: SessionDep, actor: AnyActor) -> Response:
    """Download as ``manifest.dsse.json`` and check it with ``registry verify``."""
    manifest = service.get_manifest(session, actor, manifest_id)
    return Response(manifest.envelope, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{manifest.id}.dsse.json"'})


@router.get("/v1/manifests/{manifest_id}/assets/{asset_id}/proof", response_model=AssetInclusion)
def asset_proof(manifest_id: str, asset_id: str, session: SessionDep,
                actor: AnyActor) -> AssetInclusion:
    """Merkle inclusion proof that one asset is listed in the manifest."""
    return AssetInclusion(**service.asset_inclusion(session, actor, manifest_id, asset_id))
