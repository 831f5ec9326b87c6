import base64
from datetime import datetime

from pydantic import BaseModel, Field

from registry.auditlog.checkpoint import format_vkey
from registry.signingkeys.models import SigningKeyRecord


class PublicSigningKey(BaseModel):
    key_id: str = Field(description="C2SP key id (hex): first 4 bytes of SHA-256(name, 0x0A, 0x01, key)")
    key_name: str
    algorithm: str = "ed25519"
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64")
    vkey: str = Field(description="C2SP signed-note verifier key: name+id+base64(0x01||key)")
    not_before: datetime
    not_after: datetime | None

    @classmethod
    def from_record(cls, record: SigningKeyRecord) -> "PublicSigningKey":
        return cls(key_id=record.id, key_name=record.key_name,
                   public_key=base64.b64encode(record.public_key).decode(),
                   vkey=format_vkey(record.key_name, record.public_key),
                   not_before=record.not_before, not_after=record.not_after)


class PublicKeySet(BaseModel):
    """The registry's keys, retired ones included, for offline verification."""

    log_origin: str
    keys: list[PublicSigningKey]
