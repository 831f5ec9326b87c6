"""The portal's claim pages: file a claim from a look-up, follow it, comment, download its
evidence; curators and administrators review the queue. Every step is the API's service
call with the signed-in actor, so the same rules (who may file, comment or move a claim)
decide here as in ``/v1/claims``."""

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from registry.auth.deps import check_role
from registry.claims import service as claims
from registry.claims.api import CLAIMANTS
from registry.claims.schemas import ClaimCreate, ClaimStatus
from registry.claims.service import REVIEWERS
from registry.core.deps import BlobsDep, SessionDep, SettingsDep
from registry.core.errors import InvalidInput, NotFound
from registry.lineage.models import AIModel, Generation
from registry.portal.pages import FormMe, Me, PortalRoute, download, first_error, page
from registry.reports import render_pdf
from registry.reports import service as reports
from registry.reports.signing import ENVELOPE_MEDIA_TYPE, envelope_bytes

router = APIRouter(include_in_schema=False, route_class=PortalRoute)
OPEN = [ClaimStatus.filed, ClaimStatus.under_review, ClaimStatus.accepted]
CLAIMS_PER_PAGE = 50

Text = Annotated[str, Form(max_length=10_000)]


@router.get("/claims")
def list_claims(request: Request, session: SessionDep, me: Me, status: ClaimStatus | None = None,
                cursor: str | None = None) -> Response:
    """A rights holder's own claims; for reviewers, the queue (open claims unless a status is
    chosen)."""
    reviewing = me.actor.role in REVIEWERS
    rows, next_cursor = claims.list_claims(session, me.actor, kind=None, status=status, holder_id=None,
                                           generation_id=None, model_id=None, cursor=cursor,
                                           limit=CLAIMS_PER_PAGE)
    if reviewing and status is None:
        rows = [c for c in rows if ClaimStatus(c.status) in OPEN]
    return page(request, "claims.html", me, rows=rows, next_cursor=next_cursor, chosen=status,
                reviewing=reviewing, statuses=list(ClaimStatus))


@router.post("/claims")
def file_claim(request: Request, session: SessionDep, settings: SettingsDep, me: FormMe,
               kind: Annotated[str, Form(max_length=20)] = "", statement: Text = "",
               generation_id: Annotated[str | None, Form(max_length=40)] = None,
               model_id: Annotated[str | None, Form(max_length=40)] = None) -> Response:
    if not statement.strip():
        raise InvalidInput("say in the statement what the claim is about, then file it again")
    try:
        data = ClaimCreate.model_validate({"kind": kind, "generation_id": generation_id or None,
                                           "model_id": model_id or None, "statement": statement.strip()})
    except ValidationError as exc:
        raise InvalidInput(f"the claim is incomplete: {first_error(exc)[1]}") from None
    claim = claims.file_claim(session, settings, check_role(me.actor, CLAIMANTS), data)
    return RedirectResponse(f"/claims/{claim.id}", status_code=303)


@router.get("/claims/{claim_id}")
def claim_page(claim_id: str, request: Request, session: SessionDep, me: Me) -> Response:
    claim = claims.get_claim(session, me.actor, claim_id)
    generation = session.get(Generation, claim.generation_id) if claim.generation_id else None
    model = session.get(AIModel, claim.model_id or (generation.model_id if generation else ""))
    return page(request, "claim.html", me, claim=claim, generation=generation, model=model,
                events=claims.events_of(session, claim.id),
                transitions=claims.allowed_transitions(claim) if me.actor.role in REVIEWERS else [])


@router.post("/claims/{claim_id}/comments")
def comment(claim_id: str, session: SessionDep, me: FormMe, text: Text = "") -> Response:
    if not text.strip():
        raise InvalidInput("write a comment before adding it")
    claims.add_comment(session, me.actor, claim_id, text.strip())
    return RedirectResponse(f"/claims/{claim_id}#history", status_code=303)


@router.post("/claims/{claim_id}/transitions")
def transition(claim_id: str, session: SessionDep, me: FormMe,
               to: Annotated[str, Form(max_length=20)] = "", text: Text = "") -> Response:
    if to not in ClaimStatus._value2member_map_:
        raise InvalidInput("choose the status to move the claim to")
    claims.transition(session, me.actor, claim_id, ClaimStatus(to), text.strip() or None)
    return RedirectResponse(f"/claims/{claim_id}#history", status_code=303)


@router.get("/claims/{claim_id}/evidence.{fmt}")
def evidence(claim_id: str, fmt: str, session: SessionDep, settings: SettingsDep, blobs: BlobsDep,
             me: Me) -> Response:
    """The claim's evidence as filed (JSON, as the actor may read it); for a copyright claim
    also the copyright-evidence report as PDF and as signed JSON (DSSE), made now."""
    claim = claims.get_claim(session, me.actor, claim_id)
    if fmt == "json":
        body = json.dumps(claims.evidence_for(session, me.actor, claim), indent=2).encode()
        return download(body, "application/json", f"claim-{claim.id}-evidence.json")
    if fmt not in ("pdf", "dsse.json") or claim.generation_id is None:
        raise NotFound("this claim has no evidence in that format")
    report, images = reports.copyright_evidence(session, settings, blobs, me.actor, claim.generation_id)
    if fmt == "pdf":
        return download(render_pdf.evidence_pdf(report, images), "application/pdf",
                        f"copyright-evidence-{claim.generation_id}.pdf")
    return download(envelope_bytes(session, settings, report), ENVELOPE_MEDIA_TYPE,
                    f"copyright-evidence-{claim.generation_id}.dsse.json")

