from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.core.models import timestamp_field, utcnow


class LogHead(SQLModel, table=True):
    """One row holding the log size; updating it serialises appends across API replicas."""

    __tablename__ = "log_head"

    id: int = Field(primary_key=True)
    size: int = Field(default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"})
    # The size of the latest signed checkpoint: deleting that checkpoint's row leaves this
    # pointing at nothing, which ``registry verify-log`` reports.
    checkpoint_size: int | None = Field(default=None, sa_type=sa.BigInteger)


class LogEntry(SQLModel, table=True):
    """An append-only log entry; ``payload`` is the RFC 8785 canonical JSON that is hashed."""

    __tablename__ = "log_entry"

    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    recorded_at: datetime = timestamp_field(default_factory=utcnow)
    actor: str = Field(max_length=40, index=True)
    action: str = Field(max_length=80, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=80, index=True)
    payload: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    leaf_hash: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


class LogNode(SQLModel, table=True):
    """Hash of a perfect Merkle subtree: level 0 are leaves; written once, never changed."""

    __tablename__ = "log_node"

    level: int = Field(sa_column=sa.Column(sa.SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


class LogCheckpoint(SQLModel, table=True):
    """A signed checkpoint the registry published; kept so that later ones can be checked
    against it and the key that signed it stays identifiable."""

    __tablename__ = "log_checkpoint"

    size: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    note: str = Field(sa_type=sa.Text, nullable=False)
    key_id: str = Field(max_length=16)
    # The checkpoint signed before this one (None for the first): the stored checkpoints
    # form a chain, so one deleted from the middle is missed by the next.
    previous_size: int | None = Field(default=None, sa_type=sa.BigInteger)
    signed_at: datetime = timestamp_field(default_factory=utcnow)
