from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ManifestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    source_id: str
    kind: str = Field(description="registry: signed by the registry; submitted: signed by a holder")
    payload_sha256: str
    asset_root: str = Field(description="RFC 6962 Merkle root (hex) over the asset entries")
    asset_count: int
    key_id: str
    holder_id: str | None
    issued_at: datetime
    created_at: datetime


class ManifestSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    envelope: dict[str, Any] = Field(description="DSSE envelope signed with a key registered "
                                                 "on one of the source's rights holders")


class AssetInclusion(BaseModel):
    manifest_id: str
    asset_root: str
    index: int
    size: int
    entry: dict[str, Any] = Field(description="The asset entry exactly as listed in the manifest")
    proof: list[str] = Field(description="RFC 9162 inclusion proof, base64 SHA-256 hashes")
