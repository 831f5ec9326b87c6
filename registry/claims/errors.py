"""The claims domain's errors (problem types of their own, mapped with the rest)."""

from registry.core.errors import Conflict


class IllegalTransition(Conflict):
    """A claim cannot move to the asked status from its current one; names those it can."""

    slug, title = "illegal-claim-transition", "The claim cannot move to that status"

    def __init__(self, claim_id: str, status: str, to: str, allowed: list[str]) -> None:
        options = ", ".join(allowed) or "none (it is final)"
        super().__init__(f"claim {claim_id} is {status} and cannot move to {to}; allowed: {options}",
                         allowed=allowed)
        self.allowed = allowed
