"""May these sources be used for this use?

Each source is judged under its own licence and under every different licence its live
assets carry. Sources combine like the Data Provenance Initiative's licence ladder: any
denial wins, otherwise obligations accumulate (conditional), otherwise allowed.
"""

from collections import defaultdict
from datetime import UTC, date, datetime

from sqlmodel import Session, select

from registry.assets.models import Asset
from registry.auth.actor import Actor
from registry.evaluation.c2pa_terms import c2pa_terms
from registry.evaluation.schemas import (
    EvaluationRequest,
    EvaluationResult,
    Obligation,
    Reason,
    SourceEvaluation,
    Use,
    Verdict,
)
from registry.fingerprints.live import LiveIndex
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.licences.schemas import WORLDWIDE
from registry.optouts.service import opt_out_reasons
from registry.signals.service import signal_reasons
from registry.sources.models import Source
from registry.sources.service import get_source, holder_ids_of

# Every listed use involves training a model on the material.
_COMMERCIAL = {Use.commercial_training, Use.commercial_release}


def licence_reasons(licence: Licence, use: Use, on: date, territory: str | None) -> list[Reason]:
    reasons = []

    def deny(code: str, message: str) -> None:
        reasons.append(Reason(code=code, message=f"{licence.identifier}: {message}",
                              licence_id=licence.id))

    if licence.retired_at is not None:
        deny("licence_retired", f"licence record retired ({licence.retired_reason})")
    if use in _COMMERCIAL and not licence.commercial_use:
        deny("non_commercial", "the licence forbids commercial use")
    if use is Use.commercial_release and not licence.derivatives:
        deny("no_derivatives", "the licence forbids derivatives; released outputs adapt the work")
    if licence.ai_training == "not_allowed":
        deny("ai_training_not_allowed", "the licence does not allow AI training")
    if licence.valid_until and on > licence.valid_until:
        deny("expired", f"the licence expired on {licence.valid_until.isoformat()}")
    if licence.valid_from and on < licence.valid_from:
        deny("not_yet_valid", f"the licence starts on {licence.valid_from.isoformat()}")
    if territory and WORLDWIDE not in licence.territory and territory not in licence.territory:
        deny("territory", f"the licence does not cover {territory}")
    return reasons


def licence_obligations(licence: Licence, use: Use, credit: str) -> list[Obligation]:
    obligations = []
    if licence.attribution_required:
        obligations.append(Obligation(kind="attribution", licence_id=licence.id, text=credit))
    if licence.share_alike and use is Use.commercial_release:
        obligations.append(Obligation(
            kind="share_alike", licence_id=licence.id,
            text=f"adapted material must be shared under {licence.identifier} or a compatible licence"))
    if licence.ai_training == "constrained":
        obligations.append(Obligation(kind="training_constraint", licence_id=licence.id,
                                       text=licence.ai_training_constraint or ""))
    if use in _COMMERCIAL and licence.fee_flat:
        obligations.append(Obligation(kind="flat_fee", licence_id=licence.id,
                                      text=f"flat fee of {licence.fee_flat} {licence.currency}",
                                      amount=licence.fee_flat, currency=licence.currency))
    if use in _COMMERCIAL and licence.royalty_rate:
        obligations.append(Obligation(kind="royalty", licence_id=licence.id,
                                      text=f"royalty of {licence.royalty_rate * 100:g}% of revenue",
                                      amount=licence.royalty_rate, currency=licence.currency))
    return obligations


def credit_line(source: Source, holders: list[RightsHolder], licence: Licence) -> str:
    names = ", ".join(h.name for h in holders) or "unknown rights holder"
    where = f" ({licence.url})" if licence.url else ""
    return f'"{source.name}" {source.version} by {names}, licensed under {licence.name}{where}'


