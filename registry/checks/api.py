from contextlib import ExitStack
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile, status

from registry.assets.media import declared_clip_seconds
from registry.auth.deps import CheckReader, Writer
from registry.checks import service
from registry.checks.schemas import CheckRead, FingerprintQuery
from registry.core.deps import BlobsDep, SessionDep, SettingsDep
from registry.core.errors import ClipTooLongForSyncCheck, InvalidInput
from registry.fingerprints.live import LiveIndex

router = APIRouter(prefix="/v1/checks", tags=["Near-copy checks"])

MAX_FILES = 50


def _live(request: Request, session: SessionDep) -> LiveIndex:
    live: LiveIndex = request.app.state.index
    return live.caught_up(session)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CheckRead)
def check_media(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    actor: Writer,
    files: Annotated[list[UploadFile], File(description="Generated images and/or clips")],
) -> CheckRead:
    """Does this generated frame or clip copy a registered work? Each file gets a verdict
    (copy / similar / clear) and its matches; clips get the aligned time spans. A clip over
    ``REGISTRY_SYNC_CLIP_MAX_SECONDS`` is refused with ``413``: check it as a job
    (``POST /v1/check-jobs``)."""
    if not 1 <= len(files) <= MAX_FILES:
        raise InvalidInput(f"send between 1 and {MAX_FILES} files")
    limit = settings.sync_clip_max_seconds
    for i, f in enumerate(files, start=1):
        seconds = declared_clip_seconds(f.file)  # the container header: nothing is decoded
        if seconds is not None and seconds > limit:
            raise ClipTooLongForSyncCheck(
                f"{f.filename or f'file {i}'} lasts {seconds:.1f} s, over the {limit:g} s that "
                "POST /v1/checks checks while you wait: submit it to POST /v1/check-jobs, which "
                "answers at once and checks it in the background", check_jobs="/v1/check-jobs")
    live = _live(request, session)
    with ExitStack() as kept:  # the files stay held until the check citing them is recorded
        items = [service.check_upload(session, live, blobs, settings, f.filename or f"file {i}", f.file,
                                      keep=kept)
                 for i, f in enumerate(files, start=1)]
        kind = ("clip" if items[0].media_type and items[0].media_type.startswith("video/") else "image") \
            if len(items) == 1 else "batch"
        return CheckRead.model_validate(service.record_check(session, actor, kind, items))


@router.post("/fingerprints", status_code=status.HTTP_201_CREATED, response_model=CheckRead)
def check_fingerprints(query: FingerprintQuery, request: Request, session: SessionDep,
                       actor: Writer) -> CheckRead:
    """Check without uploading media: by ``imagehash.phash`` alone (with ``timestamps``
    the hashes are one clip's frames and are aligned in time), or by the ``descriptors``
    that ``registry fingerprint FILE`` computes, which get the verdicts and matches an
    upload of the same files gets."""
    items = service.check_fingerprints(session, _live(request, session), query)
    return CheckRead.model_validate(service.record_check(session, actor, "fingerprints", items))


@router.get("/{check_id}", response_model=CheckRead)
def get_check(check_id: str, session: SessionDep, actor: CheckReader) -> CheckRead:
    return CheckRead.model_validate(service.get_check(session, actor, check_id))
