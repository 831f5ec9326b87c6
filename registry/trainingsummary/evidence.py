"""Section 3.1's evidence: what the registry holds about each source's text-and-data-mining
reservations. ``tdm_evidence`` is the one place that gathers it, so a new kind of evidence
is added here and reaches every output."""

from sqlmodel import Session, select

from registry.fingerprints.live import LiveIndex
from registry.optouts.service import live_opt_outs, opted_out_works
from registry.signals.findings import Term
from registry.signals.service import signal_evidence
from registry.sources.models import Source
from registry.sources.schemas import ObservedSignal
from registry.trainingsummary.schemas import OptedOutWork, TdmEvidence

# A constrained signal reserves too, unless a licence grants training (evaluation's rule).
RESERVING = (Term.not_allowed, Term.constrained)


def tdm_evidence(session: Session, source_ids: list[str],
                 live: LiveIndex | None = None) -> dict[str, TdmEvidence]:
    """Per source (in id order): the opt-out signals observed when it was acquired and the
    signal snapshots recorded since (the newest live one per work, URL and kind), the
    protocols they came from and those that reserved rights, and its works that rights
    holders reserved through the registry (live opt-outs, matched by digest or pHash, and
    with ``live`` as a frame of a registered clip, as evaluation matches them).
    A fixed number of queries however many sources."""
    ids = sorted(set(source_ids))
    if not ids:
        return {}
    sources = session.exec(select(Source).where(Source.id.in_(ids)).order_by(Source.id)).all()
    opt_outs = live_opt_outs(session)
    works = opted_out_works(session, opt_outs, source_ids=ids, live=live) if opt_outs else []
    by_source: dict[str, list[OptedOutWork]] = {s: [] for s in ids}
    for w in sorted(works, key=lambda w: (w.asset.source_id, w.opt_out.id, w.asset.id)):
        by_source[w.asset.source_id].append(OptedOutWork(
            opt_out_id=w.opt_out.id, asset_id=w.asset.id, effective_from=w.opt_out.effective_from,
            matched_by=w.via))
    snapshots = signal_evidence(session, ids)
    evidence = {}
    for source in sources:
        signals = [ObservedSignal.model_validate(s) for s in source.opt_out_signals]
        observed = snapshots.get(source.id, [])
        evidence[source.id] = TdmEvidence(
            source_id=source.id, source_name=f"{source.name} {source.version}",
            protocols_checked=sorted({s.signal.value for s in signals} | {o.kind.value for o in observed}),
            reserved_by=sorted({s.signal.value for s in signals if s.reserved}
                               | {o.kind.value for o in observed if o.term in RESERVING}),
            observed_signals=signals, signal_snapshots=observed, opted_out_works=by_source[source.id])
    return evidence
