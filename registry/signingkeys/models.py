from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from registry.core.models import Versioned, timestamp_field, utcnow


class SigningKeyRecord(Versioned, table=True):
    """One of the registry's Ed25519 keys. The private half is PKCS#8 encrypted with
    REGISTRY_KEY_PASSPHRASE, or (development only) kept in a 0600 file instead."""

    __tablename__ = "signing_key"
    # One open key (no end set) per name: two processes creating the first key, or two
    # rotations, cannot both leave a key open -- the second insert fails.
    __table_args__ = (sa.Index("uq_signing_key_open", "key_name", unique=True,
                               sqlite_where=sa.text("not_after IS NULL"),
                               postgresql_where=sa.text("not_after IS NULL")),)

    id: str = Field(primary_key=True, max_length=16, description="C2SP key id, hex")
    key_name: str = Field(max_length=200)
    public_key: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    encrypted_private_pem: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    private_key_file: str | None = Field(default=None, max_length=1000)
    not_before: datetime = timestamp_field()
    not_after: datetime | None = timestamp_field(nullable=True, default=None)
    created_at: datetime = timestamp_field(default_factory=utcnow)
