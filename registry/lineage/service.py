"""Lineage: which source versions a model was trained on, which media it generated, and the
walks between them (work → sources → models → generations, and back).

The helper functions at the top (``models_trained_on``, ``generation_matches``,
``generations_matching``, ``training_mix``) are the contract other domains (lookup, claims,
reports) build on; keep their signatures stable.
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, or_, select

from registry.access import holders_of, licence_of, readable_assets, readable_source_ids, readable_sources
from registry.assets.models import Asset
from registry.assets.service import get_asset
from registry.auth.actor import Actor
from registry.checks.models import Check
from registry.checks.service import get_check, requester_scope
from registry.core.crud import filter_retired, get_or_404, require_live, retry_on_concurrent_change
from registry.core.errors import Conflict, InvalidInput
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.core.pagination import paginate
from registry.licences.models import Licence
from registry.lineage.models import AIModel, Generation, GenerationCheck, ModelSource
from registry.lineage.schemas import (
    AssetLineage,
    GenerationCreate,
    GenerationHit,
    GenerationLineage,
    GenerationRead,
    GenerationWork,
    HoldingSource,
    MixSource,
    ModelCreate,
    ModelRead,
    TrainedModel,
    TrainingSourceIn,
    TrainingSourceRead,
    WorkCopy,
)
from registry.manifests.models import Manifest
from registry.manifests.service import newest_registry_manifests
from registry.sources.models import Source
from registry.sources.service import holder_ids_of
from registry.unit_of_work import commit_change, retire

MODEL = "ai_model"
GENERATION = "generation"
_WEIGHT_PLACES = Decimal("0.000001")  # the column's scale: stored and logged alike
_MENTIONS_PER_QUERY = 200
_IDS_PER_QUERY = 500  # well under every backend's limit on bound parameters


# --- the contract helpers -----------------------------------------------------------------

def training_mix(session: Session, model_id: str) -> list[ModelSource]:
    get_or_404(session, AIModel, model_id, "model")
    return list(session.exec(select(ModelSource).where(ModelSource.model_id == model_id)
                             .order_by(ModelSource.source_id)).all())


def training_mixes(session: Session, model_ids: list[str]) -> dict[str, list[ModelSource]]:
    """Each model's training mix (in ``model_ids`` order, each by source id): one query."""
    mixes: dict[str, list[ModelSource]] = {m: [] for m in model_ids}
    for link in session.exec(select(ModelSource).where(ModelSource.model_id.in_(model_ids))
                             .order_by(ModelSource.model_id, ModelSource.source_id)).all():
        mixes[link.model_id].append(link)
    return mixes


def models_trained_on(session: Session,
                      source_ids: list[str]) -> dict[str, list[tuple[AIModel, ModelSource]]]:
    """Live models whose training mix includes each source (sources without any are absent)."""
    if not source_ids:
        return {}
    rows = session.exec(
        select(AIModel, ModelSource).join(ModelSource, ModelSource.model_id == AIModel.id)
        .where(ModelSource.source_id.in_(sorted(set(source_ids))), AIModel.retired_at.is_(None))
        .order_by(ModelSource.source_id, AIModel.id)).all()
    result: dict[str, list[tuple[AIModel, ModelSource]]] = defaultdict(list)
    for model, link in rows:
        result[link.source_id].append((model, link))
    return dict(result)


def _check_matches(check: Check) -> list[dict[str, Any]]:
    return [{**match, "check_id": check.id, "item_name": item.get("name"),
             "checked_at": check.created_at}
            for item in check.items for match in item.get("matches", [])]


def generation_matches(session: Session, generation_id: str) -> list[dict[str, Any]]:
    """Every match of every check linked to the generation (see ``matches_of_generations``)."""
    get_or_404(session, Generation, generation_id, "generation")
    return matches_of_generations(session, [generation_id])[generation_id]


def matches_of_generations(session: Session, generation_ids: Iterable[str]
                           ) -> dict[str, list[dict[str, Any]]]:
    """Per generation, every match of every check linked to it, as the check stored it,
    plus ``check_id``, ``item_name`` and ``checked_at``; in check order, then as stored.
    One query per ``_IDS_PER_QUERY`` generations, however many there are."""
    ordered = sorted(set(generation_ids))
    result: dict[str, list[dict[str, Any]]] = {g: [] for g in ordered}
    for start in range(0, len(ordered), _IDS_PER_QUERY):
        for generation_id, check in session.exec(
                select(GenerationCheck.generation_id, Check)
                .join(Check, Check.id == GenerationCheck.check_id)
                .where(GenerationCheck.generation_id.in_(ordered[start:start + _IDS_PER_QUERY]))
                .order_by(GenerationCheck.generation_id, Check.id)).all():
            result[generation_id] += _check_matches(check)
    return result


