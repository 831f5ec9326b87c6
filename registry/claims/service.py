"""Claims: a rights holder's copyright claim against a generation or compensation claim
against a model, with its evidence attached at filing and a reviewed lifecycle.

Every step (filing, status change, comment) is a ``ClaimEvent`` committed together with the
claim. The claim is the audited record and its events are logged with it as an ``extra``
(like a source's holder links): each step appends one ``claim`` entry whose data holds the
claim and its full event history, so ``registry verify-log`` replays both tables.
"""

import copy
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from registry.access import readable_held, scoped, withheld_entries
from registry.auth.actor import Actor
from registry.auth.models import Role
from registry.claims.errors import IllegalTransition
from registry.claims.evidence import compensation_evidence, copyright_evidence
from registry.claims.models import Claim, ClaimEvent
from registry.claims.schemas import ClaimCreate, ClaimKind, ClaimStatus, CompensationEvidence, CopyrightEvidence
from registry.core.config import Settings
from registry.core.crud import require_live, retry_on_concurrent_change
from registry.core.errors import Conflict, Forbidden
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.core.pagination import paginate
from registry.holders.service import filing_holder, get_held_record
from registry.lineage.models import AIModel, Generation
from registry.lineage.service import generation_matches, training_mix
from registry.unit_of_work import commit_change

ENTITY = "claim"

S = ClaimStatus
# The lifecycle of the issue: filed → under_review → accepted | rejected → settled
# (settled only from accepted). Rejected and settled are final.
TRANSITIONS: dict[ClaimStatus, tuple[ClaimStatus, ...]] = {
    S.filed: (S.under_review,),
    S.under_review: (S.accepted, S.rejected),
    S.accepted: (S.settled,),
    S.rejected: (),
    S.settled: (),
}
# Reviewing and settling is the registry's job; the claimant and auditors only watch
# (the claimant may comment).
REVIEWERS = frozenset({Role.admin, Role.curator})
PARTIES = frozenset({Role.admin, Role.curator, Role.rights_holder})
OPEN = (S.filed.value, S.under_review.value, S.accepted.value)


def events_of(session: Session, claim_id: str) -> list[ClaimEvent]:
    return events_by_claim(session, [claim_id])[claim_id]


def events_by_claim(session: Session, claim_ids: list[str]) -> dict[str, list[ClaimEvent]]:
    """Each claim's events, in the order they happened: one query for many claims."""
    events: dict[str, list[ClaimEvent]] = {claim_id: [] for claim_id in claim_ids}
    for event in session.exec(select(ClaimEvent).where(ClaimEvent.claim_id.in_(claim_ids))
                              .order_by(ClaimEvent.claim_id, ClaimEvent.at, ClaimEvent.id)).all():
        events[event.claim_id].append(event)
    return events


def allowed_transitions(claim: Claim) -> list[ClaimStatus]:
    return list(TRANSITIONS[ClaimStatus(claim.status)])


def _event(claim: Claim, actor: Actor, to: str, comment: str | None,
           from_status: str | None) -> ClaimEvent:
    return ClaimEvent(id=new_id("cev"), claim_id=claim.id, from_status=from_status,
                      to_status=to, comment=comment, actor=actor.key_id)


def _no_open_claim(session: Session, holder_id: str, kind: ClaimKind, column: Any,
                   target_id: str) -> None:
    duplicate = session.exec(select(Claim.id).where(
        Claim.holder_id == holder_id, Claim.kind == kind.value, column == target_id,
        Claim.status.in_(OPEN))).first()
    if duplicate:
        raise Conflict(f"rights holder {holder_id} already has an open {kind.value} claim "
                       f"against {target_id}: {duplicate} (comment on it instead)")


