"""The provider statement (what only the provider knows) and the training-content summary
document, laid out as the AI Office's template: 1 general information, 2 list of data
sources (2.1 to 2.6), 3 data processing (3.1 to 3.3)."""

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.signals.schemas import SignalEvidence
from registry.sources.schemas import CollectionPeriod, Crawler, ObservedSignal, SourceCategory

TEMPLATE = ("Template for the Public Summary of Training Content for general-purpose AI models "
            "(AI Act Art. 53(1)(d)), annex to the Commission's Explanatory Notice C(2025) 5235 "
            "final of 24 July 2025")


class Modality(str, Enum):
    text = "text"
    image = "image"
    audio = "audio"
    video = "video"
    other = "other"


class SummaryFormat(str, Enum):
    json = "json"
    dsse = "dsse"
    pdf = "pdf"
    md = "md"


_NARRATIVE = 10_000


class StatementIn(BaseModel):
    """The provider's part of the summary; a PUT replaces all of it."""

    model_config = ConfigDict(extra="forbid")
    summary_version: str = Field(min_length=1, max_length=40, description="The summary's version label, "
                                 "e.g. 1.0; printed on every output")
    provider_name: str = Field(min_length=1, max_length=300)
    provider_contact: str = Field(min_length=1, max_length=1000, description="Address, e-mail or web form")
    authorised_representative: str | None = Field(default=None, max_length=1000,
                                                  description="For a provider established outside the EU")
    placed_on_market: date | None = Field(default=None, description="Date the model was placed on the EU market")
    model_dependencies: str | None = Field(default=None, max_length=2000, description="1.2: when the model "
                                           "modifies or fine-tunes another general-purpose AI model, that model "
                                           "and where its summary is published")
    modalities: list[Modality] = Field(default_factory=list, max_length=5,
                                       description="Modalities the provider declares (those found in the "
                                                   "training sources are added)")
    sme: bool = Field(default=False, description="An SME or small mid-cap: top 5% of crawled domains "
                                                 "(at most 1,000) instead of top 10%")
    text_tokens: int | None = Field(default=None, ge=0, description="Text training tokens (the registry "
                                                                    "does not count tokens)")
    content_types: str | None = Field(default=None, max_length=_NARRATIVE, description="1.3: the types of "
                                      "content per modality, e.g. films, TV programmes, photography")
    languages: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=200, description="1.3: languages of the training data")
    other_characteristics: str | None = Field(default=None, max_length=_NARRATIVE, description="1.3")
    crawler_descriptions: str | None = Field(default=None, max_length=_NARRATIVE, description="2.3")
    user_data: str | None = Field(default=None, max_length=_NARRATIVE, description="2.4")
    synthetic_data: str | None = Field(default=None, max_length=_NARRATIVE, description="2.5")
    other_sources: str | None = Field(default=None, max_length=_NARRATIVE, description="2.6")
    code_of_practice_signatory: bool | None = Field(default=None, description="3.1: whether the provider "
                                                    "signed the GPAI Code of Practice (its copyright chapter)")
    tdm_measures: str | None = Field(default=None, max_length=_NARRATIVE, description="3.1, besides the evidence")
    illegal_content: str | None = Field(default=None, max_length=_NARRATIVE, description="3.2")
    other_information: str | None = Field(default=None, max_length=_NARRATIVE, description="3.3")


class StatementRead(StatementIn):
    model_config = ConfigDict(extra="ignore")
    id: str
    model_id: str
    row_version: int
    created_at: datetime
    updated_at: datetime


# -- the summary document ----------------------------------------------------------------
class Provider(BaseModel):
    name: str
    contact: str
    authorised_representative: str | None


class ModelInfo(BaseModel):
    id: str
    name: str
    version: str
    owner: str
    placed_on_market: date | None
    dependencies: str | None = Field(description="The model it modifies or fine-tunes, if any")
    trained_from: date | None
    trained_until: date


class ModalitySize(BaseModel):
    modality: Modality
    used: bool
    declared: bool = Field(description="Declared in the provider statement")
    assets: int = Field(description="Training assets of this modality in the pinned source versions")
    amount: float | None = Field(description="The size in ``unit`` (null when not known)")
    unit: str
    size_bin: str | None = Field(description="The template's size range; null when the size is not known")


class GeneralInformation(BaseModel):
    provider: Provider
    model: ModelInfo
    modalities: list[ModalitySize]
    content_types: str | None
    languages: list[str]
    other_characteristics: str | None
    latest_acquisition: date | None = Field(description="Latest date of data acquisition or collection")


class LicenceInfo(BaseModel):
    id: str
    identifier: str
    name: str
    ai_training: str


class SourceEntry(BaseModel):
    source_id: str
    name: str
    version: str
    category: SourceCategory
    uri: str | None
    manifest_id: str = Field(description="The signed manifest pinning the version trained on")
    manifest_sha256: str
    acquired_on: date | None
    holders: list[str]
    licences: list[LicenceInfo] = Field(description="The source's licence, then assets' own licences")
    assets: int
    bytes: int
    modalities: list[Modality]
    crawler: Crawler | None = None
    collection_period: CollectionPeriod | None = None


class DomainShare(BaseModel):
    domain: str
    bytes: int
    assets: int


class CrawledData(BaseModel):
    sources: list[SourceEntry]
    crawlers: list[Crawler]
    crawler_descriptions: str | None
    collection_period: CollectionPeriod | None
    domain_count: int
    top_domains_rule: str
    top_domains: list[DomainShare]


class OtherData(BaseModel):
    sources: list[SourceEntry]
    description: str | None


class DataSources(BaseModel):
    public_datasets: list[SourceEntry] = Field(description="2.1")
    licensed_from_rights_holders: list[SourceEntry] = Field(description="2.2.1")
    private_third_party: list[SourceEntry] = Field(description="2.2.2")
    crawled: CrawledData = Field(description="2.3")
    user_data: OtherData = Field(description="2.4")
    synthetic: OtherData = Field(description="2.5")
    other: OtherData = Field(description="2.6")


class OptedOutWork(BaseModel):
    opt_out_id: str
    asset_id: str
    effective_from: datetime
    matched_by: str


class TdmEvidence(BaseModel):
    """What the registry holds about a source's text-and-data-mining reservations."""

    source_id: str
    source_name: str
    protocols_checked: list[str] = Field(description="Opt-out protocols observed at acquisition or "
                                                     "recorded as signal snapshots")
    reserved_by: list[str] = Field(description="Protocols whose signal reserved rights")
    observed_signals: list[ObservedSignal]
    signal_snapshots: list[SignalEvidence] = Field(description="Dated observations of the source's "
                                                               "signals, parsed (registry/signals)")
    opted_out_works: list[OptedOutWork] = Field(description="Works of the source that rights holders "
                                                            "reserved through the registry")


class DataProcessing(BaseModel):
    code_of_practice_signatory: bool | None = Field(description="3.1; null: not stated")
    tdm_measures: str | None = Field(description="3.1, the provider's description")
    tdm_evidence: list[TdmEvidence] = Field(description="3.1, per training source")
    illegal_content: str | None = Field(description="3.2")
    other_information: str | None = Field(description="3.3")


class TrainingContentSummary(BaseModel):
    report: Literal["training_content_summary"] = "training_content_summary"
    template: str = TEMPLATE
    summary_version: str
    last_update: date = Field(description="Latest change of the statement, the model or a pinned manifest")
    general: GeneralInformation
    sources: DataSources
    processing: DataProcessing
