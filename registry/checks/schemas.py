from datetime import datetime
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Verdict(str, Enum):
    copy = "copy"
    similar = "similar"
    clear = "clear"


class Span(BaseModel):
    """Part of the submitted clip that copies part of a registered work."""

    query_start_s: float
    query_end_s: float
    reference_start_s: float
    reference_end_s: float
    offset_s: float = Field(description="reference time = speed x query time + offset")
    speed: float = Field(description="Playback-speed ratio of the copy (reference / query)")
    agreement: float = Field(description="Share of the span's frames that agree")
    matched_frames: int
    mirrored: bool


class Match(BaseModel):
    asset_id: str
    source_id: str
    source_name: str
    holder_ids: list[str]
    licence_id: str
    licence: str = Field(description="SPDX id or LicenseRef of the licence that applies")
    via: str = Field(description="image (image descriptors), frame (a frame of a registered "
                                 "clip), clip (aligned clip spans)")
    distance: int | None = Field(default=None, description="Best pHash Hamming distance")
    reference_time_s: float | None = Field(default=None, description="Matched frame time")
    score: float = Field(description="Calibrated similarity in [0, 1]")
    verdict: Verdict
    spans: list[Span] = Field(default_factory=list)


class CheckItem(BaseModel):
    name: str
    sha256: str | None = Field(default=None, description="Digest of the submitted file")
    media_type: str | None = None
    verdict: Verdict
    matches: list[Match]


class CheckRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    requested_by: str
    verdict: Verdict
    items: list[CheckItem]
    created_at: datetime


class FingerprintQuery(BaseModel):
    """Hashes computed locally with ``imagehash.phash`` (16 hex digits each)."""

    model_config = ConfigDict(extra="forbid")
    phashes: list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16}$")]] = Field(
        min_length=1, max_length=20_000)
    timestamps: list[float] | None = Field(
        default=None, description="Frame times in seconds: the hashes are then one clip's frames")

    @model_validator(mode="after")
    def _consistent(self) -> "FingerprintQuery":
        if self.timestamps is not None:
            if len(self.timestamps) != len(self.phashes):
                raise ValueError("timestamps and phashes must have the same length")
            if any(not 0 <= t < 4_000_000 for t in self.timestamps):
                raise ValueError("timestamps must be seconds in [0, 4e6)")
        return self
