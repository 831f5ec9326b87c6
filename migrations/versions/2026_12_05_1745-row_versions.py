"""row versions: every mutable record carries the counter its updates are conditional on

Revision ID: 2026_12_05_row_versions
Revises: 2026_12_03_check_jobs
Create Date: 2026-12-05 17:45:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '2026_12_05_row_versions'
down_revision: Union[str, None] = '2026_12_03_check_jobs'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("rights_holder", "licence", "source", "asset", "ai_model", "generation", "opt_out",
          "claim", "api_key", "signing_key")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("row_version", sa.Integer(), server_default=sa.text("1"),
                                       nullable=False))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("row_version")
