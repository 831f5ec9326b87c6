"""at most one open signing key per key name, decided by the database

Revision ID: 2026_12_06_one_open_signing_key
Revises: 2026_12_05_open_claim_unique
Create Date: 2026-12-06 02:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '2026_12_06_one_open_signing_key'
down_revision: Union[str, None] = '2026_12_05_open_claim_unique'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = sa.text("not_after IS NULL")


def upgrade() -> None:
    op.create_index("uq_signing_key_open", "signing_key", ["key_name"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("uq_signing_key_open", table_name="signing_key")
