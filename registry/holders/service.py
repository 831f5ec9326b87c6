from typing import TypeVar

from sqlmodel import Session, SQLModel, select

from registry.access import holds, readable_held
from registry.auth.actor import Actor
from registry.auth.models import Role
from registry.core.crud import apply_patch, filter_retired, get_or_404, require_live, retry_on_concurrent_change
from registry.core.errors import Forbidden, InvalidInput, NotFound
from registry.core.ids import new_id
from registry.core.pagination import paginate
from registry.core.preconditions import ANY_VERSION, Precondition
from registry.holders.models import RightsHolder
from registry.holders.schemas import HolderCreate, HolderKind, HolderUpdate
from registry.unit_of_work import commit_change, retire

ENTITY = "rights_holder"


HeldRecord = TypeVar("HeldRecord", bound=SQLModel)


def _visible(actor: Actor, holder_id: str) -> bool:
    return holds(actor, holder_id)


def get_held_record(session: Session, actor: Actor, model: type[HeldRecord], record_id: str,
                    label: str) -> HeldRecord:
    """A record that belongs to one rights holder (``holder_id``): a rights holder's key gets
    its own only; another holder's answers as unknown, like every out-of-scope record."""
    record = get_or_404(session, model, record_id, label)
    if not _visible(actor, record.holder_id):  # type: ignore[attr-defined]
        raise NotFound(f"{label} {record_id} does not exist")
    return record


def filing_holder(session: Session, actor: Actor, holder_id: str | None, filings: str) -> str:
    """The live rights holder a filing (a claim, an opt-out) is for: a rights holder's key
    files for its own holder only; admins file on behalf of the holder they name."""
    if actor.role is Role.rights_holder:
        if holder_id not in (None, actor.holder_id):
            raise Forbidden(f"a rights holder's key files {filings} for its own holder only")
        holder_id = actor.holder_id
    elif holder_id is None:
        raise InvalidInput(f"holder_id: an admin files {filings} on behalf of a rights holder; "
                           "name it")
    assert holder_id is not None
    require_live(session, RightsHolder, holder_id, "rights holder")
    return holder_id


def create_holder(session: Session, actor: Actor, data: HolderCreate) -> RightsHolder:
    holder = RightsHolder(id=new_id("hld"), **data.model_dump(mode="json"))
    session.add(holder)
    commit_change(session, actor, "rights_holder.created", ENTITY, holder)
    return holder


def get_holder(session: Session, actor: Actor, holder_id: str) -> RightsHolder:
    holder = get_or_404(session, RightsHolder, holder_id, "rights holder")
    if not _visible(actor, holder.id):
        # Out-of-scope records answer as unknown: a holder learns nothing about the others.
        raise NotFound(f"rights holder {holder_id} does not exist")
    return holder


def require_editor(actor: Actor, holder_id: str) -> None:
    if actor.role is Role.auditor:
        raise Forbidden("auditors read the registry; they do not change it")
    if not holds(actor, holder_id):
        raise NotFound(f"rights holder {holder_id} does not exist")


@retry_on_concurrent_change
def update_holder(session: Session, actor: Actor, holder_id: str,
                  data: HolderUpdate, precondition: Precondition = ANY_VERSION) -> RightsHolder:
    holder = get_holder(session, actor, holder_id)
    apply_patch(holder, data.model_dump(mode="json", exclude_unset=True), precondition)
    session.add(holder)
    commit_change(session, actor, "rights_holder.updated", ENTITY, holder)
    return holder


@retry_on_concurrent_change
def retire_holder(session: Session, actor: Actor, holder_id: str, reason: str) -> RightsHolder:
    holder = get_or_404(session, RightsHolder, holder_id, "rights holder")
    retire(session, actor, holder, ENTITY, reason)
    return holder


def list_holders(session: Session, actor: Actor, *, kind: HolderKind | None, name: str | None,
                 retired: bool | None, cursor: str | None,
                 limit: int) -> tuple[list[RightsHolder], str | None]:
    stmt = readable_held(select(RightsHolder), actor, RightsHolder.id)  # its own record
    if kind:
        stmt = stmt.where(RightsHolder.kind == kind.value)
    if name:
        stmt = stmt.where(RightsHolder.name.contains(name))  # type: ignore[attr-defined]
    stmt = filter_retired(stmt, RightsHolder, retired)
    return paginate(session, stmt, RightsHolder.id, cursor, limit)
