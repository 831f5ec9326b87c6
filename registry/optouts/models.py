from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from registry.core.models import Retirable, Timestamps, Versioned, timestamp_field


class OptOut(Timestamps, Retirable, Versioned, table=True):
    """A rights holder's reservation of a work against AI training (a TDM opt-out), from a date.

    The work is named by content digest, by ``imagehash.phash`` (near copies count), or both;
    withdrawing it is retiring it.
    """

    __tablename__ = "opt_out"

    id: str = Field(primary_key=True, max_length=40)
    holder_id: str = Field(foreign_key="rights_holder.id", max_length=40, index=True)
    sha256: str | None = Field(default=None, max_length=64, index=True)
    phash: int | None = Field(default=None, sa_type=sa.BigInteger, index=True)
    effective_from: datetime = timestamp_field()
    scope: str = Field(max_length=40, default="ai_training")
    note: str | None = Field(default=None, max_length=2000)