def generations_matching(session: Session,
                         asset_ids: list[str]) -> list[tuple[Generation, dict[str, Any]]]:
    """The generations whose linked checks matched any of the assets, with each match dict
    (as ``generation_matches`` gives it), ordered by generation, check, then as stored."""
    wanted = set(asset_ids)
    ordered = sorted(wanted)
    pairs: dict[tuple[str, str], tuple[Generation, Check]] = {}
    # Matches live inside the checks' JSON; a text pre-filter keeps the scan to checks that
    # mention one of the ids (the exact test is done on the parsed matches below). Chunked:
    # SQLite refuses expressions deeper than 1000 terms, and lookups may pass many ids.
    text = sa.cast(Check.items, sa.String)
    for start in range(0, len(ordered), _MENTIONS_PER_QUERY):
        mentions = or_(*(text.contains(f'"{a}"', autoescape=True)
                         for a in ordered[start:start + _MENTIONS_PER_QUERY]))
        for generation, check in session.exec(
                select(Generation, Check)
                .join(GenerationCheck, GenerationCheck.generation_id == Generation.id)
                .join(Check, Check.id == GenerationCheck.check_id).where(mentions)).all():
            pairs[(generation.id, check.id)] = (generation, check)
    return [(generation, match) for key in sorted(pairs)
            for generation, check in [pairs[key]]
            for match in _check_matches(check) if match.get("asset_id") in wanted]


# --- models -------------------------------------------------------------------------------

