"""Fingerprints for assets registered before fingerprinting existed, or stored in an older
format (clips before their keyframes, which the reframe search needs): read each blob back
and store what ingest stores today."""

from collections.abc import Callable

from sqlmodel import Session, and_, or_, select

from registry.assets.media import probe
from registry.assets.models import Asset
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.errors import RegistryError
from registry.fingerprints.image import FINGERPRINT_VERSION
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.records import VIDEO_FORMAT_VERSION, fingerprint_staged


def missing_assets(session: Session) -> list[str]:
    fingerprinted = select(FingerprintSet.asset_id)
    return list(session.exec(select(Asset.id).where(Asset.id.not_in(fingerprinted))
                             .order_by(Asset.id)).all())


def outdated_assets(session: Session) -> list[str]:
    """Live assets whose stored fingerprints an older format wrote."""
    older = or_(and_(FingerprintSet.kind == "video", FingerprintSet.version < VIDEO_FORMAT_VERSION),
                and_(FingerprintSet.kind == "image", FingerprintSet.version < FINGERPRINT_VERSION))
    return list(session.exec(select(Asset.id).join(FingerprintSet, FingerprintSet.asset_id == Asset.id)
                             .where(older, Asset.retired_at.is_(None)).order_by(Asset.id)).all())


def backfill(session: Session, settings: Settings,
             progress: Callable[[int, int], None] | None = None) -> dict[str, str]:
    """Fingerprint every asset that has none, and again every live one stored in an older
    format. Each asset is committed on its own (an outdated set is replaced in the same
    transaction, under a new index number, so every replica's index picks it up as new), so
    an interrupted run resumes where it stopped. Returns the failures by asset id."""
    blobs = LocalBlobStore(settings.effective_blob_dir)
    todo = missing_assets(session) + outdated_assets(session)
    failures: dict[str, str] = {}
    for done, asset_id in enumerate(todo, start=1):
        asset = session.get(Asset, asset_id)
        assert asset is not None
        try:
            path = blobs.path(asset.sha256)
            info = probe(path, max_pixels=settings.max_image_pixels,
                         max_clip_seconds=settings.max_clip_seconds)
            record = fingerprint_staged(path, info, settings).record(asset.id)
            old = session.exec(select(FingerprintSet).where(FingerprintSet.asset_id == asset.id)).first()
            if old is not None:
                session.delete(old)
                session.flush()  # the asset's one set: the old row goes before the new one comes
            session.add(record)
            session.commit()
        except (RegistryError, OSError) as exc:
            session.rollback()
            failures[asset_id] = getattr(exc, "detail", str(exc))
        if progress:
            progress(done, len(todo))
    return failures
