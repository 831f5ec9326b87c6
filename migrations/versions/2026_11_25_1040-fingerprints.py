"""fingerprints and checks

Revision ID: 2026_11_25_fingerprints
Revises: 2026_11_25_auditlog
Create Date: 2026-11-25 10:18:43.604467
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.core.models

revision: str = '2026_11_25_fingerprints'
down_revision: Union[str, None] = '2026_11_25_auditlog'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('check_run',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('check_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_run_requested_by'), ['requested_by'], unique=False)

    op.create_table('fingerprint_set',
    sa.Column('no', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('asset_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('phash', sa.BigInteger(), nullable=True),
    sa.Column('frame_count', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ),
    sa.PrimaryKeyConstraint('no'),
    sa.UniqueConstraint('asset_id')
    )
    with op.batch_alter_table('fingerprint_set', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fingerprint_set_created_at'), ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('fingerprint_set', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fingerprint_set_created_at'))

    op.drop_table('fingerprint_set')
    with op.batch_alter_table('check_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_run_requested_by'))

    op.drop_table('check_run')