def training_sources_views(session: Session, model_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each model's training mix as the audit log records it: one query for many models."""
    return {model_id: [
        {"source_id": s.source_id, "manifest_id": s.manifest_id,
         "manifest_sha256": s.manifest_sha256, "weight": str(s.weight.quantize(_WEIGHT_PLACES))}
        for s in mix] for model_id, mix in training_mixes(session, model_ids).items()}


def models_to_read(session: Session, actor: Actor, models: list[AIModel]) -> list[ModelRead]:
    """Models with their training mixes, each showing only the sources the actor may read."""
    ids = [m.id for m in models]
    links = session.exec(select(ModelSource).where(ModelSource.model_id.in_(ids))
                         .order_by(ModelSource.source_id)).all()
    readable = readable_source_ids(session, actor, {link.source_id for link in links})
    mixes: dict[str, list[ModelSource]] = defaultdict(list)
    for link in links:
        if link.source_id in readable:
            mixes[link.model_id].append(link)
    return [ModelRead(**m.model_dump(), training_sources=[
        TrainingSourceRead(source_id=s.source_id, manifest_id=s.manifest_id,
                           manifest_sha256=s.manifest_sha256,
                           weight=s.weight.quantize(_WEIGHT_PLACES)) for s in mixes[m.id]])
        for m in models]


def _pinned_manifests(session: Session, entries: list[TrainingSourceIn]) -> dict[str, Manifest]:
    """Each training source's manifest: the one named, else the source's latest
    registry-signed one. The sources must be live. Three queries for the whole mix; the
    first entry at fault, its source before its manifest, is the one refused."""
    ids = [entry.source_id for entry in entries]
    sources = {s.id: s for s in session.exec(select(Source).where(Source.id.in_(ids))).all()}
    wanted = {entry.manifest_id for entry in entries if entry.manifest_id is not None}
    named = {m.id: m for m in session.exec(select(Manifest).where(Manifest.id.in_(wanted))).all()
             } if wanted else {}
    unnamed = [entry.source_id for entry in entries if entry.manifest_id is None]
    latest = {m.source_id: m for m in session.exec(newest_registry_manifests(unnamed)).all()
              } if unnamed else {}
    pinned: dict[str, Manifest] = {}
    for entry in entries:
        source = sources.get(entry.source_id)
        if source is None or source.retired_at is not None:
            require_live(session, Source, entry.source_id, "source")  # raises its 404 or 409
        if entry.manifest_id is not None:
            manifest = named.get(entry.manifest_id) or get_or_404(
                session, Manifest, entry.manifest_id, "manifest")
            if manifest.source_id != entry.source_id:
                raise InvalidInput(f"manifest {entry.manifest_id} is not a manifest of source "
                                   f"{entry.source_id}")
        elif entry.source_id in latest:
            manifest = latest[entry.source_id]
        else:
            raise Conflict(f"source {entry.source_id} has no registry-signed manifest: sign a "
                           "manifest first (POST /v1/sources/{id}/manifests)")
        pinned[entry.source_id] = manifest
    return pinned


def create_model(session: Session, actor: Actor, data: ModelCreate) -> AIModel:
    existing = session.exec(select(AIModel.id).where(AIModel.name == data.name,
                                                     AIModel.version == data.version)).first()
    if existing:
        raise Conflict(f"model '{data.name}' version '{data.version}' already exists: {existing}")
    model = AIModel(id=new_id("mdl"), **data.model_dump(exclude={"training_sources"}))
    pinned = _pinned_manifests(session, data.training_sources)
    links = [ModelSource(model_id=model.id, source_id=entry.source_id,
                         manifest_id=pinned[entry.source_id].id,
                         manifest_sha256=pinned[entry.source_id].payload_sha256,
                         weight=entry.weight.quantize(_WEIGHT_PLACES))
             for entry in data.training_sources]
    session.add(model)
    session.flush()  # the parent row first: PostgreSQL checks the links' foreign key at once
    session.add_all(links)
    commit_change(session, actor, "ai_model.created", MODEL, model)
    return model


def get_model(session: Session, model_id: str) -> AIModel:
    return get_or_404(session, AIModel, model_id, "model")


@retry_on_concurrent_change
def retire_model(session: Session, actor: Actor, model_id: str, reason: str) -> AIModel:
    model = get_or_404(session, AIModel, model_id, "model")
    retire(session, actor, model, MODEL, reason)
    return model


def list_models(session: Session, actor: Actor, *, name: str | None, owner: str | None,
                source_id: str | None, retired: bool | None, cursor: str | None,
                limit: int) -> tuple[list[AIModel], str | None]:
    stmt = select(AIModel)
    if name:
        stmt = stmt.where(AIModel.name.contains(name))
    if owner:
        stmt = stmt.where(AIModel.owner == owner)
    if source_id:
        # a source the actor may not read filters as an unknown one: to nothing
        trained_on = readable_sources(select(ModelSource.model_id).join(
            Source, Source.id == ModelSource.source_id).where(ModelSource.source_id == source_id), actor)
        stmt = stmt.where(AIModel.id.in_(trained_on))
    stmt = filter_retired(stmt, AIModel, retired)
    return paginate(session, stmt, AIModel.id, cursor, limit)


# --- generations --------------------------------------------------------------------------

def check_ids_of(session: Session, generation_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    for link in session.exec(select(GenerationCheck)
                             .where(GenerationCheck.generation_id.in_(generation_ids))
                             .order_by(GenerationCheck.check_id)).all():
        result[link.generation_id].append(link.check_id)
    return result


def generations_to_read(session: Session, generations: list[Generation]) -> list[GenerationRead]:
    checks = check_ids_of(session, [g.id for g in generations])
    return [GenerationRead(**g.model_dump(), check_ids=checks.get(g.id, []))
            for g in generations]


def _require_checks(session: Session, actor: Actor, check_ids: list[str]) -> None:
    """404 for the first of the checks that is unknown or out of the actor's scope (as
    ``get_check`` refuses it): one query for all of them."""
    if not check_ids:
        return
    found = set(session.exec(select(Check.id).where(
        Check.id.in_(check_ids), requester_scope(actor, Check.requested_by))).all())
    for check_id in check_ids:
        if check_id not in found:
            get_check(session, actor, check_id)  # raises its 404


def create_generation(session: Session, actor: Actor, data: GenerationCreate) -> Generation:
    require_live(session, AIModel, data.model_id, "model")
    _require_checks(session, actor, data.check_ids)
    generation = Generation(id=new_id("gen"), intended_use=data.intended_use.value,
                            **data.model_dump(exclude={"check_ids", "intended_use"}))
    session.add(generation)
    session.flush()  # the parent row first (PostgreSQL checks foreign keys per statement)
    session.add_all(GenerationCheck(generation_id=generation.id, check_id=check_id)
                    for check_id in data.check_ids)
    commit_change(session, actor, "generation.created", GENERATION, generation)
    return generation


def link_check(session: Session, actor: Actor, generation_id: str, check_id: str) -> Generation:
    generation = require_live(session, Generation, generation_id, "generation")
    get_check(session, actor, check_id)
    if session.get(GenerationCheck, (generation_id, check_id)) is not None:
        raise Conflict(f"check {check_id} is already linked to generation {generation_id}")
    session.add(GenerationCheck(generation_id=generation_id, check_id=check_id))
    generation.updated_at = utcnow()
    session.add(generation)
    commit_change(session, actor, "generation.check_linked", GENERATION, generation)
    return generation


def get_generation(session: Session, generation_id: str) -> Generation:
    return get_or_404(session, Generation, generation_id, "generation")


def list_generations(session: Session, *, production: str | None, model_id: str | None,
                     retired: bool | None, cursor: str | None,
                     limit: int) -> tuple[list[Generation], str | None]:
    stmt = select(Generation)
    if production:
        stmt = stmt.where(Generation.production == production)
    if model_id:
        stmt = stmt.where(Generation.model_id == model_id)
    stmt = filter_retired(stmt, Generation, retired)
    return paginate(session, stmt, Generation.id, cursor, limit)


# --- lineage walks ------------------------------------------------------------------------

def _licence_identifiers(session: Session, licence_ids: set[str]) -> dict[str, str]:
    if not licence_ids:
        return {}
    return dict(session.exec(select(Licence.id, Licence.identifier)
                             .where(Licence.id.in_(sorted(licence_ids)))).all())


def _sources_holding(session: Session, mix: list[ModelSource],
                     manifests: dict[str, Manifest], sha256s: set[str]) -> dict[str, list[str]]:
    """sha256 → the mix's sources that held an asset with it when their manifest was signed
    (live then: registered before the signature, not retired before it)."""
    if not sha256s or not mix:
        return {}
    rows = session.exec(select(Asset.sha256, Asset.source_id, Asset.created_at, Asset.retired_at)
                        .where(Asset.sha256.in_(sorted(sha256s)),
                               Asset.source_id.in_([m.source_id for m in mix]))).all()
    pinned = {m.source_id: manifests[m.manifest_id].issued_at for m in mix}
    result: dict[str, set[str]] = defaultdict(set)
    for sha256, source_id, created_at, retired_at in rows:
        issued = pinned[source_id]
        if created_at <= issued and (retired_at is None or retired_at > issued):
            result[sha256].add(source_id)
    return {k: sorted(v) for k, v in result.items()}


def generation_lineage(session: Session, actor: Actor, generation_id: str) -> GenerationLineage:
    generation = get_generation(session, generation_id)
    model = get_or_404(session, AIModel, generation.model_id, "model")
    mix = training_mix(session, model.id)
    source_ids = [m.source_id for m in mix]
    sources = {s.id: s for s in session.exec(select(Source).where(Source.id.in_(source_ids))).all()}
    manifests = {m.id: m for m in session.exec(
        select(Manifest).where(Manifest.id.in_([m.manifest_id for m in mix]))).all()}
    holders = holder_ids_of(session, source_ids)
    licences = _licence_identifiers(session, {s.licence_id for s in sources.values()})
    matches = generation_matches(session, generation_id)
    digests = dict(session.exec(select(Asset.id, Asset.sha256).where(
        Asset.id.in_(sorted({m["asset_id"] for m in matches})))).all()) if matches else {}
    holding = _sources_holding(session, mix, manifests, set(digests.values()))
    return GenerationLineage(
        generation=generations_to_read(session, [generation])[0],
        model=models_to_read(session, actor, [model])[0],
        sources=[MixSource(
            source_id=link.source_id, name=sources[link.source_id].name,
            version=sources[link.source_id].version, licence_id=sources[link.source_id].licence_id,
            licence=licences.get(sources[link.source_id].licence_id, ""),
            holder_ids=holders.get(link.source_id, []), weight=link.weight.quantize(_WEIGHT_PLACES),
            manifest_id=link.manifest_id, manifest_sha256=link.manifest_sha256,
            manifest_issued_at=manifests[link.manifest_id].issued_at,
            asset_count=manifests[link.manifest_id].asset_count) for link in mix],
        works=[GenerationWork.model_validate(
            {**m, "training_source_ids": holding.get(digests.get(m["asset_id"], ""), [])})
            for m in matches])


def asset_lineage(session: Session, actor: Actor, asset_id: str) -> AssetLineage:
    get_asset(session, actor, asset_id)  # rights holders: their own assets only (404)
    return asset_lineages(session, actor, [asset_id])[asset_id]


def asset_lineages(session: Session, actor: Actor, asset_ids: Iterable[str]) -> dict[str, AssetLineage]:
    """The lineage of each of the assets the actor may read (the others are left out, as
    ``get_asset`` refuses them), all walked together: a fixed number of queries however
    many assets."""
    wanted = sorted(set(asset_ids))
    assets = list(session.exec(readable_assets(select(Asset).where(Asset.id.in_(wanted)), actor)
                               ).all()) if wanted else []
    if not assets:
        return {}
    # A copy in another holder's source is that holder's asset: a rights holder sees its own.
    # A retired copy is only its own copy.
    every_copy = list(session.exec(readable_assets(select(Asset).where(
        Asset.sha256.in_(sorted({a.sha256 for a in assets})),
        or_(Asset.retired_at.is_(None), Asset.id.in_([a.id for a in assets]))),
        actor).order_by(Asset.id)).all())
    source_ids = sorted({c.source_id for c in every_copy})
    sources = {s.id: s for s in session.exec(select(Source).where(Source.id.in_(source_ids))).all()}
    holders = holder_ids_of(session, source_ids)
    licences = _licence_identifiers(session, {s.licence_id for s in sources.values()}
                                    | {c.licence_id for c in every_copy if c.licence_id})
    trained = models_trained_on(session, source_ids)
    every_hit = generations_matching(session, [c.id for c in every_copy])
    lineages = {}
    for asset in assets:
        copies = [c for c in every_copy if c.sha256 == asset.sha256
                  and (c.retired_at is None or c.id == asset.id)]
        copy_ids = {c.id for c in copies}
        lineages[asset.id] = _asset_lineage(
            asset, copies, sources, holders, licences, trained,
            [(g, m) for g, m in every_hit if m["asset_id"] in copy_ids])
    return lineages


def _asset_lineage(asset: Asset, copies: list[Asset], sources: dict[str, Source],
                   holders: dict[str, list[str]], licences: dict[str, str],
                   trained: dict[str, list[tuple[AIModel, ModelSource]]],
                   hits: list[tuple[Generation, dict[str, Any]]]) -> AssetLineage:
    source_ids = sorted({c.source_id for c in copies})
    return AssetLineage(
        asset_id=asset.id, sha256=asset.sha256, media_type=asset.media_type,
        copies=[WorkCopy(
            asset_id=c.id, source_id=c.source_id,
            holder_ids=holders_of(c.holder_id, holders.get(c.source_id, [])),
            licence_id=licence_of(c.licence_id, sources[c.source_id].licence_id),
            licence=licences.get(licence_of(c.licence_id, sources[c.source_id].licence_id), ""),
            retired=c.retired_at is not None) for c in copies],
        sources=[HoldingSource(
            source_id=sid, name=sources[sid].name, version=sources[sid].version,
            licence_id=sources[sid].licence_id, licence=licences.get(sources[sid].licence_id, ""),
            holder_ids=holders.get(sid, []),
            asset_ids=[c.id for c in copies if c.source_id == sid],
            models=[TrainedModel(
                model_id=m.id, name=m.name, version=m.version, owner=m.owner,
                trained_from=m.trained_from, trained_until=m.trained_until,
                weight=link.weight.quantize(_WEIGHT_PLACES), manifest_id=link.manifest_id,
                manifest_sha256=link.manifest_sha256) for m, link in trained.get(sid, [])])
            for sid in source_ids],
        generations=[GenerationHit(
            generation_id=g.id, model_id=g.model_id, production=g.production, title=g.title,
            intended_use=g.intended_use, check_id=m["check_id"], item_name=m["item_name"],
            checked_at=m["checked_at"], asset_id=m["asset_id"], via=m["via"],
            verdict=m["verdict"], score=m["score"], distance=m.get("distance"),
            spans=m.get("spans", [])) for g, m in hits])
