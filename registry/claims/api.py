from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import status as http
from sqlmodel import Session

from registry.auth.actor import Actor
from registry.auth.deps import AnyActor, require
from registry.auth.models import Role
from registry.claims import service
from registry.claims.models import Claim
from registry.claims.schemas import (
    ClaimCreate,
    ClaimDetail,
    ClaimEventRead,
    ClaimKind,
    ClaimRead,
    ClaimStatus,
    CommentRequest,
    TransitionRequest,
)
from registry.core.deps import SessionDep, SettingsDep
from registry.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

router = APIRouter(prefix="/v1/claims", tags=["Claims"])

# Rights holders file for themselves; admins on behalf of a holder.
CLAIMANTS = (Role.admin, Role.rights_holder)
Claimant = Annotated[Actor, Depends(require(*CLAIMANTS))]


def _detail(session: Session, actor: Actor, claim: Claim) -> ClaimDetail:
    return ClaimDetail.model_validate({
        **ClaimRead.model_validate(claim).model_dump(),
        "evidence": service.evidence_for(session, actor, claim),
        "events": [ClaimEventRead.model_validate(e) for e in service.events_of(session, claim.id)],
        "allowed_transitions": service.allowed_transitions(claim)})


@router.post("", status_code=http.HTTP_201_CREATED, response_model=ClaimDetail)
def file_claim(data: ClaimCreate, session: SessionDep, settings: SettingsDep,
               actor: Claimant) -> ClaimDetail:
    """File a copyright claim (against a generation whose linked checks matched the holder's
    works) or a compensation claim (against a model trained on a source version listing
    them). The evidence attaches itself: matches, manifests, Merkle and log proofs."""
    return _detail(session, actor, service.file_claim(session, settings, actor, data))


@router.get("", response_model=Page[ClaimRead])
def list_claims(
    session: SessionDep,
    actor: AnyActor,
    kind: ClaimKind | None = None,
    status: ClaimStatus | None = None,
    holder_id: Annotated[str | None, Query(max_length=40)] = None,
    generation_id: Annotated[str | None, Query(max_length=40)] = None,
    model_id: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[ClaimRead]:
    """Claims, oldest first; a rights holder sees its own only."""
    rows, next_cursor = service.list_claims(
        session, actor, kind=kind, status=status, holder_id=holder_id,
        generation_id=generation_id, model_id=model_id, cursor=cursor, limit=limit)
    return Page(items=[ClaimRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{claim_id}", response_model=ClaimDetail)
def get_claim(claim_id: str, session: SessionDep, actor: AnyActor) -> ClaimDetail:
    """A claim with its evidence and its history."""
    return _detail(session, actor, service.get_claim(session, actor, claim_id))


@router.post("/{claim_id}/transitions", response_model=ClaimDetail)
def transition(claim_id: str, body: TransitionRequest, session: SessionDep,
               actor: AnyActor) -> ClaimDetail:
    """Move a claim along filed → under_review → accepted | rejected → settled (admins and
    curators); an illegal step answers 409 with the allowed ones."""
    return _detail(session, actor, service.transition(session, actor, claim_id, body.to, body.comment))


@router.post("/{claim_id}/comments", status_code=http.HTTP_201_CREATED,
             response_model=ClaimEventRead)
def comment(claim_id: str, body: CommentRequest, session: SessionDep,
            actor: AnyActor) -> ClaimEventRead:
    """Comment on a claim: the claimant, admins and curators."""
    return ClaimEventRead.model_validate(service.add_comment(session, actor, claim_id, body.comment))
