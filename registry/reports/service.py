"""Copyright-evidence and clearance reports, built as plain documents from the registry's
records: a generation's checks, the works they matched, licences and the audit log."""

import base64
from collections import defaultdict
from datetime import date
from typing import Any

from sqlmodel import Session, select

from registry.access import holders_of, licence_of, withheld_entries
from registry.assets.models import Asset
from registry.auditlog import tree
from registry.auditlog.models import LogEntry
from registry.auth.actor import Actor
from registry.auth.models import Role
from registry.checks.models import Check
from registry.checks.schemas import Span
from registry.core.blobstore import LocalBlobStore
from registry.core.config import Settings
from registry.core.crud import get_or_404
from registry.core.errors import NotFound
from registry.evaluation.schemas import Obligation, Reason, Use, Verdict
from registry.evaluation.service import credit_line, evaluate_sources, licence_obligations, licence_reasons
from registry.fingerprints.live import LiveIndex
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.lineage.models import AIModel, Generation
from registry.lineage.service import generation_matches, matches_of_generations, training_mix, training_mixes
from registry.manifests.models import Manifest
from registry.manifests.service import newest_registry_manifests
from registry.optouts.service import opt_out_reasons
from registry.reports.frames import Frame, thumbnail
from registry.reports.schemas import (
    Blocker,
    Checkpoint,
    ClearanceReport,
    ClearanceTraining,
    ClearanceWork,
    CopyrightEvidenceReport,
    EvidenceMatch,
    EvidenceSpan,
    Fee,
    GenerationRef,
    HolderRef,
    LicenceRef,
    LogProof,
    Thumbnail,
    WorkRef,
)
from registry.sources.models import Source
from registry.sources.service import holder_ids_of

_FEES = {"flat_fee", "royalty"}


class Works:
    """The registered works a report cites, loaded once: asset, source, holders, licence;
    ``reader``: who reads the report (another holder's opt-out is not named to it); ``live``:
    opted-out works are also matched against registered clips' frames, as evaluation does."""

    def __init__(self, session: Session, asset_ids: set[str], reader: Actor | None = None,
                 live: LiveIndex | None = None) -> None:
        self.session = session
        self.reader = reader
        self.live = live
        self._opt_outs: dict[date, dict[str, list[Reason]]] = {}
        self.assets = {a.id: a for a in session.exec(select(Asset).where(Asset.id.in_(asset_ids))).all()}
        self.sources = {s.id: s for s in session.exec(select(Source).where(
            Source.id.in_({a.source_id for a in self.assets.values()}))).all()}
        source_holders = holder_ids_of(session, list(self.sources))
        self.holder_ids = {a.id: holders_of(a.holder_id, source_holders.get(a.source_id, []))
                           for a in self.assets.values()}
        names = {h.id: h for h in session.exec(select(RightsHolder).where(RightsHolder.id.in_(
            {h for hs in self.holder_ids.values() for h in hs}))).all()}
        self.holders = {a: [names[h] for h in hs if h in names] for a, hs in self.holder_ids.items()}
        licence_ids = {self._licence_id(a) for a in self.assets.values()}
        self.licences = {lic.id: lic for lic in session.exec(
            select(Licence).where(Licence.id.in_(licence_ids))).all()}

    def licence(self, asset_id: str) -> Licence:
        return self.licences[self._licence_id(self.assets[asset_id])]

    def _licence_id(self, asset: Asset) -> str:
        return licence_of(asset.licence_id, self.sources[asset.source_id].licence_id)

    def ref(self, asset_id: str) -> WorkRef:
        asset, licence = self.assets[asset_id], self.licence(asset_id)
        source = self.sources[asset.source_id]
        return WorkRef(asset_id=asset.id, sha256=asset.sha256, media_type=asset.media_type,
                       source_id=source.id, source_name=f"{source.name} {source.version}",
                       holders=[HolderRef(id=h.id, name=h.name) for h in self.holders[asset_id]],
                       licence=LicenceRef(id=licence.id, identifier=licence.identifier,
                                          name=licence.name, url=licence.url))

    def evaluate(self, asset_id: str, use: Use, on: date,
                 territory: str | None = None) -> tuple[Verdict, list[Reason], list[Obligation]]:
        """The work's own licence for the use (the source may carry other licences too)."""
        licence = self.licence(asset_id)
        source = self.sources[self.assets[asset_id].source_id]
        reasons = licence_reasons(licence, use, on, territory)
        # The work's own training opt-out (TDM reservation) blocks too, as in evaluation.
        if on not in self._opt_outs:  # every work's source at once
            self._opt_outs[on] = opt_out_reasons(self.session, list(self.sources), on, self.live, self.reader)
        reasons += [r for r in self._opt_outs[on].get(source.id, []) if r.asset_id == asset_id]
        obligations = licence_obligations(licence, use,
                                          credit_line(source, self.holders[asset_id], licence))
        verdict = Verdict.denied if reasons else Verdict.conditional if obligations else Verdict.allowed
        return verdict, reasons, obligations

    def held_by(self, asset_id: str, holder_id: str | None) -> bool:
        return holder_id in self.holder_ids.get(asset_id, [])


