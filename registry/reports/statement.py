"""Compensation statements: the formula's inputs read from the registry, then divided by
``registry.reports.compensation``. Nothing time-dependent enters the document, so the same
records and parameters give the same bytes."""

from collections import defaultdict
from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction

from iso4217 import Currency
from sqlmodel import Session, func, select

from registry.access import holders_of, readable_source_ids, scoped
from registry.assets.models import Asset
from registry.auth.actor import Actor
from registry.core.crud import get_or_404
from registry.core.errors import InvalidInput
from registry.holders.models import RightsHolder
from registry.lineage.models import AIModel, Generation, ModelSource
from registry.lineage.service import matches_of_generations, training_mix
from registry.reports import compensation as formula
from registry.reports.compensation import SourceInput, decimal_text, fraction_text
from registry.reports.schemas import (
    CompensationStatement,
    Formula,
    LineSource,
    MatchBasis,
    ModelRef,
    SourceShare,
    StatementLine,
)
from registry.sources.models import Source
from registry.sources.service import holder_ids_of


def minor_unit_exponent(currency: str) -> int:
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        raise InvalidInput(f"{currency} is not an ISO 4217 currency code") from None
    if exponent is None:
        raise InvalidInput(f"{currency} has no minor unit (not a currency for payments)")
    return exponent


def _source_inputs(session: Session, mix: list[ModelSource]) -> list[SourceInput]:
    """Each training source's live assets and their units per holder (an asset shared by
    its source's holders counts a fraction to each): two queries for the whole mix."""
    source_ids = [link.source_id for link in mix]
    counts: dict[str, list[tuple[str | None, int]]] = defaultdict(list)
    for source_id, holder_id, count in session.exec(
            select(Asset.source_id, Asset.holder_id, func.count())
            .where(Asset.source_id.in_(source_ids), Asset.retired_at.is_(None))
            .group_by(Asset.source_id, Asset.holder_id)).all():
        counts[source_id].append((holder_id, count))
    shared = holder_ids_of(session, source_ids)
    inputs = []
    for link in mix:
        units: dict[str, Fraction] = defaultdict(Fraction)
        for holder_id, count in sorted(counts[link.source_id], key=lambda c: c[0] or ""):
            owners = holders_of(holder_id, shared.get(link.source_id, []))
            for owner in owners:
                units[owner] += Fraction(count, len(owners))
        inputs.append(SourceInput(link.source_id, link.weight, dict(units),
                                  sum(c for _, c in counts[link.source_id])))
    return inputs


def _period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Whole UTC days, both ends included."""
    return datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)


def _matches(session: Session, model_id: str, start: date, end: date,
             basis: MatchBasis) -> dict[str, Fraction]:
    """Matched works (distinct generation x work) or spans per holder, checked in the period."""
    low, high = _period_bounds(start, end)
    per_work: dict[tuple[str, str], tuple[int, list[str]]] = {}
    generations = session.exec(select(Generation.id).where(
        Generation.model_id == model_id, Generation.retired_at.is_(None))).all()
    for generation_id, matches in sorted(matches_of_generations(session, generations).items()):
        for match in matches:
            if not low <= match["checked_at"] <= high:  # the check's created_at, in UTC
                continue
            key = (generation_id, match["asset_id"])
            spans = max(len(match.get("spans") or []), 1)
            previous = per_work.get(key, (0, []))[0]
            per_work[key] = (max(previous, spans), sorted(match.get("holder_ids") or []))
    counts: dict[str, Fraction] = defaultdict(Fraction)
    for units, holders in per_work.values():
        weight = units if basis is MatchBasis.spans else 1
        for holder_id in holders:
            counts[holder_id] += Fraction(weight, len(holders))
    return dict(counts)


def compensation(session: Session, actor: Actor, model_id: str, period_start: date,
                 period_end: date, pool: Decimal, currency: str, training_share: Decimal,
                 basis: MatchBasis) -> CompensationStatement:
    model = get_or_404(session, AIModel, model_id, "model")
    if period_end < period_start:
        raise InvalidInput("period_end is before period_start")
    exponent = minor_unit_exponent(currency)
    if pool != pool.quantize(Decimal(1).scaleb(-exponent)) or pool <= 0:
        raise InvalidInput(f"pool must be a positive amount in whole minor units of {currency} "
                           f"({exponent} decimal places)")
    pool = pool.quantize(Decimal(1).scaleb(-exponent))  # one spelling: 1E+4 -> 10000.00
    mix = training_mix(session, model.id)
    sources = {s.id: s for s in session.exec(select(Source).where(
        Source.id.in_([ms.source_id for ms in mix]))).all()}
    inputs = _source_inputs(session, mix)
    match_counts = _matches(session, model.id, period_start, period_end, basis)
    division = formula.divide(pool, exponent, training_share, inputs, match_counts)
    names = {h.id: h.name for h in session.exec(select(RightsHolder).where(
        RightsHolder.id.in_([h.holder_id for h in division.holders]))).all()}
    lines = [StatementLine(
        holder_id=h.holder_id, holder_name=names.get(h.holder_id, h.holder_id),
        sources=[LineSource(source_id=s.source_id, weight=s.weight,
                            normalised_weight=fraction_text(division.normalised_weights[s.source_id]),
                            asset_units=fraction_text(s.units.get(h.holder_id, Fraction(0))),
                            source_units=fraction_text(sum(s.units.values(), Fraction(0))),
                            share=fraction_text(h.by_source[s.source_id]))
                 for s in inputs if s.source_id in h.by_source],
        matches=fraction_text(match_counts.get(h.holder_id, Fraction(0))),
        training_share=fraction_text(h.training), match_share=fraction_text(h.matches),
        share=fraction_text(h.share), share_decimal=decimal_text(h.share), amount=h.amount)
        for h in division.holders]
    line_count, distributed = len(lines), sum((line.amount for line in lines), Decimal(0))
    readable = readable_source_ids(session, actor, sources)
    if scoped(actor):  # its own line, and the training sources it may read
        lines = [line for line in lines if line.holder_id == actor.holder_id]
    return CompensationStatement(
        model=ModelRef(id=model.id, name=model.name, version=model.version, owner=model.owner),
        period_start=period_start, period_end=period_end, pool=pool, currency=currency,
        minor_unit_exponent=exponent,
        formula=Formula(training_share=training_share, match_share=1 - training_share,
                        match_basis=basis,
                        effective_training_share=fraction_text(division.training_share),
                        effective_match_share=fraction_text(division.match_share),
                        description=formula.FORMULA_TEXT,
                        rounding=formula.ROUNDING_RULE),
        sources=[SourceShare(source_id=s.source_id,
                             source_name=f"{sources[s.source_id].name} {sources[s.source_id].version}",
                             weight=s.weight,
                             normalised_weight=fraction_text(division.normalised_weights.get(s.source_id, Fraction(0))),
                             live_assets=s.live_assets,
                             attributable_units=fraction_text(sum(s.units.values(), Fraction(0))))
                 for s in inputs if s.source_id in readable],
        match_total=fraction_text(division.match_total), line_count=line_count, lines=lines,
        distributed=distributed)
