from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from registry.core.models import Timestamps, Versioned, json_field, timestamp_field, utcnow


class Claim(Timestamps, Versioned, table=True):
    """A rights holder's claim: copyright (against a generation) or compensation (against
    a model's training use). Claims are never retired: they end settled or rejected."""

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
