"""What the portal's pages show, read through the same services and scope as the API
(``registry/access.py``), a fixed number of queries per page."""

from dataclasses import dataclass

from sqlmodel import Session, select

from registry.access import licence_of
from registry.assets.models import Asset
from registry.assets.service import list_assets
from registry.auth.actor import Actor
from registry.licences.models import Licence
from registry.manifests.models import Manifest
from registry.manifests.service import newest_registry_manifests
from registry.sources.models import Source

WORKS_PER_PAGE = 24


@dataclass(frozen=True)
class WorkRow:
    asset: Asset
    source: Source
    licence: Licence
    manifest: Manifest | None  # the source's newest registry-signed manifest


def works_page(session: Session, actor: Actor, cursor: str | None) -> tuple[list[WorkRow], str | None]:
    """The live assets the actor may read (a rights holder: its works), a page at a time."""
    assets, next_cursor = list_assets(session, actor, source_id=None, holder_id=None, licence_id=None,
                                      media_type=None, sha256=None, retired=False, cursor=cursor,
                                      limit=WORKS_PER_PAGE)
    source_ids = {a.source_id for a in assets}
    sources = {s.id: s for s in session.exec(select(Source).where(Source.id.in_(source_ids))).all()}
    licence_ids = {licence_of(a.licence_id, sources[a.source_id].licence_id) for a in assets}
    licences = {lic.id: lic for lic in session.exec(select(Licence).where(Licence.id.in_(licence_ids))).all()}
    manifests = {m.source_id: m for m in session.exec(newest_registry_manifests(source_ids)).all()}
    rows = [WorkRow(a, sources[a.source_id], licences[licence_of(a.licence_id, sources[a.source_id].licence_id)],
                    manifests.get(a.source_id)) for a in assets]
    return rows, next_cursor
