from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile

from registry.auth.deps import AnyActor
from registry.checks import service as checks
from registry.checks.schemas import FingerprintQuery
from registry.core.deps import BlobsDep, SessionDep, SettingsDep
from registry.core.errors import InvalidInput
from registry.lookup import service
from registry.lookup.schemas import LookupRead

router = APIRouter(prefix="/v1/lookups", tags=["Rights-holder lookup"])

MAX_FILES = 10


@router.post("", response_model=LookupRead)
def lookup_media(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    actor: AnyActor,
    files: Annotated[list[UploadFile], File(description="The works: images and/or clips")],
) -> LookupRead:
    """Where did this work go? Every registered asset that is the work or a near copy, the
    sources holding it with their licences, the models trained on them and the checked
    generations that matched it. A rights-holder key sees answers about its own works only.
    Nothing is stored (a lookup is not a check)."""
    if not 1 <= len(files) <= MAX_FILES:
        raise InvalidInput(f"send between 1 and {MAX_FILES} files")
    live = request.app.state.index.caught_up(session)
    items = [checks.check_upload(session, live, blobs, settings, f.filename or f"file {i}", f.file)
             for i, f in enumerate(files, start=1)]
    return service.answer(session, actor, items)


@router.post("/fingerprints", response_model=LookupRead)
def lookup_fingerprints(query: FingerprintQuery, request: Request, session: SessionDep,
                        actor: AnyActor) -> LookupRead:
    """The same without uploading the works (as ``/v1/checks/fingerprints``): by
    ``imagehash.phash`` alone (with ``timestamps``, one clip's frames, aligned in time), or
    by the ``descriptors`` of ``registry fingerprint FILE``, answered as the upload is."""
    live = request.app.state.index.caught_up(session)
    return service.answer(session, actor, checks.check_fingerprints(session, live, query))
