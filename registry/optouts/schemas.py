from datetime import UTC, date, datetime
from enum import Enum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from registry.fingerprints.records import to_unsigned

PHASH_PATTERN = r"^[0-9a-fA-F]{16}$"


def phash_hex(code: int | None) -> str | None:
    """The stored signed BIGINT as ``str(imagehash.phash(...))`` prints it."""
    return None if code is None else f"{to_unsigned(code):016x}"


class OptOutCreate(BaseModel):
    """A training reservation for one work, named by its digest, its pHash, or both."""

    model_config = ConfigDict(extra="forbid")
    holder_id: str | None = Field(
        default=None, max_length=40,
        description="Whose work; a rights-holder key files for its own holder (omit it), "
                    "an admin names the holder")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$",
                               description="SHA-256 of the work's file")
    phash: str | None = Field(default=None, pattern=PHASH_PATTERN,
                              description="imagehash.phash of the work, 16 hex digits: near "
                                          "copies within 8 bits count as the work")
    effective_from: AwareDatetime = Field(description="When the reservation takes effect "
                                                      "(with a UTC offset)")
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("sha256", "phash")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return None if value is None else value.lower()

    @field_validator("effective_from")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("effective_from is out of range") from None

    @model_validator(mode="after")
    def _names_a_work(self) -> "OptOutCreate":
        if self.sha256 is None and self.phash is None:
            raise ValueError("name the work by sha256, phash or both")
        return self


class OptOutRead(BaseModel):
    id: str
    holder_id: str
    sha256: str | None
    phash: str | None = Field(description="16 hex digits, as imagehash prints it")
    effective_from: datetime
    scope: str
    note: str | None
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None

    @classmethod
    def of(cls, opt_out: object) -> "OptOutRead":
        data = opt_out.model_dump()  # type: ignore[attr-defined]
        return cls(**(data | {"phash": phash_hex(data["phash"])}))


class FlagKind(str, Enum):
    opt_out = "opt_out"
    licence_expired = "licence_expired"


class SourceFlag(BaseModel):
    """A live source holding an opted-out work, or used under a licence that has expired."""

    kind: FlagKind
    source_id: str
    source_name: str
    asset_id: str | None = Field(default=None, description="The opted-out work, or the asset "
                                 "whose own licence expired (null: the source's licence)")
    asset_count: int | None = Field(default=None, description="Assets under the expired "
                                    "asset-level licence (null for other flags)")
    opt_out_id: str | None = None
    holder_id: str | None = Field(default=None, description="Who opted out")
    effective_from: datetime | None = Field(default=None, description="The opt-out's date")
    via: str | None = Field(default=None, description="sha256 (same file), phash (the asset's "
                            "stored pHash), frame (a frame of a registered clip)")
    distance: int | None = Field(default=None, description="pHash Hamming distance in bits")
    reference_time_s: float | None = Field(default=None, description="Matched frame time")
    licence_id: str | None = None
    licence: str | None = None
    valid_until: date | None = Field(default=None, description="The expired licence's end")


class ModelFlag(BaseModel):
    """A live model trained on a flagged source after the opt-out took effect or the
    licence expired."""

    kind: FlagKind
    model_id: str
    model_name: str
    model_version: str
    trained_until: date
    source_id: str
    asset_id: str | None = None
    opt_out_id: str | None = None
    effective_from: datetime | None = None
    licence_id: str | None = None
    valid_until: date | None = None


class FlagsRead(BaseModel):
    on: date = Field(description="Licences that ended before this date are expired")
    phash_radius: int = Field(description="Largest pHash distance (bits of 64) that counts "
                                          "as the opted-out work")
    sources: list[SourceFlag]
    models: list[ModelFlag]
