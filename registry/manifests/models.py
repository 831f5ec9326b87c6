from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.core.models import timestamp_field, utcnow


class Manifest(SQLModel, table=True):
    """A signed manifest of one source version, kept byte for byte as it was signed."""

    __tablename__ = "manifest"

    id: str = Field(primary_key=True, max_length=40)
    source_id: str = Field(foreign_key="source.id", max_length=40, index=True)
    kind: str = Field(max_length=20, description="registry (signed here) or submitted")
    payload_sha256: str = Field(max_length=64, index=True)
    asset_root: str = Field(max_length=64)
    asset_count: int
    envelope: str = Field(sa_type=sa.Text)
    key_id: str = Field(max_length=64)
    holder_id: str | None = Field(default=None, foreign_key="rights_holder.id", max_length=40)
    issued_at: datetime = timestamp_field()
    created_at: datetime = timestamp_field(default_factory=utcnow)
