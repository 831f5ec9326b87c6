import sqlalchemy as sa
from sqlmodel import Field

from registry.core.models import Retirable, Timestamps, Versioned


class Asset(Timestamps, Retirable, Versioned, table=True):
    __tablename__ = "asset"
    __table_args__ = (sa.UniqueConstraint("source_id", "sha256", name="uq_asset_source_sha256"),)

    id: str = Field(primary_key=True, max_length=40)
    source_id: str = Field(foreign_key="source.id", max_length=40, index=True)
    sha256: str = Field(max_length=64, index=True)
    media_type: str = Field(max_length=100, index=True)
    byte_size: int = Field(sa_type=sa.BigInteger)
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    frame_count: int | None = None
    original_uri: str | None = Field(default=None, max_length=2000)
    # Set only when the asset's holder or licence differs from its source's.
    holder_id: str | None = Field(default=None, foreign_key="rights_holder.id", max_length=40,
                                  index=True)
    licence_id: str | None = Field(default=None, foreign_key="licence.id", max_length=40,
                                   index=True)
