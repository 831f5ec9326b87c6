"""look-up jobs: a check job's purpose, a look-up's answer, whether the job owns its blob

Revision ID: 2026_12_06_lookup_jobs
Revises: 2026_12_06_portal_sessions
Create Date: 2026-12-06 03:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '2026_12_06_lookup_jobs'
down_revision: Union[str, None] = '2026_12_06_portal_sessions'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("check_job") as batch:
        batch.add_column(sa.Column("purpose", sa.String(length=10), nullable=False,
                                   server_default=sa.text("'check'")))
        batch.add_column(sa.Column("lookup_items", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("owns_blob", sa.Boolean(), nullable=False, server_default=sa.false()))
    # A finished look-up job removes its file unless a check made since then kept the same
    # content: those checks are found by time, not by scanning every check.
    op.create_index("ix_check_run_created_at", "check_run", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_check_run_created_at", table_name="check_run")
    with op.batch_alter_table("check_job") as batch:
        batch.drop_column("owns_blob")
        batch.drop_column("lookup_items")
        batch.drop_column("purpose")