def _source_signals(source: Source, use: Use) -> list[Reason]:
    reasons = []
    if source.retired_at is not None:
        reasons.append(Reason(code="source_retired",
                              message=f"source retired: {source.retired_reason}"))
    for signal in source.opt_out_signals:
        if signal.get("reserved"):
            reasons.append(Reason(
                code="opt_out_signal",
                message=f"{signal['signal']} reserved rights against AI training at acquisition"
                        + (f": {signal['detail']}" if signal.get("detail") else "")))
    return reasons


def evaluate_sources(session: Session, sources: list[Source], use: Use, on: date,
                     territory: str | None, live: LiveIndex | None = None,
                     reader: Actor | None = None
                     ) -> dict[str, SourceEvaluation]:
    """Each source judged under its own licence and its live assets' other licences, with
    its works' opt-outs and the training terms of their C2PA manifests; a fixed number of
    queries however many sources there are. ``live``: also match opted-out works against
    registered clips' frames; ``reader``: who reads the answer (another holder's opt-out is
    not named to a rights holder)."""
    ids = [s.id for s in sources]
    asset_licences: dict[str, set[str]] = defaultdict(set)
    for source_id, licence_id in session.exec(
            select(Asset.source_id, Asset.licence_id).where(
                Asset.source_id.in_(ids), Asset.retired_at.is_(None),
                Asset.licence_id.is_not(None)).distinct()).all():
        asset_licences[source_id].add(licence_id)
    licence_ids = {s.licence_id for s in sources}.union(*asset_licences.values())
    licences = {lic.id: lic for lic in session.exec(select(Licence).where(Licence.id.in_(licence_ids))).all()}
    holder_ids = holder_ids_of(session, ids)
    holders = {h.id: h for h in session.exec(select(RightsHolder).where(
        RightsHolder.id.in_({h for hs in holder_ids.values() for h in hs}))).all()}
    # Every use trains on the material, so a work reserved against training denies them all.
    opted_out = opt_out_reasons(session, ids, on, live, reader)
    # ... and so does a work whose own Content Credentials forbid it, or what crawlers
    # observed: a reservation, or a limit no licence here answers.
    c2pa_reasons, c2pa_obligations = c2pa_terms(session, sources, licences, reader)
    signalled = signal_reasons(session, sources, on, licences, reader)
    result = {}
    for source in sources:
        names = [holders[h] for h in holder_ids.get(source.id, []) if h in holders]
        reasons = (_source_signals(source, use) + opted_out.get(source.id, []) + c2pa_reasons[source.id]
                   + signalled.get(source.id, []))
        obligations: list[Obligation] = list(c2pa_obligations[source.id])
        source_licences = sorted({source.licence_id} | asset_licences[source.id])
        for licence in (licences[i] for i in source_licences if i in licences):
            reasons += licence_reasons(licence, use, on, territory)
            obligations += licence_obligations(licence, use, credit_line(source, names, licence))
        verdict = Verdict.denied if reasons else Verdict.conditional if obligations else Verdict.allowed
        result[source.id] = SourceEvaluation(source_id=source.id, verdict=verdict,
                                             licence_ids=source_licences, reasons=reasons,
                                             obligations=obligations)
    return result


def evaluate(session: Session, actor: Actor, request: EvaluationRequest,
             live: LiveIndex | None = None) -> EvaluationResult:
    on = request.on or datetime.now(UTC).date()
    sources = [get_source(session, actor, sid) for sid in dict.fromkeys(request.source_ids)]
    by_id = evaluate_sources(session, sources, request.use, on, request.territory, live, actor)
    results = [by_id[source.id] for source in sources]
    verdicts = {r.verdict for r in results}
    verdict = (Verdict.denied if Verdict.denied in verdicts else
               Verdict.conditional if Verdict.conditional in verdicts else Verdict.allowed)
    return EvaluationResult(use=request.use, on=on, territory=request.territory, verdict=verdict,
                            sources=results, reasons=[x for r in results for x in r.reasons],
                            obligations=[x for r in results for x in r.obligations])
