"""The training terms a source's works declare in their own Content Credentials (C2PA).

A live asset whose valid manifest says AI training is ``notAllowed`` denies every use (each
use trains a model on the material). ``constrained`` counts as not allowed unless the
licence that applies to the asset (its own, else its source's) says more: it allows AI
training, or constrains it with a stated constraint; the manifest's constraint then becomes
an obligation. Whether the signer is trusted does not change the verdict (a deployment
without trust anchors trusts no one); the reason says so when it is not.
"""

from collections import defaultdict
from collections.abc import Iterable

from sqlmodel import Session, select

from registry.access import readable_asset_ids
from registry.assets.content_credentials import constraint_text
from registry.assets.models import Asset
from registry.auth.actor import SYSTEM_ACTOR, Actor
from registry.evaluation.schemas import Obligation, Reason
from registry.licences.models import Licence, grants_training_itself
from registry.sources.models import Source

RESTRICTIVE = ("not_allowed", "constrained")


def c2pa_terms(session: Session, sources: Iterable[Source], licences: dict[str, Licence],
               reader: Actor | None = None,
               ) -> tuple[dict[str, list[Reason]], dict[str, list[Obligation]]]:
    """Reasons and obligations by source id, from two queries. ``licences``: every licence of
    the sources and of their live assets, by id; ``reader``: who reads the answer (the signer
    of another holder's work is not named to a rights holder)."""
    source_licence = {s.id: s.licence_id for s in sources}
    reasons: dict[str, list[Reason]] = defaultdict(list)
    obligations: dict[str, list[Obligation]] = defaultdict(list)
    rows = session.exec(select(Asset).where(
        Asset.source_id.in_(source_licence), Asset.retired_at.is_(None),  # type: ignore[attr-defined]
        Asset.c2pa_ai_training.in_(RESTRICTIVE)).order_by(Asset.id)).all()  # type: ignore[union-attr]
    named = readable_asset_ids(session, reader or SYSTEM_ACTOR, {a.id for a in rows})
    for asset in rows:
        licence = licences.get(asset.licence_id or source_licence[asset.source_id])
        signed = _signed_by(asset) if asset.id in named else "signed by a signer not shown to you"
        if asset.c2pa_ai_training == "not_allowed":
            reasons[asset.source_id].append(Reason(
                code="c2pa_training_not_allowed", asset_id=asset.id,
                message=f"asset {asset.id}: its C2PA manifest, {signed}, does not allow AI training"))
            continue
        constraint = constraint_text(asset.c2pa_terms or []) or "no constraint stated"
        if grants_training_itself(licence):
            obligations[asset.source_id].append(Obligation(
                kind="training_constraint", licence_id=licence.id,
                text=f"asset {asset.id} constrains AI training in its C2PA manifest ({signed}): "
                     f"{constraint}"))
        else:
            reasons[asset.source_id].append(Reason(
                code="c2pa_training_constrained", asset_id=asset.id,
                licence_id=licence.id if licence else None,
                message=f"asset {asset.id}: its C2PA manifest, {signed}, constrains AI training "
                        f"({constraint}) and its licence does not allow or constrain AI training "
                        "itself, so it counts as not allowed"))
    return reasons, obligations


def _signed_by(asset: Asset) -> str:
    who = asset.c2pa_signer_name or "an unnamed signer"
    if asset.c2pa_signer_issuer:
        who += f" (issued by {asset.c2pa_signer_issuer})"
    return f"signed by {who}, {'a trusted' if asset.c2pa_trusted else 'an untrusted'} signer"
