"""fingerprint set numbers never reused on SQLite (AUTOINCREMENT)

The indexes number fingerprint sets by ``no`` and treat a number they know as loaded. SQLite
without AUTOINCREMENT hands out max(rowid) + 1, so a set replaced by `registry index
backfill` (the old row deleted, a new one inserted) could come back under the old number and
never be loaded. PostgreSQL's identity sequence never reuses a number.

Revision ID: 2026_12_06_fingerprint_numbers
Revises: 2026_12_06_lookup_jobs
Create Date: 2026-12-06 03:20:00
"""
from typing import Sequence, Union

from alembic import op

revision: str = '2026_12_06_fingerprint_numbers'
down_revision: Union[str, None] = '2026_12_06_lookup_jobs'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("fingerprint_set", recreate="always",
                              table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