def _generation(session: Session, generation_id: str) -> Generation:
    return get_or_404(session, Generation, generation_id, "generation")


def generation_refs(session: Session, generations: list[Generation]) -> list[GenerationRef]:
    """The generations as reports cite them, with their models' names (one query)."""
    models = {m.id: m for m in session.exec(select(AIModel).where(
        AIModel.id.in_({g.model_id for g in generations}))).all()}
    return [_generation_ref(g, models.get(g.model_id)) for g in generations]


def _generation_ref(generation: Generation, model: AIModel | None) -> GenerationRef:
    return GenerationRef(id=generation.id, title=generation.title, production=generation.production,
                         model_id=generation.model_id,
                         model=f"{model.name} {model.version}" if model else generation.model_id,
                         intended_use=generation.intended_use, sha256=generation.sha256,
                         media_type=generation.media_type)


def _submitted(session: Session, match: dict[str, Any]) -> tuple[str | None, str | None]:
    """Digest and media type of the checked file the match came from."""
    check = session.get(Check, match["check_id"])
    for item in check.items if check else []:
        if item["name"] == match.get("item_name") and any(
                m["asset_id"] == match["asset_id"] for m in item["matches"]):
            return item.get("sha256"), item.get("media_type")
    return None, None


def _thumb(frame: Frame | None, sha256: str | None, time_s: float | None,
           images: dict[str, bytes], missing: str) -> Thumbnail:
    if frame is None:
        return Thumbnail(media_sha256=sha256, time_s=time_s, png_sha256=None, note=missing)
    images[frame.sha256] = frame.png
    return Thumbnail(media_sha256=sha256, time_s=time_s, png_sha256=frame.sha256,
                     width=frame.width, height=frame.height)


def _evidence_spans(blobs: LocalBlobStore, match: dict[str, Any], asset: Asset,
                    generated: tuple[str | None, str | None],
                    images: dict[str, bytes]) -> list[EvidenceSpan]:
    gen_sha, gen_type = generated
    missing = ("generated media not uploaded: the check was made from fingerprints only"
               if gen_sha is None else "generated media not stored (checked before the registry "
                                       "kept checked files)")
    pairs: list[tuple[Span | None, float | None, float | None]] = [
        (Span(**s), s["query_start_s"], s["reference_start_s"]) for s in match.get("spans") or []]
    if not pairs:  # an image, or a single frame of a registered clip
        pairs = [(None, None, match.get("reference_time_s"))]
    result = []
    for span, query_t, ref_t in pairs:
        gen = _thumb(thumbnail(blobs, gen_sha, gen_type, query_t), gen_sha, query_t, images,
                     missing if gen_sha is None or not blobs.exists(gen_sha) else "cannot be decoded")
        ref = _thumb(thumbnail(blobs, asset.sha256, asset.media_type, ref_t), asset.sha256, ref_t,
                     images, "registered media not in the blob store")
        result.append(EvidenceSpan(span=span, generated=gen, registered=ref))
    return result


def _manifests_for(session: Session, source_ids: set[str],
                   known: dict[str, str | None]) -> dict[str, str | None]:
    """Per source, the manifest the model was trained on (``known``: the training mix),
    else the source's latest registry manifest, else None: one query for all the others."""
    others = source_ids - known.keys()
    latest = dict(session.execute(newest_registry_manifests(others).with_only_columns(
        Manifest.source_id, Manifest.id)).tuples().all()) if others else {}
    return {**known, **{s: latest.get(s) for s in others}}


