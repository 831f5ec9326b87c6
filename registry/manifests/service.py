import base64
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from registry.access import licence_of, readable_source_ids
from registry.assets.models import Asset
from registry.auth.actor import Actor
from registry.auth.models import Role
from registry.core.config import Settings
from registry.core.crud import get_or_404
from registry.core.errors import Conflict, Forbidden, InvalidSignature, NotFound
from registry.core.ids import new_id
from registry.core.models import utcnow
from registry.core.signing import KeyringError, VerificationKey
from registry.fingerprints.models import FingerprintSet
from registry.fingerprints.records import to_unsigned
from registry.holders.models import RightsHolder
from registry.licences.models import Licence
from registry.manifests.document import build_manifest, prove_asset
from registry.manifests.dsse import sign_envelope
from registry.manifests.models import Manifest
from registry.manifests.statement import PAYLOAD_TYPE
from registry.manifests.verify import ManifestInvalid, verify_manifest
from registry.signingkeys.service import active_signer
from registry.sources.models import Source
from registry.sources.service import get_source, holder_ids_of
from registry.unit_of_work import commit_change

ENTITY = "manifest"

# Manifests signed before a field was listed simply lack it: each verifies on its own signed bytes.
_SOURCE_FIELDS = ("id", "name", "version", "description", "uri", "media_types", "acquired_on",
                  "acquisition_method", "category", "crawler", "collection_period", "opt_out_signals",
                  "eidr", "isan", "supersedes_id")
_LICENCE_FIELDS = ("id", "identifier", "name", "url", "commercial_use", "derivatives",
                   "attribution_required", "share_alike", "ai_training", "ai_training_constraint",
                   "territory", "valid_from", "valid_until", "fee_flat", "royalty_rate", "currency")


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    data = record.model_dump(mode="json", include=set(names))
    return {k: (str(v) if k in ("fee_flat", "royalty_rate") and v is not None else v)
            for k, v in data.items()}


def asset_entry(row: Any, source: Source) -> dict[str, Any]:
    """One manifest line; ``phash`` is the image's (or the clip's first informative
    frame's) imagehash.phash in hex, as ``str(imagehash.phash(img))`` prints it."""
    return {"asset_id": row.id, "sha256": row.sha256, "media_type": row.media_type,
            "byte_size": row.byte_size, "licence_id": licence_of(row.licence_id, source.licence_id),
            "holder_id": row.holder_id,
            "phash": None if row.phash is None else f"{to_unsigned(row.phash):016x}"}


def _document_parts(session: Session, source: Source) -> dict[str, Any]:
    # Plain rows, not ORM objects: a manifest may list hundreds of thousands of assets.
    rows = session.execute(
        select(Asset.id, Asset.sha256, Asset.media_type, Asset.byte_size, Asset.licence_id,
               Asset.holder_id, FingerprintSet.phash)
        .join(FingerprintSet, FingerprintSet.asset_id == Asset.id, isouter=True)
        .where(Asset.source_id == source.id, Asset.retired_at.is_(None))
        .order_by(Asset.id)).all()
    if not rows:
        raise Conflict(f"source {source.id} has no live assets to put in a manifest")
    entries = [asset_entry(row, source) for row in rows]
    licence_ids = sorted({e["licence_id"] for e in entries} | {source.licence_id})
    holder_ids = sorted(set(holder_ids_of(session, [source.id]).get(source.id, []))
                        | {row.holder_id for row in rows if row.holder_id})
    licences = session.exec(select(Licence).where(Licence.id.in_(licence_ids))).all()
    holders = session.exec(select(RightsHolder).where(RightsHolder.id.in_(holder_ids))).all()
    return {"source": _fields(source, _SOURCE_FIELDS),
            "licences": [_fields(lic, _LICENCE_FIELDS) for lic in licences],
            "rights_holders": [_fields(h, ("id", "name", "kind", "identifiers")) for h in holders],
            "assets": entries}


def sign_source_manifest(session: Session, settings: Settings, actor: Actor,
                         source_id: str) -> Manifest:
    source = get_or_404(session, Source, source_id, "source")
    if source.retired_at is not None:
        raise Conflict(f"source {source_id} is retired")
    issued_at = utcnow()
    statement, payload, root = build_manifest(registry_origin=settings.log_origin, issued_at=issued_at,
                                     **_document_parts(session, source))
    signer = active_signer(session, settings)
    envelope = sign_envelope(PAYLOAD_TYPE, payload, [signer])
    manifest = Manifest(id=new_id("man"), source_id=source.id, kind="registry",
                        payload_sha256=hashlib.sha256(payload).hexdigest(), asset_root=root.hex(),
                        asset_count=len(statement["subject"]), envelope=json.dumps(envelope),
                        key_id=signer.key_id, issued_at=issued_at)
    session.add(manifest)
    commit_change(session, actor, "manifest.signed", ENTITY, manifest)
    return manifest


