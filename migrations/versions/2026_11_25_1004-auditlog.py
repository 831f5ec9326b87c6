"""merkle log, signing keys, manifests

Revision ID: 2026_11_25_auditlog
Revises: 2026_11_25_foundation
Create Date: 2026-11-25 10:04:23.659152
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.core.models

revision: str = '2026_11_25_auditlog'
down_revision: Union[str, None] = '2026_11_25_foundation'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('log_checkpoint',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('signed_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('size')
    )
    op.create_table('log_node',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx')
    )
    op.create_table('signing_key',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('encrypted_private_pem', sa.LargeBinary(), nullable=True),
    sa.Column('private_key_file', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('not_before', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('not_after', registry.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('manifest',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('payload_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('asset_root', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('asset_count', sa.Integer(), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('holder_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('issued_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['holder_id'], ['rights_holder.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifest_payload_sha256'), ['payload_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_manifest_source_id'), ['source_id'], unique=False)

    # Entries logged before the Merkle tree existed get their nodes now, in index order.
    bind = op.get_bind()
    leaves = [row[0] for row in bind.execute(sa.text("SELECT leaf_hash FROM log_entry ORDER BY idx"))]
    if leaves:
        from registry.auditlog.merkle import append_leaves

        nodes = append_leaves(0, leaves, lambda keys: {})
        log_node = sa.table("log_node", sa.column("level", sa.SmallInteger),
                            sa.column("idx", sa.BigInteger), sa.column("hash", sa.LargeBinary))
        op.bulk_insert(log_node, [{"level": level, "idx": idx, "hash": digest}
                                  for (level, idx), digest in sorted(nodes.items())])


def downgrade() -> None:
    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifest_source_id'))
        batch_op.drop_index(batch_op.f('ix_manifest_payload_sha256'))

    op.drop_table('manifest')
    op.drop_table('signing_key')
    op.drop_table('log_node')
    op.drop_table('log_checkpoint')
