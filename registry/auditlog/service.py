"""The single write path: every change commits together with its audit-log entry.

Services stage their rows, then call ``commit_change``; the entry is appended in the same
transaction, so a change without its entry (or the reverse) cannot be committed.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import rfc8785
from sqlalchemy import update
from sqlmodel import Session, SQLModel

from registry.auditlog.models import LogEntry, LogHead
from registry.auth.models import Role
from registry.core.models import utcnow


@dataclass(frozen=True)
class Actor:
    key_id: str
    role: Role
    holder_id: str | None = None


SYSTEM_ACTOR = Actor(key_id="system", role=Role.admin)

# Secrets never enter the log, even hashed.
_NEVER_LOGGED = {"secret_hash"}


def snapshot(entity: SQLModel) -> dict[str, Any]:
    data = entity.model_dump(mode="json", exclude=_NEVER_LOGGED)
    # Round-trip through json so Decimals and nested values become plain JSON types.
    return json.loads(json.dumps(data, default=str))


def rfc6962_leaf_hash(payload: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + payload).digest()


def append_entry(session: Session, actor: Actor, action: str, entity_type: str,
                 entity_id: str, data: dict[str, Any]) -> LogEntry:
    size = session.execute(
        update(LogHead).where(LogHead.id == 1).values(size=LogHead.size + 1)
        .returning(LogHead.size)
    ).scalar_one()
    entry = LogEntry(idx=size - 1, recorded_at=utcnow(), actor=actor.key_id, action=action,
                     entity_type=entity_type, entity_id=entity_id, payload=b"", leaf_hash=b"")
    entry.payload = rfc8785.dumps({
        "idx": entry.idx, "recorded_at": entry.recorded_at.isoformat(), "actor": actor.key_id,
        "action": action, "entity_type": entity_type, "entity_id": entity_id, "data": data,
    })
    entry.leaf_hash = rfc6962_leaf_hash(entry.payload)
    session.add(entry)
    return entry


def commit_change(session: Session, actor: Actor, action: str, entity_type: str,
                  entity: SQLModel, data: dict[str, Any] | None = None) -> None:
    try:
        # Flushing first surfaces constraint errors and, on SQLite, takes the write lock
        # before the log head is read.
        session.flush()
        append_entry(session, actor, action, entity_type, getattr(entity, "id"),
                     data if data is not None else snapshot(entity))
        session.commit()
    except BaseException:
        session.rollback()
        raise
