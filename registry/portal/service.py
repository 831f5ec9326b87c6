"""Portal sessions: an API key exchanged for a browser session.

The cookie holds a random token (256 bits); the database holds its SHA-256, the key it
stands for, the session's CSRF token and its expiry. Every request re-reads the key, so
revoking it ends its sessions at once, in every API replica.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session

from registry.auth.actor import Actor
from registry.auth.models import ApiKey
from registry.auth.service import actor_of, authenticate
from registry.core.models import utcnow
from registry.portal.models import PortalSession


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    key_name: str
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, presented_key: str, hours: float) -> tuple[str, PortalSession]:
    """A new session for a valid key (Unauthorized otherwise); returns the cookie token."""
    actor = authenticate(session, presented_key.strip())
    now = utcnow()
    # Expired sessions go as new ones come: the table holds live sessions only.
    session.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    record = PortalSession(id=_digest(token), key_id=actor.key_id,
                           csrf_token=new_form_token(),
                           created_at=now, expires_at=now + timedelta(hours=hours))
    session.add(record)
    session.commit()
    return token, record


def resolve(session: Session, token: str | None) -> SignedIn | None:
    """The signed-in actor of a cookie token, or None (unknown, expired or revoked key)."""
    if not token or len(token) > 100:
        return None
    record = session.get(PortalSession, _digest(token))
    if record is None or record.expires_at <= utcnow():
        return None
    key = session.get(ApiKey, record.key_id)
    if key is None or key.revoked_at is not None:
        return None
    return SignedIn(actor_of(key), key.name, record.csrf_token)


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(PortalSession).where(PortalSession.id == _digest(token)))
        session.commit()


def new_form_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, presented: str | None) -> bool:
    return bool(expected and presented) and hmac.compare_digest(str(expected), str(presented))
