import base64
import binascii
from datetime import datetime
from enum import Enum
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from registry.core import identifiers


class HolderKind(str, Enum):
    person = "person"
    organisation = "organisation"


class IdentifierScheme(str, Enum):
    isni = "isni"
    ipi = "ipi"
    orcid = "orcid"
    url = "url"


_NORMALISERS = {
    IdentifierScheme.isni: identifiers.normalise_isni,
    IdentifierScheme.ipi: identifiers.normalise_ipi,
    IdentifierScheme.orcid: identifiers.normalise_orcid,
    IdentifierScheme.url: lambda v: str(HttpUrl(v)),
}


class ExternalId(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheme: IdentifierScheme
    value: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _valid_for_scheme(self) -> "ExternalId":
        self.value = _NORMALISERS[self.scheme](self.value)
        return self


class PublicKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="", max_length=200)
    ed25519: str = Field(description="Raw 32-byte Ed25519 public key, base64",
                         min_length=40, max_length=64)

    @field_validator("ed25519")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
        try:
            standard = value.replace("-", "+").replace("_", "/")
            raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
            Ed25519PublicKey.from_public_bytes(raw)
        except (binascii.Error, ValueError):
            raise ValueError("not a base64-encoded 32-byte Ed25519 public key") from None
        return base64.b64encode(raw).decode()


Name = Annotated[str, Field(min_length=1, max_length=300)]
Contact = Annotated[str, Field(max_length=500)]


class HolderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    kind: HolderKind
    contact: Contact | None = None
    identifiers: list[ExternalId] = Field(default_factory=list, max_length=50)
    public_keys: list[PublicKey] = Field(default_factory=list, max_length=20)


class HolderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    kind: HolderKind | None = None
    contact: Contact | None = None
    identifiers: list[ExternalId] | None = Field(default=None, max_length=50)
    public_keys: list[PublicKey] | None = Field(default=None, max_length=20)


class HolderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    kind: HolderKind
    contact: str | None
    identifiers: list[ExternalId]
    public_keys: list[PublicKey]
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None
    retired_reason: str | None
