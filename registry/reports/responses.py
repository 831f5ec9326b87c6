"""How the registry serves a signed document (a report, a model's training-content summary):
the JSON document itself, its signed DSSE envelope, or one of its renderings, as a download."""

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Response
from pydantic import BaseModel
from sqlmodel import Session

from registry.core.config import Settings
from registry.reports.signing import ENVELOPE_MEDIA_TYPE, envelope_bytes

MEDIA_TYPES = {"dsse": ENVELOPE_MEDIA_TYPE, "csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
               "md": "text/markdown; charset=utf-8"}
_SUFFIX = {"dsse": "dsse.json"}


def document_response(session: Session, settings: Settings, document: BaseModel, fmt: str, name: str,
                      renderings: Mapping[str, Callable[[], bytes]]) -> Any:
    """``fmt``: json (the document, for FastAPI to serialise), dsse, or a key of ``renderings``;
    the file is named ``name`` with the format's suffix."""
    if fmt == "json":
        return document
    body = envelope_bytes(session, settings, document) if fmt == "dsse" else renderings[fmt]()
    return Response(body, media_type=MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}.{_SUFFIX.get(fmt, fmt)}"'})
