"""The single write path: every change commits together with its audit-log entry.

Services stage their rows, then call ``commit_change``; the entry is appended in the same
transaction, so a change without its entry (or the reverse) cannot be committed.
"""

import base64
from datetime import date, datetime
from decimal import Decimal
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rfc8785
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel

from registry.auditlog import merkle
from registry.auditlog.merkle import NodeKey
from registry.auditlog.models import LogEntry, LogHead, LogNode
from registry.auth.models import Role
from registry.core.errors import ChangedConcurrently
from registry.core.models import utcnow


@dataclass(frozen=True)
class Actor:
    key_id: str
    role: Role
    holder_id: str | None = None


SYSTEM_ACTOR = Actor(key_id="system", role=Role.admin)

# Secrets never enter the log, even hashed or encrypted; a manifest's envelope is logged
# by its payload digest (it can run to megabytes and is verified by its signature).
_NEVER_LOGGED = {"secret_hash", "encrypted_private_pem", "private_key_file", "envelope"}
# The optimistic-concurrency counter (core.models.Versioned) is bookkeeping: each entry
# already orders the changes, and logs written before it existed must still replay.
_NOT_RECORDED = _NEVER_LOGGED | {"row_version"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def snapshot(entity: SQLModel) -> dict[str, Any]:
    """The record as the log remembers it (and as ``registry verify-log`` compares it)."""
    return _jsonable(entity.model_dump(mode="python", exclude=_NOT_RECORDED))


@dataclass(frozen=True)
class AuditedType:
    model: type[SQLModel]
    extra: Callable[[Session, Any], dict[str, Any]] | None = None
    # Bookkeeping columns rewritten without a log entry (a job's lease and progress).
    unlogged: frozenset[str] = frozenset()


# entity_type -> how its records look in the log; filled by each domain's service module.
AUDITED: dict[str, AuditedType] = {}


def audited(entity_type: str, model: type[SQLModel],
            extra: Callable[[Session, Any], dict[str, Any]] | None = None,
            unlogged: frozenset[str] = frozenset()) -> None:
    AUDITED[entity_type] = AuditedType(model, extra, unlogged)


def record_view(session: Session, entity_type: str, entity: SQLModel) -> dict[str, Any]:
    """What the log stores for a record: its columns plus domain extras (e.g. holder links)."""
    view = snapshot(entity)
    spec = AUDITED.get(entity_type)
    if spec and spec.unlogged:
        view = {k: v for k, v in view.items() if k not in spec.unlogged}
    if spec and spec.extra:
        view |= spec.extra(session, entity)
    return view


def node_lookup(session: Session) -> Callable[[list[NodeKey]], dict[NodeKey, bytes]]:
    """Batched reads of stored Merkle nodes, one primary-key probe per key.

    Written as ``(level = ? AND idx IN (...)) OR ...`` through the driver: SQLite scans the
    whole table for a row-value ``IN``, and building an ORM query per call costs more than
    the lookup itself (proofs and appends call this on every request).
    """
    def lookup(keys: list[NodeKey]) -> dict[NodeKey, bytes]:
        if not keys:
            return {}
        by_level: dict[int, list[int]] = defaultdict(list)
        for level, idx in keys:
            by_level[level].append(idx)
        connection = session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        clauses, params = [], []
        for level, idxs in by_level.items():
            clauses.append(f"(level = {mark} AND idx IN ({', '.join([mark] * len(idxs))}))")
            params += [level, *idxs]
        rows = connection.exec_driver_sql(
            f"SELECT level, idx, hash FROM log_node WHERE {' OR '.join(clauses)}", tuple(params))
        return {(level, idx): bytes(digest) for level, idx, digest in rows}
    return lookup


def append_entry(session: Session, actor: Actor, action: str, entity_type: str,
                 entity_id: str, data: dict[str, Any]) -> LogEntry:
    # Incrementing the head row locks it until commit: appends from every API replica
    # queue here, so indexes are dense and each Merkle node is computed exactly once.
    size = session.execute(
        update(LogHead).where(LogHead.id == 1).values(size=LogHead.size + 1)
        .returning(LogHead.size)
    ).scalar_one()
    entry = LogEntry(idx=size - 1, recorded_at=utcnow(), actor=actor.key_id, action=action,
                     entity_type=entity_type, entity_id=entity_id, payload=b"", leaf_hash=b"")
    entry.payload = entry_payload(entry, data)
    entry.leaf_hash = merkle.leaf_hash(entry.payload)
    session.add(entry)
    for (level, idx), digest in merkle.nodes_completed_by_append(
            entry.idx, entry.leaf_hash, node_lookup(session)).items():
        session.add(LogNode(level=level, idx=idx, hash=digest))
    return entry


def entry_payload(entry: LogEntry, data: dict[str, Any]) -> bytes:
    """The canonical bytes a log leaf commits to (RFC 8785)."""
    return rfc8785.dumps({
        "idx": entry.idx, "recorded_at": entry.recorded_at.isoformat(), "actor": entry.actor,
        "action": entry.action, "entity_type": entry.entity_type, "entity_id": entry.entity_id,
        "data": data,
    })


def commit_change(session: Session, actor: Actor, action: str, entity_type: str,
                  entity: SQLModel) -> None:
    """Commit the staged change together with its log entry, or neither."""
    commit_changes(session, actor, [(action, entity_type, entity)])


def commit_changes(session: Session, actor: Actor,
                   changes: list[tuple[str, str, SQLModel]]) -> None:
    """Commit the staged changes together with one log entry each (in order), or nothing.

    A versioned record (core.models.Versioned) changed by another request since it was
    read matches no row at the flush: the change is refused as ChangedConcurrently (409),
    so of simultaneous read-check-writes exactly one wins and logs."""
    try:
        # Flushing first surfaces constraint errors and, on SQLite, takes the write lock
        # before the log head is read; the refresh makes the snapshot what the database
        # actually stores (numeric scale, timestamps), so replays compare like with like.
        try:
            session.flush()
        except StaleDataError:
            raise ChangedConcurrently(
                "another request changed this record at the same time and was applied first; "
                "read it again and retry if the change still applies") from None
        for action, entity_type, entity in changes:
            session.refresh(entity)
            append_entry(session, actor, action, entity_type, getattr(entity, "id"),
                         record_view(session, entity_type, entity))
        session.commit()
    except BaseException:
        session.rollback()
        raise
