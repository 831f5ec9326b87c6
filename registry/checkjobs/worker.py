"""The job worker: claims queued jobs (or running ones whose worker stopped renewing its
lease), checks them with progress, and records the result exactly once.

Ownership is decided in the database. A claim is ``UPDATE ... WHERE id = ? AND (state =
'queued' OR (state = 'running' AND lease_until < now))``, counted by rowcount: of any number
of workers, on SQLite or PostgreSQL, one wins. Each progress report renews the lease with
``... WHERE worker = me AND state = 'running'`` and reads the cancel flag; the finishing
write carries the same condition and commits the stored check, the job's result and both
audit entries in one transaction, so a worker that lost its job records nothing.
"""

import base64
import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.auth.actor import SYSTEM_ACTOR, Actor
from registry.auth.models import Role
from registry.checkjobs.models import CheckJob, JobPurpose, JobState
from registry.checkjobs.service import ENTITY, Checked, check_file, forget_upload
from registry.checks import service as checks
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.errors import RegistryError, ServiceUnavailable
from registry.core.models import utcnow
from registry.fingerprints.live import LiveIndex
from registry.reports.frames import thumbnail_file
from registry.unit_of_work import commit_change

log = logging.getLogger("registry.jobs")

IndexOf = Callable[[Session], LiveIndex]


class JobLost(Exception):
    """Another worker owns the job now (this one's lease ran out)."""


class JobCancelled(Exception):
    """Someone asked for the job to be cancelled."""


class WorkerStopping(Exception):
    """The process is shutting down: the job goes back to the queue."""


@contextmanager
def one_transaction(session: Session) -> Iterator[None]:
    """Several ``commit_change`` calls committed together: inside the block their commits
    only flush, and the block commits once at the end (or rolls everything back)."""
    commit = session.commit
    session.commit = session.flush  # type: ignore[method-assign]
    try:
        yield
    except BaseException:
        session.commit = commit  # type: ignore[method-assign]
        session.rollback()
        raise
    session.commit = commit  # type: ignore[method-assign]
    session.commit()


