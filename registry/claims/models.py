from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.core.models import Timestamps, Versioned, json_field, timestamp_field, utcnow

OPEN_CLAIM = "status IN ('filed', 'under_review', 'accepted')"


class Claim(Timestamps, Versioned, table=True):
    """A rights holder's claim: copyright (against a generation) or compensation (against
    a model's training use). Claims are never retired: they end settled or rejected."""

    # One open claim per holder and target, decided by the database: two filings sent at
    # once cannot both pass the service's check.
    __table_args__ = tuple(
        sa.Index(f"uq_claim_open_{target}", "holder_id", f"{target}_id", unique=True,
                 sqlite_where=sa.text(f"{target}_id IS NOT NULL AND {OPEN_CLAIM}"),
                 postgresql_where=sa.text(f"{target}_id IS NOT NULL AND {OPEN_CLAIM}"))
        for target in ("generation", "model"))

    __tablename__ = "claim"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20, index=True)
    holder_id: str = Field(foreign_key="rights_holder.id", max_length=40, index=True)
    generation_id: str | None = Field(default=None, foreign_key="generation.id", max_length=40,
                                      index=True)
    model_id: str | None = Field(default=None, foreign_key="ai_model.id", max_length=40, index=True)
    status: str = Field(max_length=20, index=True)
    statement: str = Field(max_length=10_000)
    evidence: dict[str, Any] = json_field()
    filed_by: str = Field(max_length=40)


class ClaimEvent(SQLModel, table=True):
    """One step of a claim's life: a status change or a comment, with who made it."""

    __tablename__ = "claim_event"

    id: str = Field(primary_key=True, max_length=40)
    claim_id: str = Field(foreign_key="claim.id", max_length=40, index=True)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    comment: str | None = Field(default=None, max_length=10_000)
    actor: str = Field(max_length=40)
    at: datetime = timestamp_field(default_factory=utcnow)
