import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class LogEntryRead(BaseModel):
    idx: int
    recorded_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    leaf_hash: str

    @classmethod
    def from_entry(cls, entry: Any) -> "LogEntryRead":
        return cls(idx=entry.idx, recorded_at=entry.recorded_at, actor=entry.actor,
                   action=entry.action, entity_type=entry.entity_type,
                   entity_id=entry.entity_id, data=json.loads(entry.payload)["data"],
                   leaf_hash=entry.leaf_hash.hex())


class LogEntryPage(BaseModel):
    items: list[LogEntryRead]
    next_after: int | None = None


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof; hashes are base64 SHA-256."""

    idx: int
    tree_size: int
    leaf_hash: str
    root: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class ProvenEntry(BaseModel):
    """An entry with what a client needs to check it offline: the exact leaf bytes, an
    inclusion proof, and the signed checkpoint the proof leads to."""

    entry: LogEntryRead
    payload: str = Field(description="The canonical (RFC 8785) entry bytes, base64; "
                                     "leaf hash = SHA-256(0x00 || payload)")
    inclusion: InclusionProof
    checkpoint: str = Field(description="C2SP signed checkpoint note for inclusion.tree_size")
