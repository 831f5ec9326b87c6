"""source categories (the training-content summary's 2.x sections), crawler and collection
period of crawled sources; the per-model provider statement of the training-content summary

Existing sources get their category from their acquisition method, as new sources do when
their creator gives none (registry.sources.schemas.DEFAULT_CATEGORY).

Revision ID: 2026_12_06_training_summary
Revises: 2026_12_06_fingerprint_numbers
Create Date: 2026-12-06 04:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import registry.core.models

revision: str = '2026_12_06_training_summary'
down_revision: Union[str, None] = '2026_12_06_fingerprint_numbers'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Written out rather than imported: a migration must keep meaning what it meant when written.
_BACKFILL = {"web_crawl": "crawled", "user_contributed": "user_data", "licensed": "licensed_from_rights_holders",
             "purchased": "licensed_from_rights_holders", "commissioned": "licensed_from_rights_holders",
             "public_domain": "public_dataset", "open_licence": "public_dataset", "internal": "other"}


def upgrade() -> None:
    op.add_column("source", sa.Column("category", sa.String(length=40), nullable=True))
    op.add_column("source", sa.Column("crawler", sa.JSON(), nullable=True))
    op.add_column("source", sa.Column("collection_period", sa.JSON(), nullable=True))
    source = sa.table("source", sa.column("acquisition_method", sa.String), sa.column("category", sa.String))
    op.execute(source.update().values(category=sa.case(
        *((source.c.acquisition_method == method, category) for method, category in _BACKFILL.items()),
        else_="other")))
    with op.batch_alter_table("source") as batch:
        batch.alter_column("category", existing_type=sa.String(length=40), nullable=False)

    op.create_table(
        "training_summary_statement",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("model_id", sa.String(length=40), nullable=False),
        sa.Column("summary_version", sa.String(length=40), nullable=False),
        sa.Column("provider_name", sa.String(length=300), nullable=False),
        sa.Column("provider_contact", sa.String(length=1000), nullable=False),
        sa.Column("authorised_representative", sa.String(length=1000), nullable=True),
        sa.Column("placed_on_market", sa.Date(), nullable=True),
        sa.Column("model_dependencies", sa.String(length=2000), nullable=True),
        sa.Column("modalities", sa.JSON(), nullable=False),
        sa.Column("sme", sa.Boolean(), nullable=False),
        sa.Column("text_tokens", sa.BigInteger(), nullable=True),
        sa.Column("content_types", sa.String(length=10000), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("other_characteristics", sa.String(length=10000), nullable=True),
        sa.Column("code_of_practice_signatory", sa.Boolean(), nullable=True),
        sa.Column("crawler_descriptions", sa.String(length=10000), nullable=True),
        sa.Column("user_data", sa.String(length=10000), nullable=True),
        sa.Column("synthetic_data", sa.String(length=10000), nullable=True),
        sa.Column("other_sources", sa.String(length=10000), nullable=True),
        sa.Column("tdm_measures", sa.String(length=10000), nullable=True),
        sa.Column("illegal_content", sa.String(length=10000), nullable=True),
        sa.Column("other_information", sa.String(length=10000), nullable=True),
        sa.Column("created_at", registry.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", registry.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["ai_model.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", name="uq_training_summary_statement_model"),
    )


def downgrade() -> None:
    op.drop_table("training_summary_statement")
    with op.batch_alter_table("source") as batch:
        batch.drop_column("collection_period")
        batch.drop_column("crawler")
        batch.drop_column("category")
