"""foundation

Revision ID: 2026_11_25_foundation
Revises:
Create Date: 2026-11-25 09:26:23.225523
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import registry.core.models

revision: str = '2026_11_25_foundation'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('licence',
    sa.Column('retired_at', registry.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('retired_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('identifier', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('builtin', sa.Boolean(), nullable=False),
    sa.Column('commercial_use', sa.Boolean(), nullable=False),
    sa.Column('derivatives', sa.Boolean(), nullable=False),
    sa.Column('attribution_required', sa.Boolean(), nullable=False),
    sa.Column('share_alike', sa.Boolean(), nullable=False),
    sa.Column('ai_training', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('ai_training_constraint', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('territory', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('fee_flat', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('royalty_rate', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('licence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licence_identifier'), ['identifier'], unique=False)

    op.create_table('log_entry',
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('recorded_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('entity_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('idx')
    )
    with op.batch_alter_table('log_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_entry_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_log_entry_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_log_entry_entity_id'), ['entity_id'], unique=False)

    op.create_table('log_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The log's single head row: appends increment it, which serialises them.
    log_head = sa.table('log_head', sa.column('id', sa.Integer), sa.column('size', sa.BigInteger))
    op.bulk_insert(log_head, [{'id': 1, 'size': 0}])
    op.create_table('rights_holder',
    sa.Column('retired_at', registry.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('retired_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('contact', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('identifiers', sa.JSON(), nullable=False),
    sa.Column('public_keys', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rights_holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_holder_name'), ['name'], unique=False)

    op.create_table('api_key',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('holder_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('revoked_at', registry.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['holder_id'], ['rights_holder.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('source',
    sa.Column('retired_at', registry.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('retired_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=True),
    sa.Column('uri', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('media_types', sa.JSON(), nullable=False),
    sa.Column('licence_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('supersedes_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('acquired_on', sa.Date(), nullable=True),
    sa.Column('acquisition_method', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('opt_out_signals', sa.JSON(), nullable=False),
    sa.Column('eidr', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('isan', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['licence_id'], ['licence.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version', name='uq_source_name_version')
    )
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_licence_id'), ['licence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_name'), ['name'], unique=False)

    op.create_table('asset',
    sa.Column('retired_at', registry.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('retired_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('retired_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', registry.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('media_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('byte_size', sa.BigInteger(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('frame_count', sa.Integer(), nullable=True),
    sa.Column('original_uri', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('holder_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('licence_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['holder_id'], ['rights_holder.id'], ),
    sa.ForeignKeyConstraint(['licence_id'], ['licence.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id', 'sha256', name='uq_asset_source_sha256')
    )
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_licence_id'), ['licence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_media_type'), ['media_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_source_id'), ['source_id'], unique=False)

    op.create_table('source_holder',
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('holder_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['holder_id'], ['rights_holder.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('source_id', 'holder_id')
    )
    with op.batch_alter_table('source_holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_holder_holder_id'), ['holder_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('source_holder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_holder_holder_id'))

    op.drop_table('source_holder')
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_source_id'))
        batch_op.drop_index(batch_op.f('ix_asset_sha256'))
        batch_op.drop_index(batch_op.f('ix_asset_media_type'))
        batch_op.drop_index(batch_op.f('ix_asset_licence_id'))
        batch_op.drop_index(batch_op.f('ix_asset_holder_id'))

    op.drop_table('asset')
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_name'))
        batch_op.drop_index(batch_op.f('ix_source_licence_id'))

    op.drop_table('source')
    op.drop_table('api_key')
    with op.batch_alter_table('rights_holder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rights_holder_name'))

    op.drop_table('rights_holder')
    op.drop_table('log_head')
    with op.batch_alter_table('log_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_entry_entity_id'))
        batch_op.drop_index(batch_op.f('ix_log_entry_actor'))
        batch_op.drop_index(batch_op.f('ix_log_entry_action'))

    op.drop_table('log_entry')
    with op.batch_alter_table('licence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licence_identifier'))

    op.drop_table('licence')
