"""What the interchange documents say about a source version, gathered once for every format:
the source, its rights holders, the live assets the reader may see, their licences, and the
newest registry-signed manifest."""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from registry.access import licence_of, readable_assets
from registry.assets.models import Asset
from registry.auth.actor import Actor
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.licences.spdx import listed_licence_id
from registry.manifests.models import Manifest
from registry.manifests.service import newest_registry_manifests
from registry.sources.models import Source
from registry.sources.service import get_source, holder_ids_of

_SPDX_LICENSE_PAGE = "https://spdx.org/licenses/{}.html"


@dataclass(frozen=True)
class Links:
    """Where the registry serves what the documents point at (the request's own origin)."""

    base_url: str

    def source(self, source_id: str) -> str:
        return f"{self.base_url}/v1/sources/{source_id}"

    def asset_content(self, asset_id: str) -> str:
        return f"{self.base_url}/v1/assets/{asset_id}/content"

    def envelope(self, manifest_id: str) -> str:
        return f"{self.base_url}/v1/manifests/{manifest_id}/envelope"

    def licence(self, licence_id: str) -> str:
        return f"{self.base_url}/v1/licences/{licence_id}"

    def model(self, model_id: str) -> str:
        return f"{self.base_url}/v1/models/{model_id}"


def licence_url(licence: Licence, links: Links) -> str:
    """The licence's canonical URL: the SPDX page for a listed id, else the URL the licence
    record gives, else the registry's own record of it."""
    spdx_id = listed_licence_id(licence.identifier)
    if spdx_id:
        return _SPDX_LICENSE_PAGE.format(spdx_id)
    return licence.url or links.licence(licence.id)


def acquisition(source: Source) -> str:
    """How and when the source was acquired, as every document words it: "licensed on 2026-03-01"."""
    return source.acquisition_method.replace("_", " ") + (
        f" on {source.acquired_on.isoformat()}" if source.acquired_on else "")


@dataclass
class FileGroup:
    """The reader's live assets of one media type under one licence (a Croissant FileSet)."""

    media_type: str
    licence: Licence
    assets: list[Any]


@dataclass
class SourceFacts:
    source: Source
    licence: Licence
    holders: list[RightsHolder]
    groups: list[FileGroup]
    manifest: Manifest | None

    @property
    def licences(self) -> list[Licence]:
        """The source's licence first, then the others its assets carry, by identifier."""
        others = {g.licence.id: g.licence for g in self.groups if g.licence.id != self.licence.id}
        return [self.licence, *sorted(others.values(), key=lambda lic: lic.identifier)]

    @property
    def asset_count(self) -> int:
        return sum(len(g.assets) for g in self.groups)


def source_facts(session: Session, actor: Actor, source_id: str) -> SourceFacts:
    source = get_source(session, actor, source_id)  # 404 for a source the reader may not read
    # Plain rows, not ORM objects: a source may hold hundreds of thousands of assets.
    rows = session.execute(readable_assets(
        select(Asset.id, Asset.sha256, Asset.media_type, Asset.byte_size, Asset.licence_id,
               Asset.original_uri)
        .where(Asset.source_id == source.id, Asset.retired_at.is_(None)), actor)
        .order_by(Asset.media_type, Asset.id)).all()
    by_group: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in rows:
        by_group[(row.media_type, licence_of(row.licence_id, source.licence_id))].append(row)
    licence_ids = {source.licence_id} | {licence_id for _, licence_id in by_group}
    licences = {lic.id: lic for lic in session.exec(select(Licence).where(Licence.id.in_(licence_ids))).all()}
    holder_ids = holder_ids_of(session, [source.id]).get(source.id, [])
    holders = list(session.exec(select(RightsHolder).where(RightsHolder.id.in_(holder_ids))
                                .order_by(RightsHolder.name, RightsHolder.id)).all())
    manifest = session.exec(newest_registry_manifests([source.id])).first()
    groups = [FileGroup(media_type, licences[licence_id], assets)
              for (media_type, licence_id), assets in sorted(
                  by_group.items(), key=lambda item: (item[0][0], licences[item[0][1]].identifier))]
    return SourceFacts(source=source, licence=licences[source.licence_id], holders=holders,
                       groups=groups, manifest=manifest)
