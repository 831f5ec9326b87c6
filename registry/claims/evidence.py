"""Evidence a claim attaches at filing: what the registry holds that supports it, each part
proven so that it can be checked offline without trusting the registry.

Log proofs lead to the signed checkpoint taken at filing; manifest entries carry the Merkle
proof of each cited asset. Nothing here writes, except that taking the checkpoint may sign
one for the current log size (as ``GET /v1/log/checkpoint`` does).
"""

import base64
import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, func, select

from registry.access import holders_of
from registry.assets.models import Asset
from registry.auditlog import merkle, tree
from registry.auditlog.models import LogEntry
from registry.auditlog.schemas import InclusionProof
from registry.claims.schemas import (
    CheckEvidence,
    CompensationEvidence,
    CopyrightEvidence,
    LogProof,
    ManifestEvidence,
    MatchEvidence,
    TargetLog,
    TrainingSourceEvidence,
)
from registry.core.config import Settings
from registry.core.errors import Conflict
from registry.lineage.models import AIModel, Generation, ModelSource
from registry.lineage.service import generation_matches, training_mix
from registry.manifests.document import asset_tree
from registry.manifests.models import Manifest
from registry.manifests.schemas import AssetInclusion
from registry.manifests.service import registry_manifests_of
from registry.sources.service import holder_ids_of

# A compensation claim lists the claimant's works per training source; a source can hold
# hundreds of thousands, so the claim lists and proves a bounded number and says so.
MAX_LISTED = 1_000
MAX_PROVEN = 100


def log_proofs(session: Session, entity_ids: list[str], tree_size: int) -> dict[str, LogProof]:
    """Each record's latest log entry inside the checkpointed tree, with its inclusion
    proof (records without one are left out): one query for the entries, and the proofs'
    nodes read together, however many records."""
    if not entity_ids:
        return {}
    latest = (select(func.max(LogEntry.idx)).where(LogEntry.entity_id.in_(sorted(set(entity_ids))),
                                                   LogEntry.idx < tree_size)
              .group_by(LogEntry.entity_id))
    entries = session.exec(select(LogEntry).where(LogEntry.idx.in_(latest))).all()
    inclusions = tree.inclusions(session, [entry.idx for entry in entries], tree_size)
    return {entry.entity_id: LogProof(
        idx=entry.idx, entity_type=entry.entity_type, entity_id=entry.entity_id,
        action=entry.action, payload=base64.b64encode(entry.payload).decode(),
        inclusion=InclusionProof(**inclusions[entry.idx])) for entry in entries}


class _Manifests:
    """Parsed manifests and their asset trees, each built once per filing."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._entries: dict[str, list[dict[str, Any]]] = {}
        self._trees: dict[str, merkle.InMemoryNodeStore] = {}
        self._indexes: dict[str, dict[str, int]] = {}
        self.cited: dict[str, Manifest] = {}

    def entries(self, manifest: Manifest) -> list[dict[str, Any]]:
        if manifest.id not in self._entries:
            payload = base64.b64decode(json.loads(manifest.envelope)["payload"])
            self._entries[manifest.id] = json.loads(payload)["predicate"]["assets"]
        return self._entries[manifest.id]

    def prove(self, manifest: Manifest, index: int) -> AssetInclusion:
        entries = self.entries(manifest)
        if manifest.id not in self._trees:
            self._trees[manifest.id] = asset_tree(entries)
        self.cited[manifest.id] = manifest
        hashes = merkle.inclusion_proof(index, len(entries), self._trees[manifest.id])
        return AssetInclusion(manifest_id=manifest.id, asset_root=manifest.asset_root,
                              index=index, size=len(entries), entry=entries[index],
                              proof=[base64.b64encode(h).decode() for h in hashes])

    def registry_manifest_listings(self, assets: list[Asset]) -> dict[str, tuple[Manifest, int]]:
        """Per asset, the newest registry-signed manifest of its source that lists it, with
        the asset's index there (assets no such manifest lists are left out): one query for
        every source's manifests."""
        of_source: dict[str, list[Manifest]] = defaultdict(list)
        if assets:
            for manifest in self.session.exec(registry_manifests_of({a.source_id for a in assets})).all():
                of_source[manifest.source_id].append(manifest)  # newest first
        listings = {}
        for asset in assets:
            for manifest in of_source[asset.source_id]:
                index = self._positions(manifest).get(asset.id)
                if index is not None:
                    listings[asset.id] = (manifest, index)
                    break
        return listings

    def _positions(self, manifest: Manifest) -> dict[str, int]:
        """Where the manifest lists each asset (the first place, should one be listed twice)."""
        if manifest.id not in self._indexes:
            positions: dict[str, int] = {}
            for index, entry in enumerate(self.entries(manifest)):
                positions.setdefault(entry["asset_id"], index)
            self._indexes[manifest.id] = positions
        return self._indexes[manifest.id]

    def evidence(self, proofs: dict[str, LogProof]) -> list[ManifestEvidence]:
        """The cited manifests, each with its log proof (from ``log_proofs``)."""
        return [ManifestEvidence(manifest_id=m.id, source_id=m.source_id, kind=m.kind,
                                 payload_sha256=m.payload_sha256, asset_root=m.asset_root,
                                 asset_count=m.asset_count, key_id=m.key_id,
                                 issued_at=m.issued_at, envelope_url=f"/v1/manifests/{m.id}/envelope",
                                 log=proofs.get(m.id))
                for m in sorted(self.cited.values(), key=lambda m: m.id)]


