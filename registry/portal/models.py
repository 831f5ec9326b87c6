from datetime import datetime

from sqlmodel import Field, SQLModel

from registry.core.models import timestamp_field, utcnow


class PortalSession(SQLModel, table=True):
    """A browser signed in with an API key. The cookie carries a random token; only its
    SHA-256 is stored, so a database reader cannot take over a session. Sessions are
    bookkeeping, not registry records: they are not in the audit log (the key is)."""

    __tablename__ = "portal_session"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 of the cookie token, hex")
    key_id: str = Field(foreign_key="api_key.id", max_length=40, index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    expires_at: datetime = timestamp_field(index=True)
