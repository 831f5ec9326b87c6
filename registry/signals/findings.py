"""What a parsed opt-out signal says, before the registry reads it as a term.

A finding is one statement of the evidence (a robots.txt line, a tdmrep.json rule, a
header), in the vocabulary of its own format (``purpose``) and normalised only as far as
"it reserves", "it permits", "it reserves but offers a policy" (``reading``). The mapping
(``registry.signals.mapping``) turns findings into the registry's term.
"""

from enum import Enum

from pydantic import BaseModel, Field


class Kind(str, Enum):
    """What was observed: a file fetched from the site, or a response's header fields."""

    robots_txt = "robots_txt"
    tdmrep_json = "tdmrep_json"
    http_headers = "http_headers"
    ai_txt = "ai_txt"


class Term(str, Enum):
    """The registry's AI-training terms (as licences say them), plus ``none``: no statement."""

    allowed = "allowed"
    not_allowed = "not_allowed"
    constrained = "constrained"
    none = "none"


class Reading(str, Enum):
    reserved = "reserved"
    permitted = "permitted"
    reserved_with_policy = "reserved_with_policy"
    # A line, field or rule that does not parse: its format says to ignore it (RFC 9309 2.2,
    # RFC 9651 4.2), so it states nothing, but it stays on record as observed.
    unreadable = "unreadable"


class Finding(BaseModel):
    signal: str = Field(description="robots_disallow, content_usage, content_signal, tdm_reservation, "
                                    "x_robots_tag or ai_txt_disallow")
    location: str = Field(description="Where in the evidence: a line, a rule, a header")
    user_agent: str | None = Field(description="The crawler group or scope it applies to (None: any)")
    purpose: str = Field(description="The use it speaks of, in its format's words (train-ai, ai-train, "
                                     "search, tdm, noai, crawl, ...)")
    reading: Reading
    statement: str = Field(description="The line, field or header as observed")
    media_types: list[str] | None = Field(
        default=None, description="When it reserves only some media: those it covers")
    policy: str | None = Field(default=None, description="TDMRep: the policy URL offered")
    term: Term | None = Field(default=None, description="What the mapping made of it")
    problem: str | None = Field(default=None, description="Unreadable: why it does not parse")

    def summary(self) -> str:
        scope = f" for {self.user_agent}" if self.user_agent else ""
        if self.problem:
            return f"{self.location}{scope}: {self.statement!r} (unreadable: {self.problem})"
        return f"{self.location}{scope}: {self.statement!r} ({self.purpose} {self.reading.value})"


def unreadable(signal: str, location: str, statement: str, problem: str,
               user_agent: str | None = None) -> Finding:
    return Finding(signal=signal, location=location, user_agent=user_agent, purpose="unknown",
                   reading=Reading.unreadable, statement=statement[:500], problem=problem[:500])
