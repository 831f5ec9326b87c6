"""Request dependencies: the authenticated actor and the roles each route admits."""

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from registry.auth.actor import Actor
from registry.auth.models import Role
from registry.auth.service import authenticate
from registry.core.deps import SessionDep
from registry.core.errors import Forbidden

_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def current_actor(
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_header)],
) -> Actor:
    presented = bearer.credentials if bearer else header_key
    return authenticate(session, presented)


def check_role(actor: Actor, roles: Iterable[Role]) -> Actor:
    """The actor, if its role is one of ``roles`` (the API's routes and the portal's pages
    apply the same role sets through this)."""
    allowed = frozenset(roles)
    if actor.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise Forbidden(f"role '{actor.role.value}' may not do this; allowed: {names}")
    return actor


def require(*roles: Role) -> Callable[[Actor], Actor]:
    def _check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        return check_role(actor, roles)

    return _check


ANY_ROLE = tuple(Role)
READERS = ANY_ROLE
WRITERS = (Role.admin, Role.curator)
ADMINS = (Role.admin,)

AnyActor = Annotated[Actor, Depends(require(*ANY_ROLE))]
Writer = Annotated[Actor, Depends(require(*WRITERS))]
Admin = Annotated[Actor, Depends(require(*ADMINS))]
Submitter = Annotated[Actor, Depends(require(Role.admin, Role.curator, Role.rights_holder))]
CheckReader = Annotated[Actor, Depends(require(Role.admin, Role.curator, Role.auditor))]
Overseer = Annotated[Actor, Depends(require(Role.admin, Role.auditor))]
