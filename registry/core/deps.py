"""Dependencies on the process-wide state built by ``create_app``."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings


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
