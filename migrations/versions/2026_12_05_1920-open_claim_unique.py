"""open claims unique per holder and target, decided by the database

Revision ID: 2026_12_05_open_claim_unique
Revises: 2026_12_05_checkpoint_chain
Create Date: 2026-12-05 19:20:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '2026_12_05_open_claim_unique'
down_revision: Union[str, None] = '2026_12_05_checkpoint_chain'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN_CLAIM = "status IN ('filed', 'under_review', 'accepted')"


def upgrade() -> None:
    for target in ("generation", "model"):
        where = sa.text(f"{target}_id IS NOT NULL AND {OPEN_CLAIM}")
        op.create_index(f"uq_claim_open_{target}", "claim", ["holder_id", f"{target}_id"],
                        unique=True, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for target in ("model", "generation"):
        op.drop_index(f"uq_claim_open_{target}", table_name="claim")
