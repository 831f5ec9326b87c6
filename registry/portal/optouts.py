"""The portal's opt-out page: record a reservation against AI training for a work (by its
digest, computed in the browser, and/or its pHash), see which sources hold opted-out works
and which models trained on them, withdraw one. The API's services and rules decide."""

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from registry.auth.deps import check_role
from registry.core.deps import SessionDep
from registry.core.errors import InvalidInput, sentence
from registry.optouts import service as optouts
from registry.optouts.api import FILERS
from registry.optouts.schemas import OptOutCreate, OptOutRead
from registry.portal.pages import FormMe, Me, PortalRoute, first_error, page
from registry.portal.service import SignedIn

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
OPT_OUTS_PER_PAGE = 100


def _opt_out_page(request: Request, session: SessionDep, me: SignedIn, status: int = 200,
                  error: str | None = None, cursor: str | None = None, **prefill: str) -> Response:
    rows, next_cursor = optouts.list_opt_outs(session, me.actor, holder_id=None, retired=None,
                                              cursor=cursor, limit=OPT_OUTS_PER_PAGE)
    flags = optouts.flags(session, me.actor, None, request.app.state.index.caught_up(session))
    return page(request, "optouts.html", me, status=status, error=error, prefill=prefill,
                rows=[OptOutRead.of(r) for r in rows], next_cursor=next_cursor, flags=flags,
                today=date.today().isoformat())


@router.get("/opt-outs")
def opt_outs(request: Request, session: SessionDep, me: Me, cursor: str | None = None,
             sha256: str | None = None) -> Response:
    return _opt_out_page(request, session, me, cursor=cursor, sha256=(sha256 or "")[:64])


@router.post("/opt-outs")
def record_opt_out(request: Request, session: SessionDep, me: FormMe,
                   sha256: Annotated[str, Form(max_length=64)] = "",
                   phash: Annotated[str, Form(max_length=16)] = "",
                   effective_from: Annotated[str, Form(max_length=10)] = "",
                   note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    check_role(me.actor, FILERS)
    try:
        day = date.fromisoformat(effective_from) if effective_from else date.today()
        data = OptOutCreate(sha256=sha256.strip() or None, phash=phash.strip() or None, note=note.strip() or None,
                            effective_from=datetime.combine(day, time(), tzinfo=UTC))
    except ValidationError as exc:
        field, message = first_error(exc)
        error = sentence(f"{field or 'the work'}: {message}")
        return _opt_out_page(request, session, me, status=422, error=error, sha256=sha256, phash=phash, note=note)
    except ValueError:
        return _opt_out_page(request, session, me, status=422, sha256=sha256, phash=phash, note=note,
                             error="Give the date it takes effect as a calendar date.")
    optouts.create_opt_out(session, me.actor, data)
    return RedirectResponse("/opt-outs#recorded", status_code=303)


@router.post("/opt-outs/{opt_out_id}/retire")
def withdraw(opt_out_id: str, session: SessionDep, me: FormMe,
             reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    check_role(me.actor, FILERS)
    if len(reason.strip()) < 3:
        raise InvalidInput("say in a few words why the opt-out is withdrawn")
    optouts.withdraw_opt_out(session, me.actor, opt_out_id, reason.strip())
    return RedirectResponse("/opt-outs#recorded", status_code=303)
