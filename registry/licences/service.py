from types import SimpleNamespace

from sqlmodel import Session, select

from registry.auth.actor import Actor
from registry.core.crud import apply_patch, filter_retired, get_or_404, retry_on_concurrent_change
from registry.core.errors import Conflict, InvalidInput
from registry.core.ids import new_id
from registry.core.pagination import paginate
from registry.core.preconditions import ANY_VERSION, Precondition
from registry.licences.models import Licence
from registry.licences.schemas import AiTraining, LicenceCreate, LicenceUpdate, check_terms
from registry.unit_of_work import commit_change, retire

ENTITY = "licence"


def create_licence(session: Session, actor: Actor, data: LicenceCreate) -> Licence:
    licence = Licence(id=new_id("lic"), builtin=False, **data.model_dump(mode="python"))
    licence.url = str(data.url) if data.url else None
    licence.ai_training = data.ai_training.value
    session.add(licence)
    commit_change(session, actor, "licence.created", ENTITY, licence)
    return licence


def get_licence(session: Session, licence_id: str) -> Licence:
    return get_or_404(session, Licence, licence_id, "licence")


@retry_on_concurrent_change
def update_licence(session: Session, actor: Actor, licence_id: str,
                   data: LicenceUpdate, precondition: Precondition = ANY_VERSION) -> Licence:
    licence = get_licence(session, licence_id)
    if licence.builtin:
        raise Conflict("built-in licences are fixed; register a custom licence with your terms")
    changes = data.model_dump(mode="python", exclude_unset=True)
    if "url" in changes:
        changes["url"] = str(changes["url"]) if changes["url"] else None
    if isinstance(changes.get("ai_training"), AiTraining):
        changes["ai_training"] = changes["ai_training"].value
    merged = SimpleNamespace(**(licence.model_dump() | changes))
    try:
        check_terms(merged)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    apply_patch(licence, changes, precondition)
    session.add(licence)
    commit_change(session, actor, "licence.updated", ENTITY, licence)
    return licence


@retry_on_concurrent_change
def retire_licence(session: Session, actor: Actor, licence_id: str, reason: str) -> Licence:
    licence = get_licence(session, licence_id)
    retire(session, actor, licence, ENTITY, reason)
    return licence


def list_licences(session: Session, *, identifier: str | None, ai_training: AiTraining | None,
                  commercial_use: bool | None, retired: bool | None, cursor: str | None,
                  limit: int) -> tuple[list[Licence], str | None]:
    stmt = select(Licence)
    if identifier:
        stmt = stmt.where(Licence.identifier == identifier)
    if ai_training:
        stmt = stmt.where(Licence.ai_training == ai_training.value)
    if commercial_use is not None:
        stmt = stmt.where(Licence.commercial_use == commercial_use)
    stmt = filter_retired(stmt, Licence, retired)
    return paginate(session, stmt, Licence.id, cursor, limit)
