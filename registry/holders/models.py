from typing import Any

from sqlmodel import Field

from registry.core.models import Retirable, Timestamps, Versioned, json_field


class RightsHolder(Timestamps, Retirable, Versioned, table=True):
    __tablename__ = "rights_holder"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=300, index=True)
    kind: str = Field(max_length=20)
    contact: str | None = Field(default=None, max_length=500)
    identifiers: list[dict[str, Any]] = json_field()
    public_keys: list[dict[str, Any]] = json_field()
