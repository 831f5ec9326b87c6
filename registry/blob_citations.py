"""Whether a stored blob is cited by a record, and discarding it when not: written once
for every place that may discard a blob (a finished look-up's file, a cancelled or failed
check job's, a failed registration's), and asked of the database, which holds every
replica's committed records."""

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, and_, or_, select

from registry.assets.models import Asset
from registry.checkjobs.models import FINISHED, CheckJob, JobPurpose, JobState
from registry.checks.models import Check
from registry.core.blobstore import LocalBlobStore


def blob_cited(session: Session, sha256: str, *, since: datetime, except_job: str | None = None) -> bool:
    """A registered asset, a check job (while it runs, and after only a check job that
    succeeded: a look-up's answer, a cancelled or failed job keep nothing), or a check made
    since ``since`` (checks keep what they checked) that cites ``sha256``; ``except_job``
    is the asking job itself. ``since``: when the blob was stored by the one asking, as no
    check before could have kept it (which spares reading every check)."""
    asset = session.exec(select(Asset.id).where(Asset.sha256 == sha256).limit(1)).first()
    job = session.exec(select(CheckJob.id).where(
        CheckJob.sha256 == sha256, CheckJob.id != (except_job or ""),
        or_(CheckJob.state.not_in(FINISHED),
            and_(CheckJob.purpose == JobPurpose.check.value,
                 CheckJob.state == JobState.succeeded.value))).limit(1)).first()
    check = session.exec(select(Check.id).where(
        Check.created_at >= since, sa.cast(Check.items, sa.Text).contains(sha256)).limit(1)).first()
    return asset is not None or job is not None or check is not None


def discard_uncited(session: Session, blobs: LocalBlobStore, sha256: str, *, since: datetime,
                    except_job: str | None = None, mine: Path | None = None) -> bool:
    """Remove the blob if no record cites it (``blob_cited``) and no upload of the same
    content is under way (``LocalBlobStore.discard_unless``, which asks again once the blob
    is set aside); ``mine``: the caller's own hold. Returns whether it went."""
    def cited() -> bool:
        return blob_cited(session, sha256, since=since, except_job=except_job)

    return not cited() and blobs.discard_unless(sha256, cited, mine=mine)
