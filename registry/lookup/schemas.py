from pydantic import BaseModel, Field

from registry.checks.schemas import MatchEvidence, Span, Verdict
from registry.lineage.schemas import GenerationHit, HoldingSource, WorkCopy


class LookupWork(MatchEvidence):
    """A registered asset that is the looked-up work or a near copy of it, and where it went:
    the sources holding that content with their licences, the models trained on those
    sources, and the checked generations that matched it."""

    asset_id: str
    sha256: str
    media_type: str
    holder_ids: list[str] = Field(description="The asset's own holder, else its source's")
    identical: bool = Field(description="Same file as the upload (equal SHA-256)")
    via: str = Field(description="image, frame or clip (as in near-copy checks)")
    verdict: Verdict
    score: float = Field(description="Calibrated similarity in [0, 1]")
    distance: int | None = Field(default=None, description="Best pHash Hamming distance")
    reference_time_s: float | None = None
    spans: list[Span] = Field(default_factory=list)
    copies: list[WorkCopy] = Field(description="Every live asset with the same content")
    sources: list[HoldingSource] = Field(description="Sources holding it, with their licences "
                                                     "and the live models trained on them")
    generations: list[GenerationHit] = Field(description="Generations whose linked checks "
                                                         "matched it or a copy")


class LookupItem(BaseModel):
    name: str
    sha256: str | None = Field(default=None, description="Digest of the uploaded file")
    media_type: str | None = None
    works: list[LookupWork]


class LookupRead(BaseModel):
    scope: str = Field(description="'all', or the rights holder whose works are answered")
    items: list[LookupItem]
