from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status

from registry.auth.deps import CheckReader, Writer
from registry.checkjobs import service
from registry.checkjobs.models import JobState
from registry.checkjobs.schemas import CheckJobRead
from registry.core.deps import SINGLE_PARTS, BlobsDep, SessionDep, SettingsDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

router = APIRouter(prefix="/v1/check-jobs", tags=["Near-copy checks"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=CheckJobRead,
             dependencies=[SINGLE_PARTS])
def submit_check_job(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    blobs: BlobsDep,
    actor: Writer,
    file: Annotated[UploadFile, File(description="A generated clip (of any length up to the job "
                                                 "limit) or image")],
) -> CheckJobRead:
    """Check one file in the background: answers at once with the job (and its URL in
    ``Location``); poll it for progress, and once it succeeded its ``result`` is the stored
    check (``GET /v1/checks/{id}``), the same record ``POST /v1/checks`` makes."""
    job = service.submit(session, blobs, settings, actor, file.filename or "file 1", file.file)
    request.app.state.jobs.wake()
    response.headers["Location"] = f"{router.prefix}/{job.id}"
    return CheckJobRead.of(job)


@router.get("", response_model=Page[CheckJobRead])
def list_check_jobs(
    session: SessionDep,
    actor: CheckReader,
    state: JobState | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[CheckJobRead]:
    """Check jobs, oldest first; a curator sees its own only."""
    rows, next_cursor = service.list_jobs(session, actor, state, cursor, limit)
    return Page(items=[CheckJobRead.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=CheckJobRead)
def get_check_job(job_id: str, session: SessionDep, actor: CheckReader) -> CheckJobRead:
    return CheckJobRead.of(service.get_job(session, actor, job_id))


@router.post("/{job_id}/cancel", response_model=CheckJobRead)
def cancel_check_job(job_id: str, session: SessionDep, blobs: BlobsDep, actor: Writer) -> CheckJobRead:
    """A queued job is cancelled at once; a running one stops at its next progress report
    (within seconds). ``409`` once the job has finished."""
    return CheckJobRead.of(service.cancel(session, blobs, actor, job_id))
