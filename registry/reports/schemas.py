"""The three reports as documents: what ``format=json`` returns, what ``format=dsse`` signs
(RFC 8785 canonical bytes of the same document), and what CSV and PDF render."""

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

from registry.auditlog.schemas import InclusionProof
from registry.checks.schemas import MatchEvidence, Span
from registry.evaluation.schemas import Obligation, Reason, Use, Verdict

FORMAT_VERSION = 1


class ReportFormat(str, Enum):
    json = "json"
    dsse = "dsse"
    csv = "csv"
    pdf = "pdf"


class MatchBasis(str, Enum):
    works = "works"
    spans = "spans"


class HolderRef(BaseModel):
    id: str
    name: str


class LicenceRef(BaseModel):
    id: str
    identifier: str
    name: str
    url: str | None = None


class WorkRef(BaseModel):
    """A registered work (asset) with who holds it and under which licence."""

    asset_id: str
    sha256: str
    media_type: str
    source_id: str
    source_name: str
    holders: list[HolderRef]
    licence: LicenceRef


class Thumbnail(BaseModel):
    """A frame drawn in the PDF; in JSON it is cited by the SHA-256 of its PNG bytes."""

    media_sha256: str | None = Field(description="The media file the frame comes from")
    time_s: float | None = Field(description="Frame time in that file (null for an image)")
    png_sha256: str | None = Field(description="SHA-256 of the thumbnail PNG; null when the "
                                               "media is not in the registry")
    width: int | None = None
    height: int | None = None
    note: str | None = Field(default=None, description="Why there is no thumbnail")


class EvidenceSpan(BaseModel):
    span: Span | None = Field(description="The aligned clip span; null for an image or frame match")
    generated: Thumbnail
    registered: Thumbnail


class LogProof(BaseModel):
    """An audit-log entry and its inclusion proof against the report's checkpoint."""

    role: str = Field(description="generation, check or manifest")
    entity_id: str
    action: str
    idx: int
    payload: str | None = Field(description="The entry's canonical bytes (base64); leaf hash = "
                                            "SHA-256(0x00 || payload). Withheld from a rights "
                                            "holder for a check that also matched others' works")
    inclusion: InclusionProof


class Checkpoint(BaseModel):
    size: int
    root: str = Field(description="base64 Merkle root")
    note: str = Field(description="C2SP signed checkpoint note")


class GenerationRef(BaseModel):
    id: str
    title: str
    production: str
    model_id: str
    model: str = Field(description="Model name and version")
    intended_use: str
    sha256: str | None = None
    media_type: str | None = None


class EvidenceMatch(MatchEvidence):
    check_id: str
    item_name: str
    checked_at: datetime | None = None
    via: str
    verdict: str
    score: float
    distance: int | None = None
    work: WorkRef
    use: Use
    permitted: Verdict = Field(description="Whether the work's licence permits the generation's "
                                           "intended use")
    reasons: list[Reason]
    obligations: list[Obligation]
    manifest_id: str | None = Field(description="The signed manifest listing the work")
    spans: list[EvidenceSpan]


class CopyrightEvidenceReport(BaseModel):
    report: Literal["copyright_evidence"] = "copyright_evidence"
    format_version: int = FORMAT_VERSION
    generation: GenerationRef
    evaluated_on: date = Field(description="Licences are evaluated as of the day the "
                                           "generation was registered")
    matches: list[EvidenceMatch]
    proofs: list[LogProof]
    checkpoint: Checkpoint


class ClearanceWork(BaseModel):
    work: WorkRef
    generation_ids: list[str]
    check_ids: list[str]
    verdict: Verdict
    reasons: list[Reason]
    obligations: list[Obligation]


class ClearanceTraining(BaseModel):
    model_id: str
    source_id: str
    source_name: str
    weight: Decimal
    verdict: Verdict
    reasons: list[Reason]
    obligations: list[Obligation]


class Blocker(BaseModel):
    code: str
    message: str
    basis: Literal["work", "training"]
    asset_id: str | None = None
    source_id: str | None = None
    model_id: str | None = None
    licence_id: str | None = None


class Fee(BaseModel):
    kind: str = Field(description="flat_fee or royalty")
    text: str
    licence_id: str
    amount: Decimal | None = None
    currency: str | None = None
    basis: Literal["work", "training"]
    source_id: str


class ClearanceReport(BaseModel):
    report: Literal["clearance"] = "clearance"
    format_version: int = FORMAT_VERSION
    generation_id: str | None
    production: str | None
    use: Use
    on: date
    verdict: Literal["cleared", "conditional", "blocked"]
    generations: list[GenerationRef]
    works: list[ClearanceWork]
    training: list[ClearanceTraining]
    credits: list[str] = Field(description="End-credit attribution lines, ready to paste")
    fees: list[Fee]
    other_obligations: list[Obligation]
    blockers: list[Blocker]


class SourceShare(BaseModel):
    source_id: str
    source_name: str
    weight: Decimal
    normalised_weight: str = Field(description="Exact fraction of the training share")
    live_assets: int
    attributable_units: str


class LineSource(BaseModel):
    """share = effective training share x normalised_weight x asset_units / source_units."""

    source_id: str
    weight: Decimal
    normalised_weight: str
    asset_units: str = Field(description="The holder's asset units in the source (exact)")
    source_units: str = Field(description="All attributable asset units in the source")
    share: str = Field(description="Exact fraction of the pool earned through this source")


class StatementLine(BaseModel):
    holder_id: str
    holder_name: str
    sources: list[LineSource]
    matches: str = Field(description="Matched works (or spans) credited to the holder (exact)")
    training_share: str
    match_share: str
    share: str = Field(description="Exact fraction of the pool")
    share_decimal: str = Field(description="The share rounded half-even to 12 places")
    amount: Decimal


class Formula(BaseModel):
    training_share: Decimal
    match_share: Decimal
    match_basis: MatchBasis
    effective_training_share: str
    effective_match_share: str
    description: str
    rounding: str


class ModelRef(BaseModel):
    id: str
    name: str
    version: str
    owner: str


class CompensationStatement(BaseModel):
    report: Literal["compensation_statement"] = "compensation_statement"
    format_version: int = FORMAT_VERSION
    model: ModelRef
    period_start: date
    period_end: date
    pool: Decimal
    currency: str
    minor_unit_exponent: int
    formula: Formula
    sources: list[SourceShare] = Field(description="The model's training sources; a rights "
                                       "holder's key sees those it may read only")
    match_total: str
    line_count: int = Field(description="Lines in the full statement")
    lines: list[StatementLine] = Field(description="A rights holder's key sees only its own line")
    distributed: Decimal = Field(description="Sum of all lines' amounts (equals the pool)")
