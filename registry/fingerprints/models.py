from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.core.models import timestamp_field, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class FingerprintSet(SQLModel, table=True):
    """All perceptual fingerprints of one asset, written in the asset's own transaction.

    ``no`` is the asset's integer key inside the indexes (faiss ids, frame ids). ``data``
    holds the image descriptors (JSON) or the per-frame hashes of a clip (NumPy .npz);
    ``phash`` is the image's, or the first informative frame's, imagehash.phash.
    """

    __tablename__ = "fingerprint_set"
    # Numbers are never reused (SQLite too): an index treats a number it knows as loaded.
    __table_args__ = {"sqlite_autoincrement": True}

    no: int | None = Field(default=None, sa_column=sa.Column(_SERIAL, primary_key=True,
                                                              autoincrement=True))
    asset_id: str = Field(foreign_key="asset.id", max_length=40, unique=True)
    kind: str = Field(max_length=10)
    version: int
    phash: int | None = Field(default=None, sa_type=sa.BigInteger)
    frame_count: int = 0
    data: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    created_at: datetime = timestamp_field(default_factory=utcnow, index=True)
