"""Appending to the audit log: a record's snapshot, the entry's canonical payload, and the
Merkle nodes each append completes. Services do not call this directly: they commit
through ``registry.unit_of_work``, which appends in the same transaction.
"""

import base64
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import rfc8785
from sqlalchemy import update
from sqlmodel import Session, SQLModel

from registry.auditlog import merkle
from registry.auditlog.merkle import NodeKey
from registry.auditlog.models import LogEntry, LogHead, LogNode
from registry.auth.actor import Actor
from registry.core.models import utcnow

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
