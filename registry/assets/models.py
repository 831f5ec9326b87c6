from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from registry.core.models import Retirable, Timestamps, Versioned


class Asset(Timestamps, Retirable, Versioned, table=True):
    __tablename__ = "asset"
    __table_args__ = (sa.UniqueConstraint("source_id", "sha256", name="uq_asset_source_sha256"),)

    id: str = Field(primary_key=True, max_length=40)
    source_id: str = Field(foreign_key="source.id", max_length=40, index=True)
    sha256: str = Field(max_length=64, index=True)
    media_type: str = Field(max_length=100, index=True)
    byte_size: int = Field(sa_type=sa.BigInteger)
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    frame_count: int | None = None
    original_uri: str | None = Field(default=None, max_length=2000)
    # Set only when the asset's holder or licence differs from its source's.
    holder_id: str | None = Field(default=None, foreign_key="rights_holder.id", max_length=40,
                                  index=True)
    licence_id: str | None = Field(default=None, foreign_key="licence.id", max_length=40,
                                   index=True)
    # Content Credentials read at ingest (assets/content_credentials.py). State None: the asset
    # was registered before the registry read them; otherwise none | valid | invalid | unverified.
    c2pa_state: str | None = Field(default=None, max_length=10)
    c2pa_trusted: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    c2pa_manifest_label: str | None = Field(default=None, max_length=2000)
    c2pa_claim_generator: str | None = Field(default=None, max_length=2000)
    c2pa_signer_issuer: str | None = Field(default=None, max_length=2000)
    c2pa_signer_name: str | None = Field(default=None, max_length=2000)
    # [{entry, use, constraint_info}] from the training-mining assertions of a valid manifest
    c2pa_terms: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    # The AI-training term derived from them: allowed | not_allowed | constrained
    c2pa_ai_training: str | None = Field(default=None, max_length=20, index=True)
    c2pa_detail: str | None = Field(default=None, max_length=2000)

    @property
    def c2pa(self) -> dict[str, Any] | None:
        """The asset's Content Credentials as AssetRead shows them."""
        if self.c2pa_state is None:
            return None
        return {"state": self.c2pa_state, "trusted": self.c2pa_trusted,
                "manifest_label": self.c2pa_manifest_label,
                "claim_generator": self.c2pa_claim_generator,
                "signer_issuer": self.c2pa_signer_issuer, "signer_name": self.c2pa_signer_name,
                "ai_training": self.c2pa_ai_training, "training_terms": self.c2pa_terms or [],
                "detail": self.c2pa_detail}
