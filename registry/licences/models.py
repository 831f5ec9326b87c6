from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field

from registry.core.models import Retirable, Timestamps, Versioned, json_field


class Licence(Timestamps, Retirable, Versioned, table=True):
    __tablename__ = "licence"

    id: str = Field(primary_key=True, max_length=40)
    identifier: str = Field(max_length=300, index=True)
    name: str = Field(max_length=300)
    url: str | None = Field(default=None, max_length=1000)
    builtin: bool = Field(default=False)

    commercial_use: bool
    derivatives: bool
    attribution_required: bool
    share_alike: bool
    ai_training: str = Field(max_length=20)
    ai_training_constraint: str | None = Field(default=None, max_length=2000)
    territory: list[str] = json_field()
    valid_from: date | None = None
    valid_until: date | None = None

    fee_flat: Decimal | None = Field(default=None, sa_type=sa.Numeric(18, 2))
    royalty_rate: Decimal | None = Field(default=None, sa_type=sa.Numeric(9, 6))
    currency: str | None = Field(default=None, max_length=3)


def grants_training_itself(licence: Licence | None) -> bool:
    """Whether a live licence says more than a work's own constrained training terms (C2PA,
    a crawler's observed signal): it allows AI training, or constrains it with a stated
    constraint. Such terms then count as the licence's obligations, else as not allowed."""
    return licence is not None and licence.retired_at is None and (
        licence.ai_training == "allowed"
        or (licence.ai_training == "constrained" and bool((licence.ai_training_constraint or "").strip())))