def owned_assets(session: Session, holder_id: str, asset_ids: set[str]) -> dict[str, Asset]:
    """The assets among ``asset_ids`` that belong to the holder: its own, or with no own
    holder in a source the holder is linked to."""
    assets = session.exec(select(Asset).where(Asset.id.in_(asset_ids))).all() if asset_ids else []
    linked = holder_ids_of(session, list({a.source_id for a in assets}))
    return {a.id: a for a in assets if holder_id in holders_of(a.holder_id, linked.get(a.source_id, []))}


def _checkpoint(session: Session, settings: Settings) -> tuple[str, int]:
    checkpoint = tree.latest_checkpoint(session, settings)
    return checkpoint.note, checkpoint.size


def copyright_evidence(session: Session, settings: Settings, holder_id: str,
                       generation: Generation) -> CopyrightEvidence:
    matches = generation_matches(session, generation.id)
    if not matches:
        raise Conflict(f"nothing to claim: generation {generation.id} has no linked check with "
                       "matches (link a near-copy check run on it first)")
    owned = owned_assets(session, holder_id, {m["asset_id"] for m in matches})
    mine = [m for m in matches if m["asset_id"] in owned]
    if not mine:
        raise Conflict(f"nothing to claim: no check linked to generation {generation.id} matched "
                       f"a work of rights holder {holder_id}")
    note, size = _checkpoint(session, settings)
    manifests = _Manifests(session)
    listed = manifests.registry_manifest_listings(list(owned.values()))
    cited_matches = []
    for match in mine:
        found = listed.get(match["asset_id"])
        cited_matches.append(MatchEvidence(
            check_id=match["check_id"], item_name=match.get("item_name"),
            asset_id=match["asset_id"], source_id=match["source_id"],
            verdict=match["verdict"], score=match.get("score"),
            match={k: v for k, v in match.items() if k not in ("check_id", "item_name")},
            manifest_id=found[0].id if found else None,
            asset_proof=manifests.prove(*found) if found else None))
    check_ids = sorted({m["check_id"] for m in mine})
    proofs = log_proofs(session, [generation.id, *check_ids, *manifests.cited], size)
    return CopyrightEvidence(
        collected_at=datetime.now(UTC), checkpoint=note, tree_size=size,
        generation=generation.model_dump(mode="json"),
        generation_log=TargetLog(entity_id=generation.id, log=proofs.get(generation.id)),
        matches=cited_matches,
        checks=[CheckEvidence(check_id=c, log=proofs.get(c)) for c in check_ids],
        manifests=manifests.evidence(proofs))


def compensation_evidence(session: Session, settings: Settings, holder_id: str,
                          model: AIModel) -> CompensationEvidence:
    mix = training_mix(session, model.id)
    linked = holder_ids_of(session, [ms.source_id for ms in mix])
    pinned = {m.id: m for m in session.exec(
        select(Manifest).where(Manifest.id.in_([ms.manifest_id for ms in mix]))).all()}
    found: list[tuple[ModelSource, Manifest, list[int]]] = []
    manifests = _Manifests(session)
    for ms in mix:
        manifest = pinned[ms.manifest_id]
        mine_by_source = holder_id in linked.get(ms.source_id, [])
        indexes = [i for i, e in enumerate(manifests.entries(manifest))
                   if e.get("holder_id") == holder_id
                   or (e.get("holder_id") is None and mine_by_source)]
        if indexes:
            found.append((ms, manifest, indexes))
    if not found:
        raise Conflict(f"nothing to claim: model {model.id} was not trained on any source "
                       f"version listing a work of rights holder {holder_id}")
    note, size = _checkpoint(session, settings)
    sources = []
    for ms, manifest, indexes in found:
        entries = manifests.entries(manifest)
        manifests.cited[manifest.id] = manifest
        sources.append(TrainingSourceEvidence(
            source_id=ms.source_id, manifest_id=ms.manifest_id,
            manifest_sha256=ms.manifest_sha256, weight=str(ms.weight),
            holder_asset_count=len(indexes),
            asset_ids=[entries[i]["asset_id"] for i in indexes[:MAX_LISTED]],
            asset_proofs=[manifests.prove(manifest, i) for i in indexes[:MAX_PROVEN]],
            truncated=len(indexes) > MAX_PROVEN))
    proofs = log_proofs(session, [model.id, *manifests.cited], size)
    return CompensationEvidence(
        collected_at=datetime.now(UTC), checkpoint=note, tree_size=size,
        model=model.model_dump(mode="json"),
        model_log=TargetLog(entity_id=model.id, log=proofs.get(model.id)),
        training_sources=sources, manifests=manifests.evidence(proofs))
