"""The assets domain's errors (problem types of their own, mapped with the rest)."""

from registry.core.errors import Conflict


class DuplicateAsset(Conflict):
    """The same content is already an asset of the source; carries that asset's id."""

    slug, title = "duplicate-asset", "Content already registered in this source"

    def __init__(self, existing_asset_id: str, source_id: str) -> None:
        super().__init__(f"this content is already asset {existing_asset_id} of source {source_id}",
                         existing_asset_id=existing_asset_id)
        self.existing_asset_id = existing_asset_id
