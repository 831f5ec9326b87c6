from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from registry.signals.findings import Finding, Kind, Term

MAX_EVIDENCE_BYTES = 512 * 1024

HeaderName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")]
HeaderValue = Annotated[str, StringConstraints(max_length=8192)]


class SignalCreate(BaseModel):
    """One observation of a site's opt-out signals, as the crawler saw it."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://[^\s]+$",
                     description="What was fetched: the robots.txt, tdmrep.json or ai.txt file, or the "
                                 "resource whose response headers these are")
    observed_at: AwareDatetime = Field(description="When the crawler observed it (with a UTC offset)")
    content: str | None = Field(default=None, description="robots_txt, tdmrep_json, ai_txt: the file's text "
                                                           f"(at most {MAX_EVIDENCE_BYTES} bytes as UTF-8)")
    headers: list[tuple[HeaderName, HeaderValue]] | None = Field(
        default=None, max_length=200, description="http_headers: the response's header fields, [name, value] "
                                                  "in the order received")
    asset_id: str | None = Field(default=None, max_length=40,
                                 description="When the observation is of one work of the source")
    user_agent: str = Field(default="*", max_length=100, pattern=r"^(\*|[A-Za-z_-]+)$",
                            description="The product token of the crawler whose rules apply (RFC 9309)")
    path: str = Field(default="/", max_length=2000, pattern=r"^/[^\s]*$",
                      description="robots_txt, tdmrep_json, ai_txt: the site path the source's content "
                                  "was collected under (default: the whole site)")

    @model_validator(mode="after")
    def _evidence_fits_kind(self) -> "SignalCreate":
        if self.kind is Kind.http_headers:
            if self.headers is None or self.content is not None:
                raise ValueError("an http_headers observation sends headers, not content")
        elif self.content is None or self.headers is not None:
            raise ValueError(f"a {self.kind.value} observation sends the file's text as content, not headers")
        return self


class SignalRead(BaseModel):
    id: str
    source_id: str
    asset_id: str | None
    kind: Kind
    url: str
    user_agent: str
    path: str
    observed_at: datetime
    content: str | None
    headers: list[list[str]] | None
    sha256: str = Field(description="SHA-256 of the evidence: the content as UTF-8, or the headers as "
                                    "RFC 8785 JSON")
    media_types: list[str] = Field(description="The subject's media the mapping judged partial "
                                               "reservations against")
    term: Term
    findings: list[Finding]
    mapping_version: str
    created_at: datetime
    retired_at: datetime | None
    retired_reason: str | None


class SignalEvidence(BaseModel):
    """A snapshot as other records cite it (no raw evidence: its digest)."""

    snapshot_id: str
    source_id: str
    asset_id: str | None
    kind: Kind
    url: str
    observed_at: datetime
    sha256: str
    term: Term
    findings_summary: str
    mapping_version: str