def log_proofs(session: Session, settings: Settings, cited: list[tuple[str, str]],
               withheld: set[str] = frozenset()) -> tuple[list[LogProof], Checkpoint]:
    """Each cited record's first log entry (its creation), proven against the latest
    checkpoint; the payloads of ``withheld`` entities are left out (the proof stays)."""
    checkpoint = tree.latest_checkpoint(session, settings)
    ids = [entity_id for _, entity_id in cited]
    first: dict[str, LogEntry] = {}
    for entry in session.exec(select(LogEntry).where(LogEntry.entity_id.in_(ids))
                              .order_by(LogEntry.idx)).all():
        first.setdefault(entry.entity_id, entry)
    proven = {entity_id: entry for entity_id, entry in first.items() if entry.idx < checkpoint.size}
    inclusions = tree.inclusions(session, [entry.idx for entry in proven.values()], checkpoint.size)
    proofs = []
    for role, entity_id in cited:
        entry = proven.get(entity_id)
        if entry is None:
            continue
        proofs.append(LogProof(role=role, entity_id=entity_id, action=entry.action, idx=entry.idx,
                               payload=None if entity_id in withheld
                               else base64.b64encode(entry.payload).decode(),
                               inclusion=inclusions[entry.idx]))
    return proofs, Checkpoint(size=checkpoint.size, root=base64.b64encode(checkpoint.root).decode(),
                              note=checkpoint.note)


def _evidence_matches(session: Session, actor: Actor, generation_id: str
                      ) -> tuple[Generation, list[dict[str, Any]], list[dict[str, Any]], Works]:
    """(generation, every match of its checks, the matches the actor may see, their works).
    A rights holder sees its own works' matches only, and no generation without one."""
    generation = _generation(session, generation_id)
    every_match = generation_matches(session, generation.id)
    works = Works(session, {m["asset_id"] for m in every_match}, actor)
    matches = [m for m in every_match if m["asset_id"] in works.assets]
    if actor.role is Role.rights_holder:
        matches = [m for m in matches if works.held_by(m["asset_id"], actor.holder_id)]
        if not matches:
            raise NotFound(f"generation {generation_id} does not exist")
    return generation, every_match, matches, works


def evidence_thumbnail(session: Session, blobs: LocalBlobStore, actor: Actor, generation_id: str,
                       png_sha256: str) -> bytes:
    """One thumbnail the copyright-evidence report cites, rendered again from the stored
    media without building the rest of the report (licences, proofs, other thumbnails)."""
    _, _, matches, works = _evidence_matches(session, actor, generation_id)
    images: dict[str, bytes] = {}
    for match in matches:
        _evidence_spans(blobs, match, works.assets[match["asset_id"]], _submitted(session, match),
                        images)
        if png_sha256 in images:
            return images[png_sha256]
    raise NotFound(f"report of generation {generation_id} cites no thumbnail {png_sha256}")


def copyright_evidence(session: Session, settings: Settings, blobs: LocalBlobStore, actor: Actor,
                       generation_id: str) -> tuple[CopyrightEvidenceReport, dict[str, bytes]]:
    """The report and the thumbnail PNGs it cites (by digest). A rights holder gets it only
    for generations that matched its works, and sees only those matches."""
    generation, every_match, matches, works = _evidence_matches(session, actor, generation_id)
    manifests = _manifests_for(
        session, {works.assets[m["asset_id"]].source_id for m in matches},
        {ms.source_id: ms.manifest_id for ms in training_mix(session, generation.model_id)})
    use = Use(generation.intended_use)
    on = generation.created_at.date()
    images: dict[str, bytes] = {}
    items = []
    for match in matches:
        asset = works.assets[match["asset_id"]]
        verdict, reasons, obligations = works.evaluate(asset.id, use, on)
        items.append(EvidenceMatch(
            check_id=match["check_id"], item_name=match.get("item_name") or "",
            checked_at=match.get("checked_at"), via=match["via"], verdict=match["verdict"],
            score=match["score"], distance=match.get("distance"), channel=match.get("channel"),
            coverage=match.get("coverage"), mirrored=match.get("mirrored"),
            inlier_cells=match.get("inlier_cells"), transform=match.get("transform"),
            picture_agreement=match.get("picture_agreement"),
            work=works.ref(asset.id),
            use=use, permitted=verdict, reasons=reasons, obligations=obligations,
            manifest_id=manifests[asset.source_id],
            spans=_evidence_spans(blobs, match, asset, _submitted(session, match), images)))
    cited = [("generation", generation.id)]
    cited += [("check", c) for c in dict.fromkeys(m.check_id for m in items)]
    cited += [("manifest", mid) for mid in dict.fromkeys(m.manifest_id for m in items) if mid]
    # A check's entry lists every work it matched; a holder sees only its own matches.
    named: dict[str, tuple[set[str], tuple[()]]] = {}
    for m in every_match:
        named.setdefault(m["check_id"], (set(), ()))[0].add(m["asset_id"])
    withheld = withheld_entries(session, actor, named)
    proofs, checkpoint = log_proofs(session, settings, cited, withheld)
    report = CopyrightEvidenceReport(generation=generation_refs(session, [generation])[0], evaluated_on=on,
                                     matches=items, proofs=proofs, checkpoint=checkpoint)
    return report, images


