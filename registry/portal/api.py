"""The portal's pages at ``/``: sign in with a key, the works it may read, look up a work
(and, included here, the claim, opt-out and statement pages).

Each page reads through the same services, with the same actor, as the API: it never shows
more than the key could read through ``/v1``. Errors are pages with a sentence, never JSON.
"""

import base64
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from registry.assets.media import MediaInfo, declared_clip_seconds
from registry.assets.service import get_asset
from registry.checkjobs import service as jobs
from registry.checkjobs.models import FINISHED, JobPurpose, JobState
from registry.checks import service as checks
from registry.checks.descriptors import QueryDescriptor
from registry.checks.schemas import CheckItem, FingerprintQuery
from registry.core.deps import BlobsDep, SessionDep, SettingsDep
from registry.core.errors import InvalidInput, RegistryError, sentence
from registry.holders.models import RightsHolder
from registry.lookup import service as lookups
from registry.portal import service
from registry.portal.claims import router as claims_router
from registry.portal.optouts import router as optouts_router
from registry.portal.pages import (
    SESSION_COOKIE,
    ForeignForm,
    FormMe,
    Me,
    PortalRoute,
    local,
    page,
    problem,
    signed_in,
)
from registry.portal.service import SignedIn, same_token
from registry.portal.statements import router as statements_router
from registry.portal.views import works_page
from registry.reports.frames import thumbnail, thumbnail_file

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
for pages_of_a_domain in (claims_router, optouts_router, statements_router):
    router.include_router(pages_of_a_domain)
_DESCRIPTOR: TypeAdapter[QueryDescriptor] = TypeAdapter(QueryDescriptor)
# Before sign-in there is no session to hold a CSRF token: the sign-in form's token is
# also set as a cookie and the two must agree (a cross-site page can set neither).
SIGN_IN_COOKIE = "registry_sign_in"


def _png_uri(png_base64: str | None) -> str | None:
    return f"data:image/png;base64,{png_base64}" if png_base64 else None


# -- signing in and out -------------------------------------------------------------------
@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    return RedirectResponse("/works" if signed_in(request, session) else "/sign-in", status_code=303)


def _sign_in_page(request: Request, me: SignedIn | None, next: str | None, status: int = 200,
                  error: str | None = None) -> Response:
    """The sign-in form, with a fresh form token set as its cookie too."""
    token = service.new_form_token()
    response = page(request, "sign_in.html", me, status=status, csrf_token=token, next=local(next),
                    error=error)
    response.set_cookie(SIGN_IN_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=3600, path="/sign-in")
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    return _sign_in_page(request, signed_in(request, session), next)


