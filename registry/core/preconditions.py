"""ETags and If-Match for records that change (core.models.Versioned).

A record's ETag is its row version; a PATCH that sends ``If-Match`` is applied only to
the version it names (RFC 9110 section 13.1.1: strong comparison, ``*`` for any), else
412. The check is made on the row as read, and the update itself is conditional on that
same version, so a change landing in between is refused too (409 changed-concurrently).
"""

import re
from typing import Annotated

from fastapi import Header, Response

from registry.core.errors import BadRequest, PreconditionFailed
from registry.core.models import Versioned

_ENTITY_TAG = re.compile(r'(W/)?"[\x21\x23-\x7e\x80-\xff]*"')  # RFC 9110 entity-tag

IfMatch = Annotated[str | None, Header(
    alias="If-Match", max_length=1000,
    description="Apply the change only if the record's current ETag is one of these "
                "(as returned by GET or a previous PATCH), else 412; `*` matches any")]


ETAG_RESPONSE: dict[int | str, dict] = {200: {"headers": {"ETag": {
    "description": "The record's current version; send it back as If-Match to change "
                   "exactly this version", "schema": {"type": "string"}}}}}


def etag(record: Versioned) -> str:
    return f'"v{record.row_version}"'


def set_etag(response: Response, record: Versioned) -> None:
    response.headers["ETag"] = etag(record)


class Precondition:
    """A parsed If-Match header (None: no header, any version is accepted)."""

    def __init__(self, header: str | None) -> None:
        self.tags: list[str] | None = None
        if header is None:
            return
        tags = [t.strip() for t in header.split(",") if t.strip()]
        if not tags or any(t != "*" and not _ENTITY_TAG.fullmatch(t) for t in tags):
            raise BadRequest('If-Match must be "*" or a list of quoted ETags, e.g. If-Match: "v3"')
        self.tags = tags

    def check(self, record: Versioned) -> None:
        if self.tags is None or "*" in self.tags:
            return
        if etag(record) not in self.tags:  # weak tags (W/"...") never match: strong comparison
            raise PreconditionFailed(
                f"{getattr(record, 'id')} is now at ETag {etag(record)}, not "
                f"{', '.join(self.tags)}; read it again and reapply the change",
                etag=etag(record))


ANY_VERSION = Precondition(None)
