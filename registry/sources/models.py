from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.core.models import Retirable, Timestamps, Versioned, json_field


class SourceHolder(SQLModel, table=True):
    __tablename__ = "source_holder"

    source_id: str = Field(foreign_key="source.id", primary_key=True, max_length=40)
    holder_id: str = Field(foreign_key="rights_holder.id", primary_key=True, max_length=40,
                           index=True)


class Source(Timestamps, Retirable, Versioned, table=True):
    __tablename__ = "source"
    __table_args__ = (sa.UniqueConstraint("name", "version", name="uq_source_name_version"),)

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=300, index=True)
    version: str = Field(max_length=100)
    description: str | None = Field(default=None, max_length=10_000)
    uri: str | None = Field(default=None, max_length=2000)
    media_types: list[str] = json_field()
    licence_id: str = Field(foreign_key="licence.id", max_length=40, index=True)
    supersedes_id: str | None = Field(default=None, foreign_key="source.id", max_length=40)
    acquired_on: date | None = None
    acquisition_method: str = Field(max_length=40)
    # The training-content summary's section (sources.schemas.SourceCategory); a crawled
    # source also names its crawler ({name, purpose}) and collection period ({start, end}).
    category: str = Field(max_length=40)
    crawler: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    collection_period: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    opt_out_signals: list[dict[str, Any]] = json_field()
    eidr: str | None = Field(default=None, max_length=64)
    isan: str | None = Field(default=None, max_length=64)
