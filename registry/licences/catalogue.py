"""The common licences every registry starts with, terms filled in.

Reading of the Creative Commons licences for AI use follows CC's own guidance: the licences
do not forbid training, but their conditions (NC, ND, BY, SA) follow the material into
commercial use and into outputs that adapt it.
"""

from typing import Any

from sqlmodel import Session, select

from registry.auth.actor import SYSTEM_ACTOR
from registry.core.ids import new_id
from registry.licences.models import Licence
from registry.unit_of_work import commit_change

_CC = "https://creativecommons.org/licenses/{}/4.0/"


def _cc(code: str, name: str, **terms: Any) -> dict[str, Any]:
    base = dict(identifier=f"CC-{code.upper()}-4.0", name=name, url=_CC.format(code),
                commercial_use=True, derivatives=True, attribution_required=True,
                share_alike=False, ai_training="allowed")
    return base | terms


CATALOGUE: list[dict[str, Any]] = [
    dict(identifier="CC0-1.0", name="Creative Commons Zero v1.0 Universal",
         url="https://creativecommons.org/publicdomain/zero/1.0/", commercial_use=True,
         derivatives=True, attribution_required=False, share_alike=False, ai_training="allowed"),
    dict(identifier="PDDL-1.0", name="Open Data Commons Public Domain Dedication and License v1.0",
         url="https://opendatacommons.org/licenses/pddl/1-0/", commercial_use=True,
         derivatives=True, attribution_required=False, share_alike=False, ai_training="allowed"),
    _cc("by", "Creative Commons Attribution 4.0 International"),
    _cc("by-sa", "Creative Commons Attribution-ShareAlike 4.0 International", share_alike=True),
    _cc("by-nc", "Creative Commons Attribution-NonCommercial 4.0 International",
        commercial_use=False),
    _cc("by-nd", "Creative Commons Attribution-NoDerivatives 4.0 International",
        derivatives=False),
    _cc("by-nc-sa", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International",
        commercial_use=False, share_alike=True),
    _cc("by-nc-nd", "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International",
        commercial_use=False, derivatives=False),
    dict(identifier="ODC-By-1.0", name="Open Data Commons Attribution License v1.0",
         url="https://opendatacommons.org/licenses/by/1-0/", commercial_use=True,
         derivatives=True, attribution_required=True, share_alike=False, ai_training="allowed"),
    dict(identifier="LicenseRef-All-Rights-Reserved", name="All rights reserved",
         url=None, commercial_use=False, derivatives=False, attribution_required=True,
         share_alike=False, ai_training="not_allowed"),
    dict(identifier="LicenseRef-AI-Training-Licence", name="Commercial AI training licence (template)",
         url=None, commercial_use=True, derivatives=True, attribution_required=True,
         share_alike=False, ai_training="constrained",
         ai_training_constraint="Training permitted; generated outputs must not reproduce "
                                "recognisable frames of the licensed works."),
]


def seed_catalogue(session: Session) -> int:
    """Insert the built-in licences that are missing; safe to run on every upgrade."""
    present = set(session.exec(select(Licence.identifier).where(Licence.builtin)).all())
    added = 0
    for terms in CATALOGUE:
        if terms["identifier"] in present:
            continue
        licence = Licence(id=new_id("lic"), builtin=True, territory=["WORLDWIDE"], **terms)
        session.add(licence)
        commit_change(session, SYSTEM_ACTOR, "licence.created", "licence", licence)
        added += 1
    return added
