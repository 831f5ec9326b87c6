import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from registry.licences.spdx import normalise_expression

WORLDWIDE = "WORLDWIDE"
_ALPHA2 = re.compile(r"^[A-Z]{2}$")


class AiTraining(str, Enum):
    """The C2PA / CAWG training-and-data-mining assertion vocabulary."""

    allowed = "allowed"
    not_allowed = "not_allowed"
    constrained = "constrained"


Territory = Annotated[list[str], Field(min_length=1, max_length=250,
                                       description="ISO 3166-1 alpha-2 codes, or ['WORLDWIDE']")]


def _check_territory(value: list[str]) -> list[str]:
    value = [v.strip().upper() for v in value]
    if WORLDWIDE in value and len(value) > 1:
        raise ValueError("WORLDWIDE cannot be combined with country codes")
    bad = [v for v in value if v != WORLDWIDE and not _ALPHA2.match(v)]
    if bad:
        raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {', '.join(bad)}")
    return sorted(set(value))


class LicenceTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commercial_use: bool
    derivatives: bool
    attribution_required: bool
    share_alike: bool = False
    ai_training: AiTraining
    ai_training_constraint: str | None = Field(default=None, max_length=2000)
    territory: Territory = Field(default_factory=lambda: [WORLDWIDE])
    valid_from: date | None = None
    valid_until: date | None = None
    fee_flat: Decimal | None = Field(default=None, ge=0, le=Decimal("1e15"), decimal_places=2)
    royalty_rate: Decimal | None = Field(default=None, ge=0, le=1, decimal_places=6)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    @field_validator("territory")
    @classmethod
    def _territory(cls, value: list[str]) -> list[str]:
        return _check_territory(value)

    @model_validator(mode="after")
    def _consistent(self) -> "LicenceTerms":
        check_terms(self)
        return self


def check_terms(terms: object) -> None:
    """Cross-field rules, shared by create and by updates merged onto a stored licence."""
    get = lambda name: getattr(terms, name)  # noqa: E731
    if get("ai_training") in (AiTraining.constrained, "constrained") and not get("ai_training_constraint"):
        raise ValueError("ai_training 'constrained' needs ai_training_constraint text")
    if get("valid_from") and get("valid_until") and get("valid_until") < get("valid_from"):
        raise ValueError("valid_until is before valid_from")
    if (get("fee_flat") is not None or get("royalty_rate") is not None) and not get("currency"):
        raise ValueError("fees need a currency (ISO 4217, e.g. EUR)")


class LicenceCreate(LicenceTerms):
    identifier: str = Field(min_length=1, max_length=300,
                            description="SPDX licence id or expression, or 'LicenseRef-…'")
    name: str = Field(min_length=1, max_length=300)
    url: HttpUrl | None = None

    @field_validator("identifier")
    @classmethod
    def _spdx(cls, value: str) -> str:
        return normalise_expression(value)


class LicenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=300)
    url: HttpUrl | None = None
    commercial_use: bool | None = None
    derivatives: bool | None = None
    attribution_required: bool | None = None
    share_alike: bool | None = None
    ai_training: AiTraining | None = None
    ai_training_constraint: str | None = Field(default=None, max_length=2000)
    territory: Territory | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    fee_flat: Decimal | None = Field(default=None, ge=0, le=Decimal("1e15"), decimal_places=2)
    royalty_rate: Decimal | None = Field(default=None, ge=0, le=1, decimal_places=6)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    @field_validator("territory")
    @classmethod
    def _territory(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_territory(value)


class LicenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    identifier: str
    name: str
    url: str | None
    builtin: bool
    commercial_use: bool
    derivatives: bool
    attribution_required: bool
    share_alike: bool
    ai_training: AiTraining
    ai_training_constraint: str | None
    territory: list[str]
    valid_from: date | None
    valid_until: date | None
    fee_flat: Decimal | None
    royalty_rate: Decimal | None
    currency: str | None
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None

    # Stored as NUMERIC(18,2) / NUMERIC(9,6): answer with the stored precision on every backend.
    @field_validator("fee_flat")
    @classmethod
    def _cents(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else value.quantize(Decimal("0.01"))

    @field_validator("royalty_rate")
    @classmethod
    def _rate(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else value.quantize(Decimal("0.000001"))
