from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from registry.core.models import json_field, timestamp_field, utcnow


class Check(SQLModel, table=True):
    """A near-copy check as it was answered: who asked, what (by digest), what matched."""

    __tablename__ = "check_run"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20, description="image, images, clip or fingerprints")
    requested_by: str = Field(max_length=40, index=True)
    verdict: str = Field(max_length=10)
    items: list[dict[str, Any]] = json_field()
    created_at: datetime = timestamp_field(default_factory=utcnow, index=True)
