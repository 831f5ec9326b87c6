from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from registry.auth.models import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    role: Role
    holder_id: str | None = Field(default=None, max_length=40,
                                  description="Required for (and only for) rights_holder keys")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    role: Role
    holder_id: str | None
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    secret: str = Field(description="The full API key. Shown once; only its hash is stored.")
