"""Rights-holder lookups: where did my work go?

The matching is a near-copy check's (``registry.checks.service``) without the stored check:
a lookup changes nothing, so it is neither a ``check_run`` nor an audit-log entry (the log
records changes; reads are not logged anywhere in the registry). Each matched asset is then
walked like ``GET /v1/assets/{id}/lineage``. A rights-holder key only gets answers about its
own works: matches on assets it does not hold are dropped before anything is walked.
"""

from sqlmodel import Session

from registry.access import scoped
from registry.auth.actor import Actor
from registry.checks.schemas import CheckItem, Match
from registry.lineage.service import asset_lineages
from registry.lookup.schemas import LookupItem, LookupRead, LookupWork


def _visible(actor: Actor, match: Match) -> bool:
    # Match.holder_ids is the asset's own holder, else its source's: the ownership rule.
    return not scoped(actor) or actor.holder_id in match.holder_ids


def answer(session: Session, actor: Actor, items: list[CheckItem]) -> LookupRead:
    # Every matched work walked at once; one reassigned since the index answered (no longer
    # the actor's to read) is left out of the walks, and so of the answer.
    walked = asset_lineages(session, actor, {match.asset_id for item in items
                                             for match in item.matches if _visible(actor, match)})
    result = []
    for item in items:
        works = []
        for match in item.matches:
            walk = walked.get(match.asset_id) if _visible(actor, match) else None
            if walk is None:
                continue
            works.append(LookupWork(
                asset_id=match.asset_id, sha256=walk.sha256, media_type=walk.media_type,
                holder_ids=match.holder_ids, identical=walk.sha256 == item.sha256,
                via=match.via, verdict=match.verdict, score=match.score, distance=match.distance,
                reference_time_s=match.reference_time_s, spans=match.spans,
                channel=match.channel, coverage=match.coverage, mirrored=match.mirrored,
                inlier_cells=match.inlier_cells, transform=match.transform,
                picture_agreement=match.picture_agreement,
                copies=walk.copies, sources=walk.sources, generations=walk.generations))
        result.append(LookupItem(name=item.name, sha256=item.sha256, media_type=item.media_type,
                                 works=works))
    scope = actor.holder_id if scoped(actor) else "all"
    return LookupRead(scope=scope or "all", items=result)
