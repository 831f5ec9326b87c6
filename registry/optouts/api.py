from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from registry.auth.actor import Actor
from registry.auth.deps import AnyActor, require
from registry.auth.models import Role
from registry.core.crud import RetireRequest
from registry.core.deps import SessionDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from registry.optouts import service
from registry.optouts.schemas import FlagsRead, OptOutCreate, OptOutRead

router = APIRouter(tags=["Opt-outs"])

# A holder reserves its own works; an admin may record one on a holder's behalf.
FILERS = (Role.admin, Role.rights_holder)
Filer = Annotated[Actor, Depends(require(*FILERS))]


@router.post("/v1/opt-outs", status_code=status.HTTP_201_CREATED, response_model=OptOutRead)
def create_opt_out(data: OptOutCreate, session: SessionDep, actor: Filer) -> OptOutRead:
    """Reserve a work (by SHA-256 and/or imagehash.phash) against AI training from a date."""
    return OptOutRead.of(service.create_opt_out(session, actor, data))


@router.get("/v1/opt-outs", response_model=Page[OptOutRead])
def list_opt_outs(
    session: SessionDep,
    actor: AnyActor,
    holder_id: Annotated[str | None, Query(max_length=40)] = None,
    retired: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[OptOutRead]:
    """A rights holder lists its own opt-outs; other roles list all."""
    rows, next_cursor = service.list_opt_outs(session, actor, holder_id=holder_id,
                                              retired=retired, cursor=cursor, limit=limit)
    return Page(items=[OptOutRead.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/opt-outs/{opt_out_id}", response_model=OptOutRead)
def get_opt_out(opt_out_id: str, session: SessionDep, actor: AnyActor) -> OptOutRead:
    return OptOutRead.of(service.get_opt_out(session, actor, opt_out_id))


@router.post("/v1/opt-outs/{opt_out_id}/retire", response_model=OptOutRead)
def withdraw_opt_out(opt_out_id: str, body: RetireRequest, session: SessionDep,
                     actor: Filer) -> OptOutRead:
    """Withdraw the reservation (it stays on record, retired)."""
    return OptOutRead.of(service.withdraw_opt_out(session, actor, opt_out_id, body.reason))


@router.get("/v1/flags", response_model=FlagsRead)
def list_flags(
    request: Request,
    session: SessionDep,
    actor: AnyActor,
    on: Annotated[date | None, Query(description="Judge licence expiry on this date "
                                                 "(default today, UTC)")] = None,
) -> FlagsRead:
    """Sources holding opted-out works or used under expired licences, and the models
    trained on them after the opt-out took effect or the licence ended. A rights holder
    sees only flags on its own works."""
    return service.flags(session, actor, on, request.app.state.index.caught_up(session))
