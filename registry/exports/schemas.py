"""What an audit export contains: the shapes here document the stream (OpenAPI); the service
writes the same fields directly, row by row, without building these models."""

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

CSV_COLUMNS = ("section", "entity_type", "entity_id", "idx", "recorded_at", "actor", "action",
               "leaf_hash", "data")


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    json = "json"
    csv = "csv"


MEDIA_TYPES = {ExportFormat.jsonl: "application/x-ndjson", ExportFormat.json: "application/json",
               ExportFormat.csv: "text/csv; charset=utf-8"}


class ExportEntry(BaseModel):
    """One audit-log entry recorded in the period, exactly as the log hashed it."""

    section: Literal["entry"] = "entry"
    idx: int
    recorded_at: str
    actor: str
    action: str
    entity_type: str
    entity_id: str
    leaf_hash: str = Field(description="hex SHA-256(0x00 || payload), the Merkle leaf")
    payload: str = Field(description="The entry's RFC 8785 canonical JSON (UTF-8): the bytes the "
                                     "leaf hash commits to; its `data` is the record's snapshot")


class ExportRecord(BaseModel):
    """The current state of a record that has an entry in the period, as the log remembers
    records (columns plus domain extras, secrets left out); ``idx`` and the other entry
    fields describe its latest log entry, whose ``data`` this state should equal."""

    section: Literal["record"] = "record"
    entity_type: str
    entity_id: str
    idx: int
    recorded_at: str
    actor: str
    action: str
    leaf_hash: str
    data: dict[str, Any]


class ExportTrailer(BaseModel):
    """Written last: a stream that ends without it was cut short."""

    section: Literal["trailer"] = "trailer"
    since: str
    until: str
    entries: int
    records: int
    records_by_type: dict[str, int]
    tree_size: int = Field(description="Entries with idx < tree_size were eligible; every "
                                       "exported entry is covered by the checkpoint")
    root: str = Field(description="base64 Merkle root of the checkpoint")
    checkpoint: str = Field(description="C2SP signed checkpoint note for tree_size")


class AuditExport(BaseModel):
    """``format=json``: one object, streamed."""

    since: str
    until: str
    entries: list[ExportEntry]
    records: list[ExportRecord]
    trailer: ExportTrailer
