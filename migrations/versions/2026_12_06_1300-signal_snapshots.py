"""opt-out signal snapshots: what a crawler observed of a source's signals, and its reading

Revision ID: 2026_12_06_signal_snapshots
Revises: 2026_12_06_asset_c2pa
Create Date: 2026-12-06 13:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import registry.core.models

revision: str = '2026_12_06_signal_snapshots'
down_revision: Union[str, None] = '2026_12_06_asset_c2pa'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "signal_snapshot",
        sa.Column("row_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("retired_at", registry.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_reason", sa.String(length=1000), nullable=True),
        sa.Column("retired_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", registry.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", registry.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("asset_id", sa.String(length=40), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("user_agent", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("observed_at", registry.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_types", sa.JSON(), nullable=False),
        sa.Column("term", sa.String(length=20), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("mapping_version", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signal_snapshot_asset_id", "signal_snapshot", ["asset_id"])
    # Evaluation reads a source's newest snapshots as known on a date.
    op.create_index("ix_signal_snapshot_source_observed", "signal_snapshot", ["source_id", "observed_at"])


def downgrade() -> None:
    op.drop_index("ix_signal_snapshot_source_observed", table_name="signal_snapshot")
    op.drop_index("ix_signal_snapshot_asset_id", table_name="signal_snapshot")
    op.drop_table("signal_snapshot")
