import re
from datetime import date, datetime
from enum import Enum
from typing import Annotated

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from registry.core import identifiers

_MEDIA_TYPE = re.compile(r"^(image|video|audio|text|application)/[A-Za-z0-9.+\-*]+$")


class AcquisitionMethod(str, Enum):
    licensed = "licensed"
    purchased = "purchased"
    commissioned = "commissioned"
    public_domain = "public_domain"
    open_licence = "open_licence"
    web_crawl = "web_crawl"
    user_contributed = "user_contributed"
    internal = "internal"


class SourceCategory(str, Enum):
    """Where the content came from, in the terms of the AI Office's training-content summary
    template (sections 2.1 to 2.6)."""

    public_dataset = "public_dataset"
    licensed_from_rights_holders = "licensed_from_rights_holders"
    private_third_party = "private_third_party"
    crawled = "crawled"
    user_data = "user_data"
    synthetic = "synthetic"
    other = "other"


# A source's category when its creator does not give one (and the backfill of older sources).
DEFAULT_CATEGORY = {
    AcquisitionMethod.web_crawl: SourceCategory.crawled,
    AcquisitionMethod.user_contributed: SourceCategory.user_data,
    AcquisitionMethod.licensed: SourceCategory.licensed_from_rights_holders,
    AcquisitionMethod.purchased: SourceCategory.licensed_from_rights_holders,
    AcquisitionMethod.commissioned: SourceCategory.licensed_from_rights_holders,
    AcquisitionMethod.public_domain: SourceCategory.public_dataset,
    AcquisitionMethod.open_licence: SourceCategory.public_dataset,
    AcquisitionMethod.internal: SourceCategory.other,
}


class Crawler(BaseModel):
    """The crawler that collected a crawled source."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="Its user-agent token, e.g. ExampleBot")
    purpose: str = Field(default="", max_length=2000, description="What it collected content for")


class CollectionPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: date
    end: date | None = Field(default=None, description="Null while collection goes on")

    @model_validator(mode="after")
    def _ordered(self) -> "CollectionPeriod":
        if self.end is not None and self.end < self.start:
            raise ValueError("the collection period ends before it starts")
        return self


def check_crawl_fields(category: SourceCategory, crawler: object, period: object) -> str | None:
    """Why the crawl fields do not fit the category (None when they do)."""
    if category is not SourceCategory.crawled and (crawler is not None or period is not None):
        return "crawler and collection_period describe crawled sources only (category 'crawled')"
    return None


class OptOutSignal(str, Enum):
    """Machine-readable text-and-data-mining reservations a crawler can observe."""

    robots_txt = "robots_txt"
    tdmrep = "tdmrep"
    ai_txt = "ai_txt"
    c2pa = "c2pa"


class ObservedSignal(BaseModel):
    """A recorded fact: what was observed at acquisition, not an interpretation."""

    model_config = ConfigDict(extra="forbid")
    signal: OptOutSignal
    reserved: bool = Field(description="True when the signal reserved rights against TDM/AI use")
    detail: str = Field(default="", max_length=2000,
                        description="e.g. the robots.txt line or TDMRep policy URL seen")
    observed_on: date | None = None


MediaTypes = Annotated[list[str], Field(min_length=1, max_length=20)]


def _check_media_types(value: list[str]) -> list[str]:
    bad = [v for v in value if not _MEDIA_TYPE.match(v)]
    if bad:
        raise ValueError(f"not media types (type/subtype): {', '.join(bad)}")
    return sorted(set(value))


def _check_eidr(value: str | None) -> str | None:
    return None if value is None else identifiers.normalise_eidr(value)


def _check_isan(value: str | None) -> str | None:
    return None if value is None else identifiers.normalise_isan(value)


class _SourceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("media_types", check_fields=False)
    @classmethod
    def _media_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_media_types(value)

    @field_validator("eidr", check_fields=False)
    @classmethod
    def _eidr(cls, value: str | None) -> str | None:
        return _check_eidr(value)

    @field_validator("isan", check_fields=False)
    @classmethod
    def _isan(cls, value: str | None) -> str | None:
        return _check_isan(value)


class SourceCreate(_SourceFields):
    name: str = Field(min_length=1, max_length=300)
    version: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=10_000)
    uri: AnyUrl | None = None
    media_types: MediaTypes
    holder_ids: list[str] = Field(min_length=1, max_length=50)
    licence_id: str = Field(max_length=40)
    supersedes_id: str | None = Field(default=None, max_length=40)
    acquired_on: date | None = None
    acquisition_method: AcquisitionMethod
    category: SourceCategory | None = Field(default=None, description="Defaults from acquisition_method "
                                            "(web_crawl: crawled; licensed, purchased, commissioned: "
                                            "licensed_from_rights_holders; public_domain, open_licence: "
                                            "public_dataset; user_contributed: user_data; internal: other)")
    crawler: Crawler | None = None
    collection_period: CollectionPeriod | None = None
    opt_out_signals: list[ObservedSignal] = Field(default_factory=list, max_length=50)
    eidr: str | None = Field(default=None, max_length=64)
    isan: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _category(self) -> "SourceCreate":
        if self.category is None:
            self.category = DEFAULT_CATEGORY[self.acquisition_method]
        problem = check_crawl_fields(self.category, self.crawler, self.collection_period)
        if problem:
            raise ValueError(problem)
        return self


class SourceUpdate(_SourceFields):
    description: str | None = Field(default=None, max_length=10_000)
    uri: AnyUrl | None = None
    media_types: MediaTypes | None = None
    holder_ids: list[str] | None = Field(default=None, min_length=1, max_length=50)
    licence_id: str | None = Field(default=None, max_length=40)
    acquired_on: date | None = None
    acquisition_method: AcquisitionMethod | None = None
    category: SourceCategory | None = None
    crawler: Crawler | None = None
    collection_period: CollectionPeriod | None = None
    opt_out_signals: list[ObservedSignal] | None = Field(default=None, max_length=50)
    eidr: str | None = Field(default=None, max_length=64)
    isan: str | None = Field(default=None, max_length=64)


class SourceRead(BaseModel):
    id: str
    name: str
    version: str
    description: str | None
    uri: str | None
    media_types: list[str]
    holder_ids: list[str]
    licence_id: str
    supersedes_id: str | None
    acquired_on: date | None
    acquisition_method: AcquisitionMethod
    category: SourceCategory
    crawler: Crawler | None
    collection_period: CollectionPeriod | None
    opt_out_signals: list[ObservedSignal]
    eidr: str | None
    isan: str | None
    asset_count: int
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None