class Worker:
    def __init__(self, engine: Engine, settings: Settings, blobs: LocalBlobStore, index: IndexOf,
                 *, name: str | None = None, clock: Callable[[], datetime] = utcnow,
                 stop: threading.Event | None = None) -> None:
        self.engine, self.settings, self.blobs, self.index = engine, settings, blobs, index
        self.name = (name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")[:100]
        self.clock = clock
        self.stop = stop or threading.Event()

    # -- ownership ---------------------------------------------------------------------
    def _lease(self) -> datetime:
        return self.clock() + timedelta(seconds=self.settings.job_lease_seconds)

    def _claimable(self) -> Any:
        return or_(CheckJob.state == JobState.queued.value,
                   and_(CheckJob.state == JobState.running.value,
                        CheckJob.lease_until < self.clock()))

    def _owned(self, job_id: str) -> Any:
        return and_(CheckJob.id == job_id, CheckJob.worker == self.name,
                    CheckJob.state == JobState.running.value)

    def claim(self, job_id: str) -> bool:
        """Take the job if it is queued or its worker's lease ran out; one caller wins."""
        with Session(self.engine, expire_on_commit=False) as session:
            won = session.execute(
                update(CheckJob).where(CheckJob.id == job_id, self._claimable())
                .values(state=JobState.running.value, worker=self.name, lease_until=self._lease(),
                        started_at=self.clock(), attempts=CheckJob.attempts + 1, frames_done=0,
                        seconds_done=0.0)
                .execution_options(synchronize_session=False)).rowcount == 1
            if not won:
                session.rollback()
                return False
            commit_change(session, SYSTEM_ACTOR, "check_job.started", ENTITY,
                          session.get(CheckJob, job_id))
            return True

    def claim_next(self) -> str | None:
        with Session(self.engine) as session:
            candidates = session.exec(select(CheckJob.id).where(self._claimable())
                                      .order_by(CheckJob.created_at).limit(10)).all()
        return next((job_id for job_id in candidates if self.claim(job_id)), None)

    def heartbeat(self, job_id: str, frames: int, seconds: float) -> None:
        """Report progress and renew the lease; raises when the job must stop here."""
        with Session(self.engine) as session:
            row = session.execute(
                update(CheckJob).where(self._owned(job_id))
                .values(lease_until=self._lease(), frames_done=frames, seconds_done=seconds)
                .returning(CheckJob.cancel_requested)
                .execution_options(synchronize_session=False)).first()
            session.commit()
        if row is None:
            raise JobLost(job_id)
        if row[0]:
            raise JobCancelled(job_id)
        if self.stop.is_set():
            raise WorkerStopping(job_id)

    # -- work ----------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Claim and work one job; False when there was none to claim."""
        job_id = self.claim_next()
        if job_id is None:
            return False
        self.work(job_id)
        return True

    def drain(self) -> int:
        done = 0
        while not self.stop.is_set() and self.run_once():
            done += 1
        return done

    def serve(self, wake: threading.Event | None = None) -> None:
        """Work jobs until ``stop`` is set, polling (or woken by ``wake``) when idle."""
        wake = wake or threading.Event()
        while not self.stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # a database outage must not end the thread
                log.exception("check-job worker %s failed; retrying", self.name)
                worked = False
            if not worked:
                wake.wait(self.settings.job_poll_seconds)
                wake.clear()

    def work(self, job_id: str) -> None:
        """Work a job this worker claimed, to whichever end it comes to."""
        with Session(self.engine, expire_on_commit=False) as session:
            job = session.get(CheckJob, job_id)
            assert job is not None
            try:
                self.heartbeat(job_id, 0, 0.0)
                checked = self._check(session, job)
            except JobLost:
                log.warning("check job %s was taken over by another worker", job_id)
            except JobCancelled:
                self._finish(session, job, JobState.cancelled)
            except WorkerStopping:
                self._requeue(session, job)
            except RegistryError as exc:
                self._finish(session, job, JobState.failed, error=f"{exc.title}: {exc.detail}")
            except Exception:
                log.exception("check job %s failed", job_id)
                self._finish(session, job, JobState.failed,
                             error="Internal error: the check failed; it was logged")
            else:
                self._finish(session, job, JobState.succeeded, checked)

    def _check(self, session: Session, job: CheckJob) -> Checked:
        path = self.blobs.path(job.sha256)
        if not path.exists():
            raise ServiceUnavailable("the uploaded file is no longer in the blob store")
        with Session(self.engine) as catch_up:  # (it expunges what it loads)
            live = self.index(catch_up)
        checked = check_file(session, live, self.blobs, self.settings, job.filename, path,
                             job.sha256, job.media_type,
                             lambda frames, seconds: self.heartbeat(job.id, frames, seconds))
        if job.purpose == JobPurpose.lookup.value:
            frame = thumbnail_file(path, job.media_type, 0.0)
            checked = dataclasses.replace(checked, thumbnail=frame.png if frame else None)
        return checked

    def _finish(self, session: Session, job: CheckJob, state: JobState,
                checked: Checked | None = None, error: str | None = None) -> None:
        """The finishing write, only while this worker still owns the job; the stored check,
        the job's result and their audit entries commit together or not at all."""
        values: dict[str, Any] = {"state": state.value, "finished_at": self.clock(),
                                  "lease_until": None, "error": error}
        if checked is not None:
            values |= {"frames_done": checked.frames, "frames_total": checked.frames,
                       "seconds_done": checked.seconds, "seconds_total": checked.seconds}
        session.rollback()
        try:
            with one_transaction(session):
                owned = session.execute(update(CheckJob).where(self._owned(job.id)).values(**values)
                                        .execution_options(synchronize_session=False)).rowcount
                if owned != 1:
                    raise JobLost(job.id)
                job = session.get(CheckJob, job.id, populate_existing=True)
                if checked is not None and job.purpose == JobPurpose.lookup.value:
                    job.lookup_items = [{"item": checked.item.model_dump(mode="json"), "thumbnail_png":
                                         base64.b64encode(checked.thumbnail).decode() if checked.thumbnail else None}]
                elif checked is not None:
                    requester = Actor(key_id=job.requested_by, role=Role(job.requested_role))
                    job.check_id = checks.record_check(session, requester, checked.kind,
                                                       [checked.item]).id
                commit_change(session, SYSTEM_ACTOR, "check_job.finished", ENTITY, job)
        except JobLost:
            log.warning("check job %s was taken over by another worker", job.id)
            return
        forget_upload(session, self.blobs, job)

    def _requeue(self, session: Session, job: CheckJob) -> None:
        session.rollback()
        back = session.execute(update(CheckJob).where(self._owned(job.id))
                               .values(state=JobState.queued.value, worker=None, lease_until=None,
                                       frames_done=0, seconds_done=0.0)
                               .execution_options(synchronize_session=False)).rowcount == 1
        if not back:
            session.rollback()
            return
        commit_change(session, SYSTEM_ACTOR, "check_job.requeued", ENTITY,
                      session.get(CheckJob, job.id, populate_existing=True))


class WorkerPool:
    """``count`` worker threads in this process: the API's lifespan starts them and, at
    shutdown, stops them (a job in progress goes back to the queue for another worker)."""

    def __init__(self, count: int, engine: Engine, settings: Settings, blobs: LocalBlobStore,
                 index: IndexOf) -> None:
        self._stop, self._wakeup = threading.Event(), threading.Event()
        self.threads = [
            threading.Thread(target=Worker(engine, settings, blobs, index, stop=self._stop).serve,
                             args=(self._wakeup,), name=f"check-job-worker-{i}", daemon=True)
            for i in range(count)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wake(self) -> None:
        """A job was submitted: idle workers look now rather than at their next poll."""
        self._wakeup.set()

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()
        for thread in self.threads:
            thread.join()
