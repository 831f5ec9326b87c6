"""What only the provider knows for a model's training-content summary: who it is, when the
model reached the EU market, and the narrative parts of the template. One row per model,
changed in place (``Versioned``); each change is an audit-log entry."""

from datetime import date

import sqlalchemy as sa
from sqlmodel import Field

from registry.core.models import Timestamps, Versioned, json_field


class TrainingSummaryStatement(Timestamps, Versioned, table=True):
    __tablename__ = "training_summary_statement"
    __table_args__ = (sa.UniqueConstraint("model_id", name="uq_training_summary_statement_model"),)

    id: str = Field(primary_key=True, max_length=40)
    model_id: str = Field(foreign_key="ai_model.id", max_length=40)
    summary_version: str = Field(max_length=40)
    provider_name: str = Field(max_length=300)
    provider_contact: str = Field(max_length=1000)
    authorised_representative: str | None = Field(default=None, max_length=1000)
    placed_on_market: date | None = None
    model_dependencies: str | None = Field(default=None, max_length=2000)
    modalities: list[str] = json_field()
    sme: bool = False
    text_tokens: int | None = Field(default=None, sa_type=sa.BigInteger)
    content_types: str | None = Field(default=None, max_length=10_000)
    languages: list[str] = json_field()
    other_characteristics: str | None = Field(default=None, max_length=10_000)
    code_of_practice_signatory: bool | None = None
    crawler_descriptions: str | None = Field(default=None, max_length=10_000)
    user_data: str | None = Field(default=None, max_length=10_000)
    synthetic_data: str | None = Field(default=None, max_length=10_000)
    other_sources: str | None = Field(default=None, max_length=10_000)
    tdm_measures: str | None = Field(default=None, max_length=10_000)
    illegal_content: str | None = Field(default=None, max_length=10_000)
    other_information: str | None = Field(default=None, max_length=10_000)
