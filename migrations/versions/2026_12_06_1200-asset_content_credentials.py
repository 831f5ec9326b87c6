"""assets: the Content Credentials (C2PA) read at ingest and the training terms they carry

Assets registered before have no reading (c2pa_state NULL), not "none": nobody looked.

Revision ID: 2026_12_06_asset_c2pa
Revises: 2026_12_06_training_summary
Create Date: 2026-12-06 12:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '2026_12_06_asset_c2pa'
down_revision: Union[str, None] = '2026_12_06_training_summary'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TEXT = ("c2pa_manifest_label", "c2pa_claim_generator", "c2pa_signer_issuer", "c2pa_signer_name")


def upgrade() -> None:
    with op.batch_alter_table("asset") as batch:
        batch.add_column(sa.Column("c2pa_state", sqlmodel.sql.sqltypes.AutoString(length=10),
                                   nullable=True))
        batch.add_column(sa.Column("c2pa_trusted", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        for name in _TEXT:
            batch.add_column(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=2000),
                                       nullable=True))
        batch.add_column(sa.Column("c2pa_terms", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("c2pa_ai_training", sqlmodel.sql.sqltypes.AutoString(length=20),
                                   nullable=True))
        batch.add_column(sa.Column("c2pa_detail", sqlmodel.sql.sqltypes.AutoString(length=2000),
                                   nullable=True))
        batch.create_index("ix_asset_c2pa_ai_training", ["c2pa_ai_training"])


def downgrade() -> None:
    with op.batch_alter_table("asset") as batch:
        batch.drop_index("ix_asset_c2pa_ai_training")
        for name in ("c2pa_detail", "c2pa_ai_training", "c2pa_terms", *reversed(_TEXT),
                     "c2pa_trusted", "c2pa_state"):
            batch.drop_column(name)
