"""Check jobs: a long clip (or any file) checked in the background, by whichever worker
claims it first. Every claim, heartbeat and finish is a conditional UPDATE decided by the
database, so replicas sharing one database never work a job twice nor lose one."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import update
from sqlmodel import Session, select

from registry.assets.media import MediaInfo, probe_header
from registry.assets.service import stage_upload
from registry.auth.actor import Actor
from registry.blob_citations import discard_uncited
from registry.checkjobs.models import FINISHED, CheckJob, JobPurpose, JobState
from registry.checks import service as checks
from registry.checks.schemas import CheckItem
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.errors import Conflict, NotFound
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.core.pagination import paginate
from registry.fingerprints.live import LiveIndex
from registry.unit_of_work import commit_change

ENTITY = "check_job"

Progress = Callable[[int, float], None]


@contextmanager
def stage(blobs: LocalBlobStore, settings: Settings, stream: BinaryIO) -> Iterator[tuple[str, MediaInfo, bool]]:
    """Keep an upload in the blob store (any worker process can then read it) once it is
    known to be an image or a clip within the job limit; its frames are decoded later.
    Gives the digest, the header's facts and whether the upload added the file (False: the
    content was stored already), holding the blob until the block ends: commit the record
    citing it inside the block (``LocalBlobStore.hold``)."""
    with blobs.staging_file() as staged:
        sha256, _ = stage_upload(stream, staged, settings.max_upload_bytes)
        info = probe_header(staged, max_pixels=settings.max_image_pixels,
                            max_clip_seconds=settings.job_clip_max_seconds)
        with blobs.hold(sha256):
            yield sha256, info, blobs.put(staged, sha256)


def submit(session: Session, blobs: LocalBlobStore, settings: Settings, actor: Actor,
           name: str, stream: BinaryIO, purpose: JobPurpose = JobPurpose.check) -> CheckJob:
    """``purpose=lookup``: a look-up of a work too long to look up while the request waits
    (any role may ask; the answer is the requester's only, and the file goes afterwards)."""
    with stage(blobs, settings, stream) as (sha256, info, added):
        job = CheckJob(id=new_id("job"), requested_by=actor.key_id, requested_role=actor.role.value,
                       filename=name[:255], sha256=sha256, media_type=info.media_type,
                       frames_total=info.frame_count if info.is_video else 1,
                       seconds_total=info.duration_s if info.is_video else 0.0,
                       purpose=purpose.value, owns_blob=added)
        session.add(job)
        commit_change(session, actor, "check_job.created", ENTITY, job)
    return job


def get_lookup_job(session: Session, actor: Actor, job_id: str) -> CheckJob:
    """A look-up job, for the key that asked for it only (whatever its role)."""
    job = session.exec(select(CheckJob).where(
        CheckJob.id == job_id, CheckJob.purpose == JobPurpose.lookup.value,
        CheckJob.requested_by == actor.key_id)).first()
    if job is None:
        raise NotFound(f"look-up {job_id} does not exist")
    return job


def forget_upload(session: Session, blobs: LocalBlobStore, job: CheckJob) -> None:
    """Remove the file of a job that has ended without a stored check (a look-up always; a
    check job cancelled or failed) from the blob store, if the job's upload put it there and
    nothing else came to rely on the same content meanwhile: a registered asset, another
    job, a check made since the job was created, or an upload of it under way."""
    kept_by_check = job.purpose == JobPurpose.check.value and job.state == JobState.succeeded.value
    if not job.owns_blob or job.state not in FINISHED or kept_by_check:
        return
    discard_uncited(session, blobs, job.sha256, since=job.created_at, except_job=job.id)


def get_job(session: Session, actor: Actor, job_id: str) -> CheckJob:
    job = session.exec(select(CheckJob).where(
        CheckJob.id == job_id, checks.requester_scope(actor, CheckJob.requested_by))).first()
    if job is None:
        raise NotFound(f"check job {job_id} does not exist")
    return job


def list_jobs(session: Session, actor: Actor, state: JobState | None, cursor: str | None,
              limit: int) -> tuple[list[CheckJob], str | None]:
    """Newest ids sort last (ids are time-ordered); a curator sees its own jobs only."""
    statement = select(CheckJob).where(checks.requester_scope(actor, CheckJob.requested_by))
    if state is not None:
        statement = statement.where(CheckJob.state == state.value)
    return paginate(session, statement, CheckJob.id, cursor, limit)


def cancel(session: Session, blobs: LocalBlobStore, actor: Actor, job_id: str) -> CheckJob:
    """A queued job is cancelled at once (its file goes then: ``forget_upload``); a
    running one is flagged, and its worker stops at its next progress report."""
    job = get_job(session, actor, job_id)
    queued = session.execute(
        update(CheckJob).where(CheckJob.id == job.id, CheckJob.state == JobState.queued.value)
        .values(state=JobState.cancelled.value, cancel_requested=True, finished_at=utcnow()))
    if queued.rowcount == 1:
        commit_change(session, actor, "check_job.finished", ENTITY, job)
        session.refresh(job)
        forget_upload(session, blobs, job)
        return job
    running = session.execute(
        update(CheckJob).where(CheckJob.id == job.id, CheckJob.state == JobState.running.value,
                               CheckJob.cancel_requested.is_(False))
        .values(cancel_requested=True))
    if running.rowcount == 1:
        commit_change(session, actor, "check_job.cancel_requested", ENTITY, job)
        return job
    session.rollback()
    session.refresh(job)
    if job.state in FINISHED:
        raise Conflict(f"check job {job.id} already finished ({job.state})", state=job.state)
    return job  # running, cancellation already requested


@dataclass(frozen=True)
class Checked:
    item: CheckItem
    kind: str
    frames: int
    seconds: float
    # A look-up's own picture of the work (PNG), kept with its answer: the file goes after.
    thumbnail: bytes | None = None


def check_file(session: Session, live: LiveIndex, blobs: LocalBlobStore, settings: Settings,
               name: str, path: Path, sha256: str, media_type: str,
               progress: Progress | None = None) -> Checked:
    """The synchronous check of one stored file, with decoding progress for clips (the
    matching itself is ``registry.checks.service``'s, unchanged)."""
    if not media_type.startswith("video/"):
        with path.open("rb") as stream:  # already in the blob store: nothing more to keep
            item = checks.check_upload(session, live, blobs, settings, name, stream)
        return Checked(item, "image", 1, 0.0)
    clip = checks.clip_descriptors(path, settings.job_clip_max_seconds, settings.max_image_pixels,
                                   progress)
    item = checks.check_descriptor(session, live, name, clip, sha256, media_type)
    fp = clip.fingerprint
    return Checked(item, "clip", fp.frames_decoded, round(fp.duration_s, 3))
