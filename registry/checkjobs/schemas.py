from datetime import datetime

from pydantic import BaseModel, Field

from registry.checkjobs.models import CheckJob, JobPurpose, JobState


class JobProgress(BaseModel):
    frames_done: int
    frames_total: int | None = Field(description="As the container declares it until the job "
                                                 "succeeds, then the frames decoded")
    seconds_done: float = Field(description="Media time decoded so far")
    seconds_total: float | None


class CheckJobRead(BaseModel):
    id: str
    purpose: JobPurpose = Field(description="check (the result is a stored check) or lookup (a "
                                            "rights holder's look-up in the portal: its answer is "
                                            "its requester's, and its file is removed after)")
    state: JobState
    filename: str
    media_type: str
    sha256: str
    requested_by: str
    progress: JobProgress
    attempts: int = Field(description="Times a worker started it (a job whose worker died is "
                                      "started again from the beginning)")
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="Why it failed: a problem title and its detail")
    result: str | None = Field(description="The stored check (GET /v1/checks/{id}) once it "
                                           "succeeded")

    @classmethod
    def of(cls, job: CheckJob) -> "CheckJobRead":
        return cls(id=job.id, purpose=JobPurpose(job.purpose), state=JobState(job.state), filename=job.filename,
                   media_type=job.media_type, sha256=job.sha256, requested_by=job.requested_by,
                   progress=JobProgress(frames_done=job.frames_done, frames_total=job.frames_total,
                                        seconds_done=job.seconds_done,
                                        seconds_total=job.seconds_total),
                   attempts=job.attempts, cancel_requested=job.cancel_requested,
                   created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at, error=job.error, result=job.check_id)
