"""Column types and mixins shared by every domain's tables."""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite drops the offset otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: registry timestamps are UTC-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp_field(nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def json_field(nullable: bool = False) -> Any:
    return Field(sa_type=sa.JSON, nullable=nullable)


class Timestamps(SQLModel):
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class Retirable(SQLModel):
    """Nothing is hard-deleted: a retired record keeps its row and says when and why."""

    retired_at: datetime | None = timestamp_field(nullable=True, default=None)
    retired_reason: str | None = Field(default=None, max_length=1000)
    retired_by: str | None = Field(default=None, max_length=64)

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class Versioned(SQLModel):
    """A record that changes after it is created. Every ORM update of it is made
    conditional on the ``row_version`` it was read with (SQLAlchemy's version counter:
    ``UPDATE ... WHERE id = ? AND row_version = ?``), so of two requests that read the same
    state and both change it, the database lets exactly one through; the other's update
    matches no row and is refused (``auditlog.service.commit_change``). It is also the
    record's HTTP ETag (``core/preconditions.py``)."""

    row_version: int = Field(default=1, nullable=False,
                             sa_column_kwargs={"server_default": sa.text("1")})

    @declared_attr  # type: ignore[arg-type]  # a mapper argument, not a mapped attribute
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.row_version}  # type: ignore[attr-defined]
