from datetime import date
from decimal import Decimal
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class Use(str, Enum):
    """The uses a licence is evaluated for (see README, "Licence evaluation")."""

    noncommercial_research = "noncommercial_research"
    commercial_training = "commercial_training"
    commercial_release = "commercial_release"


class Verdict(str, Enum):
    allowed = "allowed"
    conditional = "conditional"
    denied = "denied"


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source_ids: list[str] = Field(min_length=1, max_length=500)
    use: Use
    territory: str | None = Field(default=None, pattern=r"^[A-Z]{2}$",
                                  description="ISO 3166-1 alpha-2 country of use")
    on: date | None = Field(default=None, description="Date of use; defaults to today (UTC)")


class Reason(BaseModel):
    code: str
    message: str
    licence_id: str | None = None
    opt_out_id: str | None = Field(default=None, description="For opted_out: the opt-out")
    asset_id: str | None = Field(default=None, description="For opted_out: the opted-out work; for "
                                 "tdm_reservation and tdm_constrained: the work observed (if one work was); for "
                                 "c2pa_training_*: the work whose C2PA manifest says so")
    signal_id: str | None = Field(default=None, description="For tdm_reservation and tdm_constrained: the "
                                                             "signal snapshot")


class Obligation(BaseModel):
    kind: str = Field(description="attribution, share_alike, training_constraint, flat_fee, royalty")
    text: str
    licence_id: str
    amount: Decimal | None = None
    currency: str | None = None


class SourceEvaluation(BaseModel):
    source_id: str
    verdict: Verdict
    licence_ids: list[str]
    reasons: list[Reason]
    obligations: list[Obligation]


class EvaluationResult(BaseModel):
    use: Use
    on: date
    territory: str | None
    verdict: Verdict
    sources: list[SourceEvaluation]
    reasons: list[Reason]
    obligations: list[Obligation]
