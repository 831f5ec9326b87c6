"""Lineage: models trained on source versions, and the media those models generated."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.core.models import Retirable, Timestamps, Versioned


class AIModel(Timestamps, Retirable, Versioned, table=True):
    """A generative model as its owner declares it (``ai_model``: "model" is reserved
    in pydantic and ambiguous in a registry of media)."""

    __tablename__ = "ai_model"
    __table_args__ = (sa.UniqueConstraint("name", "version", name="uq_ai_model_name_version"),)

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=300, index=True)
    version: str = Field(max_length=100)
    owner: str = Field(max_length=300, description="The studio or lab that trained the model")
    description: str | None = Field(default=None, max_length=10_000)
    trained_from: date | None = None
    trained_until: date = Field(description="Last day of training (the training date)")


class ModelSource(SQLModel, table=True):
    """One source version in a model's training mix, pinned by the manifest it was trained on."""

    __tablename__ = "model_source"

    model_id: str = Field(foreign_key="ai_model.id", primary_key=True, max_length=40)
    source_id: str = Field(foreign_key="source.id", primary_key=True, max_length=40, index=True)
    manifest_id: str = Field(foreign_key="manifest.id", max_length=40, index=True)
    manifest_sha256: str = Field(max_length=64, description="Payload digest of that manifest")
    # Share of the training mix; weights need not sum to 1 (they are normalised when used).
    weight: Decimal = Field(sa_type=sa.Numeric(12, 6))


class Generation(Timestamps, Retirable, Versioned, table=True):
    """A generated image or clip: which model made it, for which production."""

    __tablename__ = "generation"

    id: str = Field(primary_key=True, max_length=40)
    model_id: str = Field(foreign_key="ai_model.id", max_length=40, index=True)
    production: str = Field(max_length=300, index=True)
    title: str = Field(max_length=300)
    sha256: str | None = Field(default=None, max_length=64, index=True)
    media_type: str | None = Field(default=None, max_length=100)
    intended_use: str = Field(max_length=60, description="A licence-evaluation use, e.g. "
                              "commercial_release")


class GenerationCheck(SQLModel, table=True):
    """A near-copy check run on a generation (its evidence for clearance and claims)."""

    __tablename__ = "generation_check"

    generation_id: str = Field(foreign_key="generation.id", primary_key=True, max_length=40)
    check_id: str = Field(foreign_key="check_run.id", primary_key=True, max_length=40, index=True)
