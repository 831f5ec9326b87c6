from datetime import datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.core.models import timestamp_field, utcnow


class JobState(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = (JobState.succeeded.value, JobState.failed.value, JobState.cancelled.value)


class JobPurpose(str, Enum):
    check = "check"  # a near-copy check: the result is a stored check
    lookup = "lookup"  # a rights holder's look-up: the answer only, then the file goes


class CheckJob(SQLModel, table=True):
    """A near-copy check of one long file, worked in the background by whichever worker
    claims it; the uploaded file waits in the blob store under its digest."""

    __tablename__ = "check_job"

    id: str = Field(primary_key=True, max_length=40)
    requested_by: str = Field(max_length=40, index=True)
    requested_role: str = Field(max_length=20)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    media_type: str = Field(max_length=100)
    state: str = Field(default=JobState.queued.value, max_length=10, index=True)
    cancel_requested: bool = False
    frames_done: int = 0
    frames_total: int | None = None
    seconds_done: float = 0.0
    seconds_total: float | None = None
    attempts: int = Field(default=0, description="How many times a worker started it")
    worker: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = timestamp_field(nullable=True, default=None)
    error: str | None = Field(default=None, max_length=2000)
    check_id: str | None = Field(default=None, max_length=40, foreign_key="check_run.id")
    purpose: str = Field(default=JobPurpose.check.value, max_length=10,
                         sa_column_kwargs={"server_default": sa.text("'check'")})
    # A look-up's answer, read by its requester only: [{"item": the check item (not stored as
    # a check), "thumbnail_png": the work's picture, base64}] (its file goes after).
    lookup_items: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    # Whether this job's upload put the file in the blob store: the file goes when the job
    # ends without a stored check that keeps it (checkjobs.service.forget_upload).
    owns_blob: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = timestamp_field(default_factory=utcnow)
    started_at: datetime | None = timestamp_field(nullable=True, default=None)
    finished_at: datetime | None = timestamp_field(nullable=True, default=None)
