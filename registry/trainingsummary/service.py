"""The provider statement (stored, versioned, audited) and the training-content summary,
computed from the model's pinned training source versions on every request.

A source version is what its pinned manifest signed: the assets registered by the time the
manifest was issued and not retired by then (the manifest lists exactly those). Every
figure is read with a fixed number of queries however many sources and assets there are.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, func, or_, select

from registry.assets.models import Asset
from registry.auth.actor import Actor
from registry.core.crud import get_or_404, retry_on_concurrent_change
from registry.core.errors import Conflict
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.core.preconditions import ANY_VERSION, Precondition
from registry.fingerprints.live import LiveIndex
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.lineage.models import AIModel, ModelSource
from registry.manifests.models import Manifest
from registry.sources.models import Source
from registry.sources.schemas import CollectionPeriod, Crawler, SourceCategory
from registry.sources.service import holder_ids_of
from registry.trainingsummary.evidence import tdm_evidence
from registry.trainingsummary.models import TrainingSummaryStatement
from registry.trainingsummary.schemas import (
    CrawledData,
    DataProcessing,
    DataSources,
    DomainShare,
    GeneralInformation,
    LicenceInfo,
    Modality,
    ModalitySize,
    ModelInfo,
    OtherData,
    Provider,
    SourceEntry,
    StatementIn,
    TrainingContentSummary,
)
from registry.unit_of_work import commit_change

ENTITY = "training_summary_statement"

# The template's size ranges per modality: (upper bounds, labels), in the unit named.
SIZE_BINS: dict[Modality, tuple[str, tuple[float, float], tuple[str, str, str]]] = {
    Modality.text: ("tokens", (1e9, 1e13), ("less than 1 billion tokens", "1 billion to 10 trillion tokens",
                                             "more than 10 trillion tokens")),
    Modality.image: ("images", (1e6, 1e9), ("less than 1 million images", "1 million to 1 billion images",
                                            "more than 1 billion images")),
    Modality.audio: ("hours", (1e4, 1e6), ("less than 10,000 hours", "10,000 to 1 million hours",
                                           "more than 1 million hours")),
    Modality.video: ("hours", (1e4, 1e6), ("less than 10,000 hours", "10,000 to 1 million hours",
                                           "more than 1 million hours")),
}
TOP_DOMAINS_SHARE, SME_TOP_DOMAINS_SHARE, SME_TOP_DOMAINS_CAP = 0.10, 0.05, 1000


def size_bin(modality: Modality, amount: float | None) -> str | None:
    if amount is None or modality not in SIZE_BINS:
        return None
    _, (low, high), labels = SIZE_BINS[modality]
    return labels[0] if amount < low else labels[1] if amount <= high else labels[2]


def modality_of(media_type: str) -> Modality:
    kind = media_type.split("/", 1)[0]
    return Modality(kind) if kind in {m.value for m in Modality} else Modality.other


def domain_of(uri: str | None) -> str | None:
    """The host an asset was collected from, lower-case, without a leading ``www.``."""
    try:
        host = urlsplit(uri).hostname if uri else None
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def top_domain_count(domains: int, sme: bool) -> int:
    """How many domains the template asks for: the top 10%, or for an SME the top 5% but at
    most 1,000 (rounded up: any crawled domain means at least one is named)."""
    if sme:
        return min(math.ceil(domains * SME_TOP_DOMAINS_SHARE), SME_TOP_DOMAINS_CAP)
    return math.ceil(domains * TOP_DOMAINS_SHARE)


# -- the provider statement ---------------------------------------------------------------
def get_statement(session: Session, model_id: str) -> TrainingSummaryStatement:
    get_or_404(session, AIModel, model_id, "model")
    statement = session.exec(select(TrainingSummaryStatement).where(
        TrainingSummaryStatement.model_id == model_id)).first()
    if statement is None:
        raise Conflict(f"model {model_id} has no training-summary statement yet: "
                       f"PUT /v1/models/{model_id}/training-summary/statement first")
    return statement


@retry_on_concurrent_change
def put_statement(session: Session, actor: Actor, model_id: str, data: StatementIn,
                  precondition: Precondition = ANY_VERSION) -> tuple[TrainingSummaryStatement, bool]:
    """Creates or replaces the statement; True when it was created."""
    get_or_404(session, AIModel, model_id, "model")
    fields = data.model_dump(mode="json", exclude={"placed_on_market"})
    statement = session.exec(select(TrainingSummaryStatement).where(
        TrainingSummaryStatement.model_id == model_id)).first()
    created = statement is None
    if statement is None:
        statement = TrainingSummaryStatement(id=new_id("tss"), model_id=model_id,
                                             placed_on_market=data.placed_on_market, **fields)
    else:
        precondition.check(statement)
        for name, value in fields.items():
            setattr(statement, name, value)
        statement.placed_on_market = data.placed_on_market
        statement.updated_at = utcnow()
    session.add(statement)
    commit_change(session, actor, f"{ENTITY}.{'created' if created else 'updated'}", ENTITY, statement)
    return statement, created


# -- the figures --------------------------------------------------------------------------
@dataclass
class _Totals:
    assets: int = 0
    bytes: int = 0
    seconds: float = 0.0
    by_modality: dict[Modality, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))


def _pinned_assets(model_id: str) -> Any:
    """SQL over the assets of the model's pinned source versions (``Asset`` joined)."""
    return (select(Asset).join(ModelSource, ModelSource.source_id == Asset.source_id)
            .join(Manifest, Manifest.id == ModelSource.manifest_id)
            .where(ModelSource.model_id == model_id, Asset.created_at <= Manifest.issued_at,
                   or_(Asset.retired_at.is_(None), Asset.retired_at > Manifest.issued_at)))


