from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from registry.core.models import Retirable, Timestamps, Versioned, json_field, timestamp_field


class SignalSnapshot(Timestamps, Retirable, Versioned, table=True):
    """What a crawler observed of a source's (or one of its works') opt-out signals, when,
    and what the registry read it as. Evidence: recorded once, never edited; a snapshot
    recorded in error is retired."""

    __tablename__ = "signal_snapshot"
    __table_args__ = (sa.Index("ix_signal_snapshot_source_observed", "source_id", "observed_at"),)

    id: str = Field(primary_key=True, max_length=40)
    source_id: str = Field(foreign_key="source.id", max_length=40)
    asset_id: str | None = Field(default=None, foreign_key="asset.id", max_length=40, index=True)
    url: str = Field(max_length=2000)
    kind: str = Field(max_length=20)
    user_agent: str = Field(max_length=100)
    path: str = Field(max_length=2000)
    observed_at: datetime = timestamp_field()
    # The evidence as sent: a file's text, or the response's header fields as [name, value].
    content: str | None = Field(default=None, sa_type=sa.Text)
    headers: list[list[str]] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    sha256: str = Field(max_length=64)
    media_types: list[str] = json_field()
    term: str = Field(max_length=20)
    findings: list[dict[str, Any]] = json_field()
    mapping_version: str = Field(max_length=40)
