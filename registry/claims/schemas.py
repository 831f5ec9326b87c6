"""Claims on the wire, and the evidence a claim carries.

The evidence is stored with the claim as it was collected at filing (a court needs what the
registry said then, not what it says after later changes) and is shaped so that each part
checks offline: log proofs with ``registry.auditlog.client.check_entry`` (add the evidence's
``checkpoint``), manifests with ``registry verify``, asset proofs with
``registry verify --asset-proof``.
"""

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from registry.auditlog.schemas import InclusionProof
from registry.manifests.schemas import AssetInclusion


class ClaimKind(str, Enum):
    copyright = "copyright"
    compensation = "compensation"


class ClaimStatus(str, Enum):
    filed = "filed"
    under_review = "under_review"
    accepted = "accepted"
    rejected = "rejected"
    settled = "settled"


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ClaimKind
    generation_id: str | None = Field(default=None, max_length=40,
                                      description="The generation a copyright claim is against")
    model_id: str | None = Field(default=None, max_length=40,
                                 description="The model a compensation claim is against")
    statement: str = Field(min_length=1, max_length=10_000,
                           description="The claimant's statement of the claim")
    holder_id: str | None = Field(default=None, max_length=40,
                                  description="Admins file on behalf of this rights holder; "
                                              "a rights holder's key files for its own holder")

    @model_validator(mode="after")
    def _one_target(self) -> "ClaimCreate":
        if self.kind is ClaimKind.copyright and (self.generation_id is None or self.model_id):
            raise ValueError("a copyright claim names a generation_id (and no model_id)")
        if self.kind is ClaimKind.compensation and (self.model_id is None or self.generation_id):
            raise ValueError("a compensation claim names a model_id (and no generation_id)")
        return self


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: ClaimStatus
    comment: str | None = Field(default=None, min_length=1, max_length=10_000)


class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=10_000)


class ClaimEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    claim_id: str
    from_status: ClaimStatus | None = Field(description="None for the filing itself")
    to_status: ClaimStatus = Field(description="Equals from_status for a comment")
    comment: str | None
    actor: str = Field(description="The API key that made the step")
    at: datetime


# --- evidence -------------------------------------------------------------------------------


class LogProof(BaseModel):
    """One audit-log entry proven against the evidence's checkpoint: the exact leaf bytes and
    an RFC 9162 inclusion proof (verify with ``check_entry({**proof, "checkpoint": ...})``)."""

    idx: int
    entity_type: str
    entity_id: str
    action: str
    payload: str | None = Field(description="The canonical (RFC 8785) entry bytes, base64; null "
                                "for a rights holder's key when the entry names works or "
                                "sources outside its scope (the inclusion proof stays)")
    inclusion: InclusionProof


class ManifestEvidence(BaseModel):
    manifest_id: str
    source_id: str
    kind: str = Field(description="registry (signed here) or submitted (signed by a holder)")
    payload_sha256: str
    asset_root: str
    asset_count: int
    key_id: str
    issued_at: datetime
    envelope_url: str = Field(description="Where to download the DSSE envelope for "
                                          "``registry verify``")
    log: LogProof | None = Field(description="The manifest's log entry (None only for a "
                                             "manifest older than the log)")


class CheckEvidence(BaseModel):
    check_id: str
    log: LogProof | None


class MatchEvidence(BaseModel):
    """A match of a check on one of the claimant's works, as the check stored it."""

    check_id: str
    item_name: str | None = None
    asset_id: str
    source_id: str
    verdict: str
    score: float | None = None
    match: dict[str, Any] = Field(description="The match exactly as the check recorded it "
                                              "(distance, spans, licence, ...)")
    manifest_id: str | None = Field(description="A registry manifest listing the asset; None "
                                                "when the asset is in no signed manifest yet")
    asset_proof: AssetInclusion | None = Field(description="Merkle proof of the asset in that "
                                                           "manifest")


class TargetLog(BaseModel):
    entity_id: str
    log: LogProof | None


class CopyrightEvidence(BaseModel):
    kind: Literal["copyright"] = "copyright"
    collected_at: datetime
    checkpoint: str = Field(description="C2SP signed checkpoint note every log proof leads to")
    tree_size: int
    generation: dict[str, Any] = Field(description="The generation as registered")
    generation_log: TargetLog
    matches: list[MatchEvidence]
    checks: list[CheckEvidence]
    manifests: list[ManifestEvidence]


class TrainingSourceEvidence(BaseModel):
    source_id: str
    manifest_id: str = Field(description="The manifest pinned in the training mix")
    manifest_sha256: str
    weight: str = Field(description="Decimal weight in the training mix")
    holder_asset_count: int = Field(description="The claimant's works listed in that manifest")
    asset_ids: list[str] = Field(description="Those works (at most MAX_LISTED)")
    asset_proofs: list[AssetInclusion] = Field(description="Merkle proofs of the first "
                                                           "MAX_PROVEN of them")
    truncated: bool = Field(description="True when not every work is listed or proven here; "
                                        "the rest prove through /v1/manifests/{id}/assets/{asset}/proof")


class CompensationEvidence(BaseModel):
    kind: Literal["compensation"] = "compensation"
    collected_at: datetime
    checkpoint: str
    tree_size: int
    model: dict[str, Any] = Field(description="The model as registered")
    model_log: TargetLog
    training_sources: list[TrainingSourceEvidence]
    manifests: list[ManifestEvidence]


Evidence = CopyrightEvidence | CompensationEvidence


class ClaimRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: ClaimKind
    holder_id: str
    generation_id: str | None
    model_id: str | None
    status: ClaimStatus
    statement: str
    filed_by: str
    created_at: datetime
    updated_at: datetime


class ClaimDetail(ClaimRead):
    evidence: Evidence = Field(discriminator="kind")
    events: list[ClaimEventRead]
    allowed_transitions: list[ClaimStatus] = Field(description="Statuses the claim may move to next")
