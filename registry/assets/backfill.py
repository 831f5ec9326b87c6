"""Fingerprints for assets registered before fingerprinting existed (or whose fingerprint
format changed): read each blob back and store what ingest would have stored."""

from collections.abc import Callable

from sqlmodel import Session, select

from registry.assets.media import probe
from registry.assets.models import Asset
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.errors import RegistryError
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.records import fingerprint_staged


def missing_assets(session: Session) -> list[str]:
    fingerprinted = select(FingerprintSet.asset_id)
    return list(session.exec(select(Asset.id).where(Asset.id.not_in(fingerprinted))
                             .order_by(Asset.id)).all())


def backfill(session: Session, settings: Settings,
             progress: Callable[[int, int], None] | None = None) -> dict[str, str]:
    """Fingerprint every asset that has none; each is committed on its own, so an
    interrupted run resumes where it stopped. Returns the failures by asset id."""
    blobs = LocalBlobStore(settings.effective_blob_dir)
    todo = missing_assets(session)
    failures: dict[str, str] = {}
    for done, asset_id in enumerate(todo, start=1):
        asset = session.get(Asset, asset_id)
        assert asset is not None
        try:
            path = blobs.path(asset.sha256)
            info = probe(path, max_pixels=settings.max_image_pixels,
                         max_clip_seconds=settings.max_clip_seconds)
            session.add(fingerprint_staged(path, info, settings).record(asset.id))
            session.commit()
        except (RegistryError, OSError) as exc:
            session.rollback()
            failures[asset_id] = getattr(exc, "detail", str(exc))
        if progress:
            progress(done, len(todo))
    return failures
