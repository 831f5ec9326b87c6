import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel


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
