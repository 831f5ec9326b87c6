"""API keys: ``rk_<key id>_<secret>``; the id finds the row, the secret is compared by hash."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from registry.auth.actor import Actor
from registry.auth.models import ApiKey, Role
from registry.auth.schemas import ApiKeyCreate
from registry.core.crud import retry_on_concurrent_change
from registry.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.holders.models import RightsHolder
from registry.unit_of_work import commit_change

KEY_PREFIX = "rk_"
_KEY_ID_LEN = len(new_id("key"))


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, actor: Actor, data: ApiKeyCreate) -> IssuedKey:
    if data.role is Role.rights_holder:
        if not data.holder_id:
            raise InvalidInput("a rights_holder key must name the holder_id it acts for")
        holder = session.get(RightsHolder, data.holder_id)
        if holder is None:
            raise NotFound(f"rights holder {data.holder_id} does not exist")
        if holder.retired_at is not None:
            raise Conflict(f"rights holder {data.holder_id} is retired")
    elif data.holder_id:
        raise InvalidInput("only rights_holder keys are bound to a holder")
    key_id = new_id("key")
    secret = secrets.token_urlsafe(32)
    record = ApiKey(id=key_id, name=data.name, role=data.role.value, holder_id=data.holder_id,
                    secret_hash=_hash(secret), created_by=actor.key_id)
    session.add(record)
    commit_change(session, actor, "key.created", "api_key", record)
    return IssuedKey(record, f"{KEY_PREFIX}{key_id}_{secret}")


@retry_on_concurrent_change
def revoke_key(session: Session, actor: Actor, key_id: str) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None:
        raise NotFound(f"API key {key_id} does not exist")
    if record.revoked_at is not None:
        raise Conflict(f"API key {key_id} was already revoked at {record.revoked_at.isoformat()}")
    record.revoked_at = utcnow()
    session.add(record)
    commit_change(session, actor, "key.revoked", "api_key", record)
    return record


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(ApiKey.id)).all())


def authenticate(session: Session, presented: str | None) -> Actor:
    if not presented:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key'")
    # The secret (token_urlsafe) may itself contain '_', so split on the id's fixed length.
    body = presented[len(KEY_PREFIX):]
    key_id, separator, secret = body[:_KEY_ID_LEN], body[_KEY_ID_LEN:_KEY_ID_LEN + 1], body[_KEY_ID_LEN + 1:]
    if not presented.startswith(KEY_PREFIX) or separator != "_" or not secret:
        raise Unauthorized("the API key is malformed")
    record = session.get(ApiKey, key_id)
    expected = record.secret_hash if record else _hash("")
    if not hmac.compare_digest(expected, _hash(secret)) or record is None:
        raise Unauthorized("the API key is not valid")
    if record.revoked_at is not None:
        raise Unauthorized("the API key was revoked")
    return actor_of(record)


def actor_of(record: ApiKey) -> Actor:
    """Who a key acts as (its role, and for a rights holder its holder)."""
    return Actor(key_id=record.id, role=Role(record.role), holder_id=record.holder_id)
