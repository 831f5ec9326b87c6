from datetime import datetime
from typing import Literal

from pydantic import AnyUrl, BaseModel, ConfigDict, Field


class AssetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    original_uri: AnyUrl | None = None
    holder_id: str | None = Field(default=None, max_length=40,
                                  description="Set when the asset's holder differs from its source's")
    licence_id: str | None = Field(default=None, max_length=40,
                                   description="Set when the asset's licence differs from its source's")


class C2paTerm(BaseModel):
    entry: str = Field(description="e.g. cawg.ai_training, cawg.ai_generative_training, cawg.ai_inference, "
                                   "cawg.data_mining (or the older c2pa.* names)")
    use: Literal["allowed", "notAllowed", "constrained"]
    constraint_info: str | None


class AssetC2pa(BaseModel):
    """The Content Credentials (C2PA) embedded in the file, as read offline at ingest."""
    state: Literal["none", "valid", "invalid", "unverified"] = Field(
        description="none: no manifest; valid: signature and hashes check; invalid: tampered or "
                    "corrupt; unverified: the manifest is kept at a URL the registry does not fetch "
                    "(the assertions of invalid and unverified manifests are not imported)")
    trusted: bool = Field(description="The signer chains to one of the registry's C2PA trust anchors")
    manifest_label: str | None = Field(description="The active manifest's label")
    claim_generator: str | None
    signer_issuer: str | None = Field(description="The signing certificate's issuer organisation")
    signer_name: str | None = Field(description="The signing certificate's common name")
    ai_training: Literal["allowed", "not_allowed", "constrained"] | None = Field(
        description="The strictest AI-training term of the manifest's training-mining assertions")
    training_terms: list[C2paTerm]
    detail: str | None = Field(description="Why the manifest is invalid or unverified")


class AssetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    source_id: str
    sha256: str
    media_type: str
    byte_size: int
    width: int | None
    height: int | None
    duration_s: float | None
    frame_count: int | None
    original_uri: str | None
    holder_id: str | None
    licence_id: str | None
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None
    c2pa: AssetC2pa | None = Field(description="Content Credentials read at ingest; null for an asset "
                                               "registered before the registry read them")
