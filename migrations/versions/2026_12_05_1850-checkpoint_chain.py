"""checkpoint chain: each signed checkpoint names the one before it, the log head the latest

Revision ID: 2026_12_05_checkpoint_chain
Revises: 2026_12_05_row_versions
Create Date: 2026-12-05 18:50:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '2026_12_05_checkpoint_chain'
down_revision: Union[str, None] = '2026_12_05_row_versions'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("log_checkpoint", sa.Column("previous_size", sa.BigInteger(), nullable=True))
    op.add_column("log_head", sa.Column("checkpoint_size", sa.BigInteger(), nullable=True))
    # Chain the checkpoints already published, in size order.
    bind = op.get_bind()
    sizes = [row[0] for row in bind.execute(sa.text("SELECT size FROM log_checkpoint ORDER BY size"))]
    for previous, size in zip(sizes, sizes[1:]):
        bind.execute(sa.text("UPDATE log_checkpoint SET previous_size = :p WHERE size = :s"),
                     {"p": previous, "s": size})
    if sizes:
        bind.execute(sa.text("UPDATE log_head SET checkpoint_size = :s WHERE id = 1"), {"s": sizes[-1]})


def downgrade() -> None:
    with op.batch_alter_table("log_head") as batch:
        batch.drop_column("checkpoint_size")
    with op.batch_alter_table("log_checkpoint") as batch:
        batch.drop_column("previous_size")
