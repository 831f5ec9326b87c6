from datetime import datetime
from enum import Enum

from sqlmodel import Field

from registry.core.models import Versioned, timestamp_field, utcnow


class Role(str, Enum):
    admin = "admin"
    curator = "curator"
    rights_holder = "rights_holder"
    auditor = "auditor"


class ApiKey(Versioned, table=True):
    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    holder_id: str | None = Field(default=None, foreign_key="rights_holder.id", max_length=40)
    # SHA-256 of the random secret: the secret has 256 bits of entropy, so a slow
    # password hash would add latency to every request without adding safety.
    secret_hash: str = Field(max_length=64)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=40)
    revoked_at: datetime | None = timestamp_field(nullable=True, default=None)
