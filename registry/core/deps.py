"""Dependencies on the process-wide state built by ``create_app``."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.errors import InvalidInput


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_blobs(request: Request) -> LocalBlobStore:
    return request.app.state.blobs


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BlobsDep = Annotated[LocalBlobStore, Depends(get_blobs)]


async def _no_repeated_parts(request: Request) -> None:
    """Refuse a multipart body that repeats a field the endpoint takes once: FastAPI keeps
    one of them and would silently drop the rest (say, 499 of 500 ``file`` parts)."""
    form = await request.form()  # already parsed for the endpoint's own fields: cached
    for name in set(form.keys()):
        if (count := len(form.getlist(name))) > 1:
            raise InvalidInput(f"this endpoint takes one '{name}' part; the request has {count} "
                               "(send one request per file)")


SINGLE_PARTS = Depends(_no_repeated_parts)
