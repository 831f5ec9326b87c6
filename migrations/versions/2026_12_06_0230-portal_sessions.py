"""portal sessions (browser sign-in with an API key)

Revision ID: 2026_12_06_portal_sessions
Revises: 2026_12_06_one_open_signing_key
Create Date: 2026-12-06 02:30:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import registry.core.models

revision: str = '2026_12_06_portal_sessions'
down_revision: Union[str, None] = '2026_12_06_one_open_signing_key'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "portal_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", registry.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", registry.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_key.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_session_key_id", "portal_session", ["key_id"])
    op.create_index("ix_portal_session_expires_at", "portal_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_session_expires_at", table_name="portal_session")
    op.drop_index("ix_portal_session_key_id", table_name="portal_session")
    op.drop_table("portal_session")
