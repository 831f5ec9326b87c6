"""Lineage request and response bodies: models, generations, and the two lineage walks."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from registry.checks.schemas import Span
from registry.checks.schemas import Verdict as CheckVerdict
from registry.evaluation.schemas import Use

_MEDIA_TYPE = re.compile(r"^(image|video|audio|text|application)/[A-Za-z0-9.+\-*]+$")


# --- models -------------------------------------------------------------------------------

class TrainingSourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source_id: str = Field(max_length=40)
    manifest_id: str | None = Field(
        default=None, max_length=40,
        description="The source version trained on; defaults to the source's latest "
                    "registry-signed manifest")
    # Numeric(12, 6) in the table: the bounds keep every accepted weight storable exactly.
    weight: Decimal = Field(gt=0, max_digits=12, decimal_places=6,
                            description="Share of the training mix (relative; need not sum to 1)")


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300)
    version: str = Field(min_length=1, max_length=100)
    owner: str = Field(min_length=1, max_length=300, description="Studio or lab that trained it")
    description: str | None = Field(default=None, max_length=10_000)
    trained_from: date | None = None
    trained_until: date = Field(description="Last day of training")
    training_sources: list[TrainingSourceIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.trained_from and self.trained_from > self.trained_until:
            raise ValueError("trained_from is after trained_until")
        ids = [s.source_id for s in self.training_sources]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"a source appears more than once in the training mix: "
                             f"{', '.join(duplicates)}")
        return self


class TrainingSourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    source_id: str
    manifest_id: str
    manifest_sha256: str
    weight: Decimal


class ModelRead(BaseModel):
    id: str
    name: str
    version: str
    owner: str
    description: str | None
    trained_from: date | None
    trained_until: date
    training_sources: list[TrainingSourceRead] = Field(
        description="The sources it was trained on; a rights holder's key sees those it may read only")
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None


# --- generations --------------------------------------------------------------------------

class GenerationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_id: str = Field(max_length=40)
    production: str = Field(min_length=1, max_length=300,
                            description="The film, series or campaign it belongs to")
    title: str = Field(min_length=1, max_length=300)
    intended_use: Use = Use.commercial_release
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                               description="Digest of the generated file")
    media_type: str | None = Field(default=None, max_length=100)
    check_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=100,
        description="Near-copy checks run on the generated media")

    @field_validator("media_type")
    @classmethod
    def _media_type(cls, value: str | None) -> str | None:
        if value is not None and not _MEDIA_TYPE.match(value):
            raise ValueError("not a media type (type/subtype)")
        return value

    @field_validator("check_ids")
    @classmethod
    def _check_ids(cls, value: list[str]) -> list[str]:
        return sorted(set(value))  # linking a check twice in one request is linking it once


class CheckLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    check_id: str = Field(max_length=40)


class GenerationRead(BaseModel):
    id: str
    model_id: str
    production: str
    title: str
    intended_use: Use
    sha256: str | None
    media_type: str | None
    check_ids: list[str]
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None


# --- lineage ------------------------------------------------------------------------------

class WorkMatch(BaseModel):
    """One match of a check linked to a generation, as the check recorded it."""

    check_id: str
    item_name: str = Field(description="The checked file (or hash) within the check")
    checked_at: datetime
    asset_id: str
    source_id: str
    source_name: str
    holder_ids: list[str]
    licence_id: str
    licence: str
    via: str
    distance: int | None = None
    reference_time_s: float | None = None
    score: float
    verdict: CheckVerdict
    spans: list[Span]


class GenerationWork(WorkMatch):
    training_source_ids: list[str] = Field(
        description="Sources in the model's training mix that held this work (same sha256) "
                    "when their pinned manifest was signed")


class MixSource(BaseModel):
    """A source in a model's training mix, with the version (manifest) trained on."""

    source_id: str
    name: str
    version: str
    licence_id: str
    licence: str = Field(description="Licence identifier (SPDX id or LicenseRef)")
    holder_ids: list[str]
    weight: Decimal
    manifest_id: str
    manifest_sha256: str
    manifest_issued_at: datetime
    asset_count: int = Field(description="Assets in the pinned manifest")


class GenerationLineage(BaseModel):
    """generation → model → sources (weights, manifests) → works its checks matched."""

    generation: GenerationRead
    model: ModelRead
    sources: list[MixSource]
    works: list[GenerationWork]


class WorkCopy(BaseModel):
    """The same work (same sha256) registered in one source."""

    asset_id: str
    source_id: str
    holder_ids: list[str] = Field(description="The asset's own holder, else its source's")
    licence_id: str = Field(description="The asset's own licence, else its source's")
    licence: str
    retired: bool


class TrainedModel(BaseModel):
    model_id: str
    name: str
    version: str
    owner: str
    trained_from: date | None
    trained_until: date
    weight: Decimal
    manifest_id: str
    manifest_sha256: str


class HoldingSource(BaseModel):
    source_id: str
    name: str
    version: str
    licence_id: str
    licence: str
    holder_ids: list[str]
    asset_ids: list[str] = Field(description="Its assets that are this work")
    models: list[TrainedModel] = Field(description="Live models trained on this source")


class GenerationHit(BaseModel):
    """A generation whose linked check matched the work."""

    generation_id: str
    model_id: str
    production: str
    title: str
    intended_use: Use
    check_id: str
    item_name: str
    checked_at: datetime
    asset_id: str
    via: str
    verdict: CheckVerdict
    score: float
    distance: int | None = None
    spans: list[Span]


class AssetLineage(BaseModel):
    """work → sources holding it → models trained on them → generations that matched it."""

    asset_id: str
    sha256: str
    media_type: str
    copies: list[WorkCopy]
    sources: list[HoldingSource]
    generations: list[GenerationHit]
