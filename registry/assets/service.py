import hashlib
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, and_, or_, select

from registry.access import holder_assets, readable_assets
from registry.assets.content_credentials import ContentCredentials, read_content_credentials
from registry.assets.errors import DuplicateAsset
from registry.assets.media import MediaInfo, probe
from registry.assets.models import Asset
from registry.assets.schemas import AssetUpdate
from registry.auth.actor import Actor
from registry.blob_citations import discard_uncited
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.crud import apply_patch, filter_retired, get_or_404, require_live, retry_on_concurrent_change
from registry.core.errors import Conflict, InvalidMedia, NotFound, PayloadTooLarge
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.core.pagination import paginate
from registry.core.preconditions import ANY_VERSION, Precondition
from registry.fingerprints.records import fingerprint_staged
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.sources.models import Source
from registry.unit_of_work import commit_change, retire

ENTITY = "asset"
_CHUNK = 1024 * 1024


def stage_upload(stream: BinaryIO, staged: Path, max_bytes: int) -> tuple[str, int]:
    """Copy the upload to the staging file, hashing it, refusing it past ``max_bytes``."""
    digest, size = hashlib.sha256(), 0
    with staged.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"upload exceeds the {max_bytes:,}-byte limit")
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise InvalidMedia("the uploaded file is empty")
    return digest.hexdigest(), size


def find_in_source(session: Session, source_id: str, sha256: str) -> Asset | None:
    return session.exec(select(Asset).where(Asset.source_id == source_id,
                                            Asset.sha256 == sha256)).first()


def check_upload_target(session: Session, source_id: str, holder_id: str | None,
                        licence_id: str | None) -> Source:
    """What an upload points at must exist and be live."""
    source = get_or_404(session, Source, source_id, "source")
    if source.retired_at is not None:
        raise Conflict(f"source {source_id} is retired; register a new version instead")
    if holder_id:
        require_live(session, RightsHolder, holder_id, "rights holder")
    if licence_id:
        require_live(session, Licence, licence_id, "licence")
    return source


def register_upload(session: Session, actor: Actor, blobs: LocalBlobStore, settings: Settings,
                    source_id: str, stream: BinaryIO, *, holder_id: str | None = None,
                    licence_id: str | None = None, original_uri: str | None = None) -> Asset:
    check_upload_target(session, source_id, holder_id, licence_id)
    with blobs.staging_file() as staged:
        sha256, size = stage_upload(stream, staged, settings.max_upload_bytes)
        existing = find_in_source(session, source_id, sha256)
        if existing is not None:
            raise DuplicateAsset(existing.id, source_id)
        info = probe(staged, max_pixels=settings.max_image_pixels,
                     max_clip_seconds=settings.max_clip_seconds)
        fingerprints = fingerprint_staged(staged, info, settings)
        credentials = read_content_credentials(staged, info.media_type, settings.c2pa_trust_anchor_pem)
        with blobs.hold(sha256) as mine:  # until the asset citing it is committed
            stored_at = utcnow()
            created_blob = blobs.put(staged, sha256)
            asset = _new_asset(source_id, sha256, size, info, holder_id, licence_id, original_uri,
                               credentials)
            try:
                session.add(asset)
                session.add(fingerprints.record(asset.id))
                commit_change(session, actor, "asset.registered", ENTITY, asset)
            except BaseException as exc:
                # No half-registered content: a blob we just wrote goes when its record fails.
                if created_blob:
                    discard_uncited(session, blobs, sha256, since=stored_at, mine=mine)
                if isinstance(exc, IntegrityError):
                    # the same content uploaded at the same time: the unique key picked one winner
                    winner = find_in_source(session, source_id, sha256)
                    if winner is not None:
                        raise DuplicateAsset(winner.id, source_id) from None
                raise
    return asset


def _new_asset(source_id: str, sha256: str, size: int, info: MediaInfo, holder_id: str | None,
               licence_id: str | None, original_uri: str | None,
               credentials: ContentCredentials) -> Asset:
    return Asset(id=new_id("ast"), source_id=source_id, sha256=sha256, media_type=info.media_type,
                 byte_size=size, width=info.width, height=info.height,
                 duration_s=info.duration_s, frame_count=info.frame_count,
                 original_uri=original_uri, holder_id=holder_id, licence_id=licence_id,
                 **credentials.columns())


def get_asset(session: Session, actor: Actor, asset_id: str) -> Asset:
    asset = get_or_404(session, Asset, asset_id, "asset")
    if session.exec(readable_assets(select(Asset.id).where(Asset.id == asset_id), actor)).first() is None:
        raise NotFound(f"asset {asset_id} does not exist")
    return asset


@retry_on_concurrent_change
def update_asset(session: Session, actor: Actor, asset_id: str, data: AssetUpdate,
                 precondition: Precondition = ANY_VERSION) -> Asset:
    asset = get_or_404(session, Asset, asset_id, "asset")
    changes = data.model_dump(mode="json", exclude_unset=True)
    if changes.get("holder_id"):
        require_live(session, RightsHolder, changes["holder_id"], "rights holder")
    if changes.get("licence_id"):
        require_live(session, Licence, changes["licence_id"], "licence")
    apply_patch(asset, changes, precondition)
    session.add(asset)
    commit_change(session, actor, "asset.updated", ENTITY, asset)
    return asset


@retry_on_concurrent_change
def retire_asset(session: Session, actor: Actor, asset_id: str, reason: str) -> Asset:
    asset = get_or_404(session, Asset, asset_id, "asset")
    retire(session, actor, asset, ENTITY, reason)
    return asset


def list_assets(session: Session, actor: Actor, *, source_id: str | None, holder_id: str | None,
                licence_id: str | None, media_type: str | None, sha256: str | None,
                retired: bool | None, cursor: str | None,
                limit: int) -> tuple[list[Asset], str | None]:
    stmt = readable_assets(select(Asset), actor)
    if source_id:
        stmt = stmt.where(Asset.source_id == source_id)
    if holder_id:
        stmt = stmt.where(holder_assets(holder_id))
    if licence_id:
        stmt = stmt.where(or_(Asset.licence_id == licence_id, and_(
            Asset.licence_id.is_(None),
            Asset.source_id.in_(select(Source.id).where(Source.licence_id == licence_id)))))
    if media_type:
        stmt = stmt.where(Asset.media_type == media_type)
    if sha256:
        stmt = stmt.where(Asset.sha256 == sha256.lower())
    stmt = filter_retired(stmt, Asset, retired)
    return paginate(session, stmt, Asset.id, cursor, limit)
