"""Cursor pagination over time-ordered ids."""

import base64
import binascii
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, select

from registry.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidInput("cursor is not one this API issued") from None
    if "_" not in value or len(value) > 64:
        raise InvalidInput("cursor is not one this API issued")
    return value


def paginate(session: Session, statement: Any, id_column: Any, cursor: str | None,
             limit: int) -> tuple[list[Any], str | None]:
    """Run ``statement`` one page at a time; fetches one extra row to know if more exist."""
    if cursor:
        statement = statement.where(id_column > decode_cursor(cursor))
    rows = list(session.exec(statement.order_by(id_column).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)


__all__ = ["Page", "paginate", "select", "DEFAULT_LIMIT", "MAX_LIMIT"]