def _generations_in_scope(session: Session, generation_id: str | None,
                          production: str | None) -> list[Generation]:
    if generation_id is not None:
        return [_generation(session, generation_id)]
    found = list(session.exec(select(Generation).where(
        Generation.production == production, Generation.retired_at.is_(None))
        .order_by(Generation.created_at, Generation.id)).all())
    if not found:
        raise NotFound(f"production {production!r} has no generations")
    return found


def _split(obligations: list[Obligation], basis: str, source_id: str, credits: dict[str, None],
           fees: list[Fee], other: list[Obligation]) -> None:
    for ob in obligations:
        if ob.kind == "attribution":
            credits.setdefault(ob.text)
        elif ob.kind in _FEES:
            fee = Fee(kind=ob.kind, text=ob.text, licence_id=ob.licence_id, amount=ob.amount,
                      currency=ob.currency, basis=basis, source_id=source_id)
            if fee not in fees:
                fees.append(fee)
        elif ob not in other:
            other.append(ob)


def clearance(session: Session, generation_id: str | None, production: str | None, use: Use,
              on: date, territory: str | None = None, live: LiveIndex | None = None) -> ClearanceReport:
    """What releasing these generations for ``use`` on ``on`` requires, and what blocks it:
    the matched works' licences and the models' training sources, each evaluated as
    ``POST /v1/evaluations`` does (with ``live``, the same opt-out matching)."""
    generations = _generations_in_scope(session, generation_id, production)
    per_asset: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"gens": [], "checks": []})
    matches = matches_of_generations(session, [g.id for g in generations])
    for generation in generations:
        for match in matches[generation.id]:
            seen = per_asset[match["asset_id"]]
            for key, value in (("gens", generation.id), ("checks", match["check_id"])):
                if value not in seen[key]:
                    seen[key].append(value)
    works = Works(session, set(per_asset), live=live)
    credits: dict[str, None] = {}
    fees: list[Fee] = []
    other: list[Obligation] = []
    blockers: list[Blocker] = []
    work_rows = []
    for asset_id in sorted(per_asset, key=lambda a: (a not in works.assets, a)):
        if asset_id not in works.assets:
            continue
        verdict, reasons, obligations = works.evaluate(asset_id, use, on, territory)
        source_id = works.assets[asset_id].source_id
        work_rows.append(ClearanceWork(work=works.ref(asset_id), generation_ids=per_asset[asset_id]["gens"],
                                       check_ids=per_asset[asset_id]["checks"], verdict=verdict,
                                       reasons=reasons, obligations=obligations))
        _split(obligations, "work", source_id, credits, fees, other)
        blockers += [Blocker(code=r.code, message=r.message, basis="work", asset_id=asset_id,
                             source_id=source_id, licence_id=r.licence_id) for r in reasons]
    training_rows = []
    mixes = training_mixes(session, list(dict.fromkeys(g.model_id for g in generations)))
    sources = {s.id: s for s in session.exec(select(Source).where(
        Source.id.in_({ms.source_id for mix in mixes.values() for ms in mix}))).all()}
    # one evaluation per source, however many models share it
    evaluations = evaluate_sources(session, list(sources.values()), use, on, territory, live)
    for model_id, mix in mixes.items():
        for ms in mix:
            source = sources[ms.source_id]
            evaluation = evaluations[source.id]
            training_rows.append(ClearanceTraining(
                model_id=model_id, source_id=source.id, source_name=f"{source.name} {source.version}",
                weight=ms.weight, verdict=evaluation.verdict, reasons=evaluation.reasons,
                obligations=evaluation.obligations))
            _split(evaluation.obligations, "training", source.id, credits, fees, other)
            blockers += [Blocker(code=r.code, message=r.message, basis="training",
                                 source_id=source.id, model_id=model_id, licence_id=r.licence_id,
                                 asset_id=r.asset_id)
                         for r in evaluation.reasons]
    verdict = "blocked" if blockers else "conditional" if credits or fees or other else "cleared"
    return ClearanceReport(
        generation_id=generation_id, production=production if generation_id is None else None,
        use=use, on=on, verdict=verdict,
        generations=generation_refs(session, generations), works=work_rows,
        training=training_rows, credits=list(credits), fees=fees, other_obligations=other,
        blockers=blockers)