def file_claim(session: Session, settings: Settings, actor: Actor, data: ClaimCreate) -> Claim:
    holder_id = filing_holder(session, actor, data.holder_id, "claims")
    evidence: CopyrightEvidence | CompensationEvidence
    if data.kind is ClaimKind.copyright:
        generation = require_live(session, Generation, data.generation_id or "", "generation")
        _no_open_claim(session, holder_id, data.kind, Claim.generation_id, generation.id)
        evidence = copyright_evidence(session, settings, holder_id, generation)
    else:
        model = require_live(session, AIModel, data.model_id or "", "model")
        _no_open_claim(session, holder_id, data.kind, Claim.model_id, model.id)
        evidence = compensation_evidence(session, settings, holder_id, model)
    claim = Claim(id=new_id("clm"), kind=data.kind.value, holder_id=holder_id,
                  generation_id=data.generation_id, model_id=data.model_id,
                  status=S.filed.value, statement=data.statement,
                  evidence=evidence.model_dump(mode="json"), filed_by=actor.key_id)
    session.add(claim)
    session.add(_event(claim, actor, S.filed.value, None, None))
    try:
        commit_change(session, actor, "claim.filed", ENTITY, claim)
    except IntegrityError:
        # a simultaneous filing against the same target won the unique index: name it
        target = Claim.generation_id if data.kind is ClaimKind.copyright else Claim.model_id
        _no_open_claim(session, holder_id, data.kind, target, data.generation_id or data.model_id or "")
        raise
    return claim


def get_claim(session: Session, actor: Actor, claim_id: str) -> Claim:
    return get_held_record(session, actor, Claim, claim_id, "claim")


def evidence_for(session: Session, actor: Actor, claim: Claim) -> dict[str, Any]:
    """The claim's evidence as the actor may read it: the log entry of a check that matched
    other holders' works too, or of a model trained on sources a rights holder may not read,
    is cited by its inclusion proof without its payload (``withheld_entries``), as in
    copyright-evidence reports."""
    if not scoped(actor):
        return claim.evidence
    named: dict[str, tuple[set[str], list[str]]] = {}
    if claim.generation_id:
        for match in generation_matches(session, claim.generation_id):
            named.setdefault(match["check_id"], (set(), []))[0].add(match["asset_id"])
    if claim.model_id:
        named[claim.model_id] = (set(), [link.source_id for link in training_mix(session, claim.model_id)])
    withheld = withheld_entries(session, actor, named)
    if not withheld:
        return claim.evidence
    evidence = copy.deepcopy(claim.evidence)
    cited = [evidence.get("generation_log"), evidence.get("model_log"),
             *evidence.get("checks", []), *evidence.get("manifests", [])]
    for proof in (c["log"] for c in cited if c and c.get("log")):
        if proof["entity_id"] in withheld:
            proof["payload"] = None
    return evidence


@retry_on_concurrent_change
def transition(session: Session, actor: Actor, claim_id: str, to: ClaimStatus,
               comment: str | None) -> Claim:
    claim = get_claim(session, actor, claim_id)
    if actor.role not in REVIEWERS:
        raise Forbidden(f"role '{actor.role.value}' may not move a claim; admins and curators "
                        "review and settle claims")
    allowed = allowed_transitions(claim)
    if to not in allowed:
        raise IllegalTransition(claim.id, claim.status, to.value, [s.value for s in allowed])
    previous = claim.status
    claim.status = to.value
    claim.updated_at = utcnow()
    session.add(claim)
    session.add(_event(claim, actor, to.value, comment, previous))
    commit_change(session, actor, f"claim.{to.value}", ENTITY, claim)
    return claim


@retry_on_concurrent_change
def add_comment(session: Session, actor: Actor, claim_id: str, comment: str) -> ClaimEvent:
    claim = get_claim(session, actor, claim_id)
    if actor.role not in PARTIES:
        raise Forbidden(f"role '{actor.role.value}' is not a party to claims and may not comment")
    event = _event(claim, actor, claim.status, comment, claim.status)
    # The claim's row changes with every event, so events are logged one at a time, each
    # entry holding the history up to it.
    claim.updated_at = utcnow()
    session.add(claim)
    session.add(event)
    commit_change(session, actor, "claim.commented", ENTITY, claim)
    return event


def list_claims(session: Session, actor: Actor, *, kind: ClaimKind | None,
                status: ClaimStatus | None, holder_id: str | None, generation_id: str | None,
                model_id: str | None, cursor: str | None,
                limit: int) -> tuple[list[Claim], str | None]:
    stmt = readable_held(select(Claim), actor, Claim.holder_id)
    if kind:
        stmt = stmt.where(Claim.kind == kind.value)
    if status:
        stmt = stmt.where(Claim.status == status.value)
    if holder_id:
        stmt = stmt.where(Claim.holder_id == holder_id)
    if generation_id:
        stmt = stmt.where(Claim.generation_id == generation_id)
    if model_id:
        stmt = stmt.where(Claim.model_id == model_id)
    return paginate(session, stmt, Claim.id, cursor, limit)
