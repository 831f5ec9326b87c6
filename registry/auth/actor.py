"""Who makes a request: the API key it authenticated with, that key's role and, for a
rights holder, the holder it acts for. Every service and the audit log take one."""

from dataclasses import dataclass

from registry.auth.models import Role


@dataclass(frozen=True)
class Actor:
    key_id: str
    role: Role
    holder_id: str | None = None


# The registry's own changes (built-in licences, check jobs run by the worker, the CLI).
SYSTEM_ACTOR = Actor(key_id="system", role=Role.admin)