def submit_manifest(session: Session, actor: Actor, source_id: str,
                    envelope: dict[str, Any]) -> Manifest:
    """Store a manifest signed by one of the source's rights holders with a registered key."""
    source = get_source(session, actor, source_id)
    holder_ids = holder_ids_of(session, [source.id]).get(source.id, [])
    if actor.role is Role.rights_holder and actor.holder_id not in holder_ids:
        raise Forbidden("a rights holder submits manifests only for sources it holds")
    keys = _holder_keys(session, holder_ids)
    if not keys:
        raise Conflict("none of the source's rights holders has registered a public key")
    try:
        verified = verify_manifest(envelope, [key for key, _ in keys])
    except ManifestInvalid as exc:
        raise InvalidSignature(f"manifest rejected: {exc}") from None
    if verified.predicate.get("source", {}).get("id") != source.id:
        raise InvalidSignature("the manifest describes a different source")
    holder_id = next(h for key, h in keys if key.key_id == verified.key_id)
    manifest = Manifest(id=new_id("man"), source_id=source.id, kind="submitted",
                        payload_sha256=hashlib.sha256(verified.payload).hexdigest(),
                        asset_root=verified.asset_root.hex(),
                        asset_count=len(verified.statement["subject"]),
                        envelope=json.dumps(envelope), key_id=verified.key_id,
                        holder_id=holder_id,
                        issued_at=datetime.fromisoformat(verified.predicate["issued_at"]))
    session.add(manifest)
    commit_change(session, actor, "manifest.submitted", ENTITY, manifest)
    return manifest


def _holder_keys(session: Session, holder_ids: list[str]) -> list[tuple[VerificationKey, str]]:
    keys = []
    for holder in session.exec(select(RightsHolder).where(RightsHolder.id.in_(holder_ids))).all():
        for entry in holder.public_keys:
            try:
                keys.append((VerificationKey(holder.id, base64.b64decode(entry["ed25519"])), holder.id))
            except (KeyringError, ValueError):
                continue
    return keys


# The one order every "latest manifest of a source" in the registry agrees on.
_NEWEST_FIRST = (Manifest.issued_at.desc(), Manifest.id.desc())


def registry_manifests_of(source_ids: Iterable[str]) -> Any:
    """The statement selecting the sources' registry-signed manifests, by source, each
    source's newest first: one query for many sources."""
    return (select(Manifest).where(Manifest.source_id.in_(sorted(set(source_ids))),
                                   Manifest.kind == "registry")
            .order_by(Manifest.source_id, *_NEWEST_FIRST))


def newest_registry_manifests(source_ids: Iterable[str]) -> Any:
    """The statement selecting each source's newest registry-signed manifest (the first of
    ``registry_manifests_of``; a source without one has none): one query for many sources."""
    newest = sa.func.row_number().over(partition_by=Manifest.source_id,
                                       order_by=_NEWEST_FIRST).label("newest")
    ranked = select(Manifest.id, newest).where(
        Manifest.source_id.in_(sorted(set(source_ids))), Manifest.kind == "registry").subquery()
    return (select(Manifest).join(ranked, ranked.c.id == Manifest.id)
            .where(ranked.c.newest == 1).order_by(Manifest.source_id))


def get_manifest(session: Session, actor: Actor, manifest_id: str) -> Manifest:
    manifest = get_or_404(session, Manifest, manifest_id, "manifest")
    if not readable_source_ids(session, actor, [manifest.source_id]):
        # as unknown: naming the source would tell a holder whose manifest it is
        raise NotFound(f"manifest {manifest_id} does not exist")
    return manifest


def list_manifests(session: Session, actor: Actor, source_id: str) -> list[Manifest]:
    get_source(session, actor, source_id)
    return list(session.exec(select(Manifest).where(Manifest.source_id == source_id)
                             .order_by(Manifest.id)).all())


def asset_inclusion(session: Session, actor: Actor, manifest_id: str, asset_id: str) -> dict[str, Any]:
    manifest = get_manifest(session, actor, manifest_id)
    payload = base64.b64decode(json.loads(manifest.envelope)["payload"])
    assets = json.loads(payload)["predicate"]["assets"]
    proof = prove_asset(assets, asset_id)
    if proof is None:
        raise NotFound(f"asset {asset_id} is not in manifest {manifest_id}")
    return {"manifest_id": manifest.id, "asset_root": manifest.asset_root, "index": proof.index,
            "size": proof.size, "entry": proof.entry,
            "proof": [base64.b64encode(h).decode() for h in proof.proof]}