@router.post("/sign-in")
def sign_in(request: Request, session: SessionDep, settings: SettingsDep,
            api_key: Annotated[str, Form(max_length=200)] = "",
            csrf_token: Annotated[str, Form(max_length=100)] = "",
            next: Annotated[str, Form(max_length=500)] = "/works") -> Response:
    if not same_token(request.cookies.get(SIGN_IN_COOKIE), csrf_token):
        return problem(request, None, 403, "This sign-in form has expired or did not come from "
                                            "this site. Open the sign-in page again and retry.")
    try:
        token, record = service.sign_in(session, api_key, settings.portal_session_hours)
    except RegistryError:
        return _sign_in_page(request, None, next, status=401, error="That key was not accepted: check "
                             "that you copied all of it and that it has not been revoked.")
    response = RedirectResponse(local(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/",
                        max_age=int(settings.portal_session_hours * 3600))
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep,
             csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    me = signed_in(request, session)
    if me is not None and not same_token(me.csrf_token, csrf_token):
        raise ForeignForm  # a cross-site page cannot sign the browser out either
    service.sign_out(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- my works -----------------------------------------------------------------------------
@router.get("/works")
def works(request: Request, session: SessionDep, me: Me, cursor: str | None = None) -> Response:
    rows, next_cursor = works_page(session, me.actor, cursor)
    holder = session.get(RightsHolder, me.actor.holder_id) if me.actor.holder_id else None
    return page(request, "works.html", me, rows=rows, next_cursor=next_cursor, holder=holder)


@router.get("/works/{asset_id}/thumbnail")
def work_thumbnail(asset_id: str, request: Request, session: SessionDep, blobs: BlobsDep,
                   t: float | None = None) -> Response:
    me = signed_in(request, session)
    if me is None:
        return Response(status_code=401)
    try:
        asset = get_asset(session, me.actor, asset_id)  # the API's scope: 404 outside it
    except RegistryError as exc:
        return Response(status_code=exc.status)
    default_time = min(1.0, (asset.duration_s or 0.0) / 2)
    frame = thumbnail(blobs, asset.sha256, asset.media_type, default_time if t is None else max(0.0, t))
    if frame is None:
        return Response(status_code=404)
    return Response(frame.png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


# -- look up a work -----------------------------------------------------------------------
@router.get("/lookup")
def lookup_form(request: Request, me: Me) -> Response:
    return page(request, "lookup.html", me)


@router.post("/lookup")
def lookup(request: Request, session: SessionDep, settings: SettingsDep, blobs: BlobsDep, me: FormMe,
           work: Annotated[UploadFile | None, File()] = None,
           mode: Annotated[str, Form(max_length=20)] = "file") -> Response:
    if work is None or not work.filename:
        return page(request, "lookup.html", me, status=422, error="Choose a file to look up.")
    live = request.app.state.index.caught_up(session)
    shown: dict[str, Any] = {}
    try:
        if mode == "descriptor":
            items = checks.check_fingerprints(session, live, _descriptor_query(work))
        else:
            seconds = declared_clip_seconds(work.file)
            if seconds is not None and seconds > settings.sync_clip_max_seconds:
                # Too long to answer while the request waits: a look-up job, with progress.
                job = jobs.submit(session, blobs, settings, me.actor, work.filename, work.file,
                                  purpose=JobPurpose.lookup)
                request.app.state.jobs.wake()
                return RedirectResponse(f"/lookup/jobs/{job.id}", status_code=303)

            def keep_thumbnail(staged: Path, info: MediaInfo) -> None:
                frame = thumbnail_file(staged, info.media_type, 0.0)
                shown["upload"] = _png_uri(base64.b64encode(frame.png).decode() if frame else None)
                shown["seconds"] = info.duration_s

            items = [checks.check_upload(session, live, blobs, settings, work.filename, work.file,
                                         on_staged=keep_thumbnail)]
        answer = lookups.answer(session, me.actor, items)
    except RegistryError as exc:
        return page(request, "lookup.html", me, status=exc.status, error=sentence(exc.detail))
    return page(request, "lookup_result.html", me, answer=answer, upload_thumbnail=shown.get("upload"),
                 uploaded_name=work.filename, by_descriptor=mode == "descriptor",
                 query_seconds=shown.get("seconds"))


def _descriptor_query(work: UploadFile) -> FingerprintQuery:
    try:
        return FingerprintQuery(descriptors=[_DESCRIPTOR.validate_json(work.file.read())])
    except ValidationError:
        raise InvalidInput("that file is not a query descriptor written by `registry fingerprint "
                           "FILE` (choose the .json file it wrote, or look up the work itself)") from None


class JobProgressRead(BaseModel):
    state: JobState
    seconds_done: float
    seconds_total: float | None


@router.get("/lookup/jobs/{job_id}")
def lookup_job(job_id: str, request: Request, session: SessionDep, me: Me) -> Response:
    """A long clip's look-up: its progress while it runs, then its answer."""
    job = jobs.get_lookup_job(session, me.actor, job_id)
    if job.state == JobState.succeeded.value:
        entries = job.lookup_items or []
        items = [CheckItem.model_validate(entry["item"]) for entry in entries]
        thumbnail = next((_png_uri(e["thumbnail_png"]) for e in entries if e.get("thumbnail_png")), None)
        return page(request, "lookup_result.html", me, answer=lookups.answer(session, me.actor, items),
                    upload_thumbnail=thumbnail, uploaded_name=job.filename, by_descriptor=False,
                    query_seconds=job.seconds_total)
    if job.state in FINISHED:
        return problem(request, me, 422 if job.error else 409, job.error or f"The look-up was {job.state}")
    return page(request, "lookup_job.html", me, job=job)


@router.get("/lookup/jobs/{job_id}/progress")
def lookup_job_progress(job_id: str, session: SessionDep, me: Me) -> JobProgressRead:
    job = jobs.get_lookup_job(session, me.actor, job_id)
    return JobProgressRead(state=JobState(job.state), seconds_done=job.seconds_done,
                           seconds_total=job.seconds_total)
