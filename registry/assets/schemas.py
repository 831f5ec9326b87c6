from datetime import datetime

from pydantic import AnyUrl, BaseModel, ConfigDict, Field


class AssetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    original_uri: AnyUrl | None = None
    holder_id: str | None = Field(default=None, max_length=40,
                                  description="Set when the asset's holder differs from its source's")
    licence_id: str | None = Field(default=None, max_length=40,
                                   description="Set when the asset's licence differs from its source's")


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