def _totals(session: Session, model_id: str) -> dict[str, _Totals]:
    totals: dict[str, _Totals] = defaultdict(_Totals)
    stmt = _pinned_assets(model_id).with_only_columns(
        Asset.source_id, Asset.media_type, func.count(), func.sum(Asset.byte_size),
        func.sum(Asset.duration_s)).group_by(Asset.source_id, Asset.media_type)
    for source_id, media_type, count, size, seconds in session.execute(stmt).all():
        t = totals[source_id]
        t.assets, t.bytes = t.assets + count, t.bytes + int(size or 0)
        per = t.by_modality[modality_of(media_type)]
        per[0] += count
        per[1] += float(seconds or 0.0)
    return totals


def _domains(session: Session, model_id: str, crawled: list[str]) -> dict[str, list[int]]:
    """Bytes and assets per domain of the crawled sources' assets' original URIs."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    if not crawled:
        return per
    stmt = (_pinned_assets(model_id).where(Asset.source_id.in_(crawled), Asset.original_uri.is_not(None))
            .with_only_columns(Asset.original_uri, func.count(), func.sum(Asset.byte_size))
            .group_by(Asset.original_uri))
    for uri, count, size in session.execute(stmt).all():
        domain = domain_of(uri)
        if domain:
            per[domain][0] += int(size or 0)
            per[domain][1] += count
    return per


def _licences(session: Session, model_id: str, sources: dict[str, Source]) -> dict[str, list[LicenceInfo]]:
    own = session.execute(_pinned_assets(model_id).where(Asset.licence_id.is_not(None))
                          .with_only_columns(Asset.source_id, Asset.licence_id).distinct()).all()
    ids = {s.licence_id for s in sources.values()} | {lic for _, lic in own}
    rows = {lic.id: lic for lic in session.exec(select(Licence).where(Licence.id.in_(ids))).all()}
    per: dict[str, list[str]] = {s.id: [s.licence_id] for s in sources.values()}
    for source_id, licence_id in sorted(own):
        if licence_id not in per[source_id]:
            per[source_id].append(licence_id)
    return {s: [LicenceInfo(id=rows[i].id, identifier=rows[i].identifier, name=rows[i].name,
                            ai_training=rows[i].ai_training) for i in ids_] for s, ids_ in per.items()}


def _crawl_period(sources: list[Source]) -> CollectionPeriod | None:
    periods = [CollectionPeriod.model_validate(s.collection_period) for s in sources if s.collection_period]
    if not periods:
        return None
    ends = [p.end for p in periods]
    return CollectionPeriod(start=min(p.start for p in periods),
                            end=None if None in ends else max(e for e in ends if e is not None))


def _modalities(statement: TrainingSummaryStatement, totals: dict[str, _Totals]) -> list[ModalitySize]:
    counts: dict[Modality, list[float]] = defaultdict(lambda: [0, 0.0])
    for t in totals.values():
        for modality, (n, seconds) in t.by_modality.items():
            counts[modality][0] += n
            counts[modality][1] += seconds
    declared = set(statement.modalities)
    result = []
    for modality in Modality:
        n, seconds = counts[modality]
        amount: float | None
        if modality in (Modality.audio, Modality.video):
            amount, unit = round(seconds / 3600, 4), "hours"
        elif modality is Modality.text:
            amount, unit = (None if statement.text_tokens is None else float(statement.text_tokens)), "tokens"
        else:
            amount, unit = float(n), ("images" if modality is Modality.image else "files")
        used = n > 0 or modality.value in declared
        result.append(ModalitySize(modality=modality, used=used, declared=modality.value in declared,
                                   assets=int(n), amount=amount if used else None, unit=unit,
                                   size_bin=size_bin(modality, amount) if used else None))
    return result


def summary(session: Session, model_id: str, live: LiveIndex | None = None) -> TrainingContentSummary:
    """``live``: opted-out works are matched against registered clips' frames too (as evaluation does)."""
    statement = get_statement(session, model_id)
    model = get_or_404(session, AIModel, model_id, "model")
    links = {link.source_id: link for link in session.exec(
        select(ModelSource).where(ModelSource.model_id == model_id)).all()}
    sources = {s.id: s for s in session.exec(select(Source).where(Source.id.in_(links))
                                             .order_by(Source.name, Source.version, Source.id)).all()}
    issued = dict(session.exec(select(Manifest.id, Manifest.issued_at).where(
        Manifest.id.in_({link.manifest_id for link in links.values()}))).all())
    totals = _totals(session, model_id)
    licences = _licences(session, model_id, sources)
    holder_ids = holder_ids_of(session, list(sources))
    names = dict(session.exec(select(RightsHolder.id, RightsHolder.name).where(
        RightsHolder.id.in_({h for hs in holder_ids.values() for h in hs}))).all())

    def entry(s: Source) -> SourceEntry:
        t = totals.get(s.id, _Totals())
        return SourceEntry(
            source_id=s.id, name=s.name, version=s.version, category=SourceCategory(s.category), uri=s.uri,
            manifest_id=links[s.id].manifest_id, manifest_sha256=links[s.id].manifest_sha256,
            acquired_on=s.acquired_on, holders=[names[h] for h in holder_ids.get(s.id, []) if h in names],
            licences=licences[s.id], assets=t.assets, bytes=t.bytes,
            modalities=sorted((m for m, (n, _) in t.by_modality.items() if n), key=list(Modality).index),
            crawler=Crawler.model_validate(s.crawler) if s.crawler else None,
            collection_period=CollectionPeriod.model_validate(s.collection_period) if s.collection_period else None)

    grouped: dict[SourceCategory, list[Source]] = defaultdict(list)
    for s in sources.values():
        grouped[SourceCategory(s.category)].append(s)
    crawled = grouped[SourceCategory.crawled]
    domains = _domains(session, model_id, [s.id for s in crawled])
    ranked = sorted(domains.items(), key=lambda d: (-d[1][0], d[0]))
    crawlers = sorted({(c.name, c.purpose): c for c in (Crawler.model_validate(s.crawler)
                                                        for s in crawled if s.crawler)}.values(),
                      key=lambda c: (c.name, c.purpose))
    rule = ("top 5% of crawled domains by content size, at most 1,000 (SME)" if statement.sme
            else "top 10% of crawled domains by content size")
    acquired = [s.acquired_on for s in sources.values() if s.acquired_on] + [
        p.end for p in (CollectionPeriod.model_validate(s.collection_period)
                        for s in crawled if s.collection_period) if p.end]
    evidence = tdm_evidence(session, list(sources), live)
    last = max([statement.updated_at, model.updated_at, *issued.values()]).date()
    return TrainingContentSummary(
        summary_version=statement.summary_version, last_update=last,
        general=GeneralInformation(
            provider=Provider(name=statement.provider_name, contact=statement.provider_contact,
                              authorised_representative=statement.authorised_representative),
            model=ModelInfo(id=model.id, name=model.name, version=model.version, owner=model.owner,
                            placed_on_market=statement.placed_on_market, dependencies=statement.model_dependencies,
                            trained_from=model.trained_from, trained_until=model.trained_until),
            modalities=_modalities(statement, totals), content_types=statement.content_types,
            languages=statement.languages, other_characteristics=statement.other_characteristics,
            latest_acquisition=max(acquired, default=None)),
        sources=DataSources(
            public_datasets=[entry(s) for s in grouped[SourceCategory.public_dataset]],
            licensed_from_rights_holders=[entry(s) for s in grouped[SourceCategory.licensed_from_rights_holders]],
            private_third_party=[entry(s) for s in grouped[SourceCategory.private_third_party]],
            crawled=CrawledData(
                sources=[entry(s) for s in crawled], crawlers=crawlers,
                crawler_descriptions=statement.crawler_descriptions, collection_period=_crawl_period(crawled),
                domain_count=len(ranked), top_domains_rule=rule,
                top_domains=[DomainShare(domain=d, bytes=b, assets=n)
                             for d, (b, n) in ranked[:top_domain_count(len(ranked), statement.sme)]]),
            user_data=OtherData(sources=[entry(s) for s in grouped[SourceCategory.user_data]],
                                description=statement.user_data),
            synthetic=OtherData(sources=[entry(s) for s in grouped[SourceCategory.synthetic]],
                                description=statement.synthetic_data),
            other=OtherData(sources=[entry(s) for s in grouped[SourceCategory.other]],
                            description=statement.other_sources)),
        processing=DataProcessing(
            code_of_practice_signatory=statement.code_of_practice_signatory, tdm_measures=statement.tdm_measures,
            tdm_evidence=[evidence[s] for s in sources if s in evidence],
            illegal_content=statement.illegal_content, other_information=statement.other_information))
