"""The one mapping from findings to the registry's AI-training term, versioned.

A snapshot records the version it was read with: a later change of these rules gets a new
version and leaves what earlier snapshots said on record as it was.

tdm-signals/1:
- a statement that does not parse (``unreadable``) states nothing (``none``), as its format
  says to ignore it;
- statements about search or AI input (RAG) are recorded and decide nothing (``none``);
- a reservation of AI training, of TDM, of automated processing, a crawl refused to the
  observing crawler or to an AI-training crawler, ``noai``: ``not_allowed``;
- a reservation of only a part: generative AI training (``train-genai``), or some of the
  subject's media (``noimageai``, ai.txt file types): ``constrained``; of media the subject
  does not have: ``none``; of every medium it has: ``not_allowed``;
- a TDMRep reservation that offers a policy: ``constrained`` (licensable on its terms);
- an explicit permission: ``allowed``;
- the snapshot's term is the most restrictive of its findings' terms
  (not_allowed > constrained > allowed > none), as the aipref drafts combine "y" and "n".
"""

from registry.signals.findings import Finding, Reading, Term

MAPPING_VERSION = "tdm-signals/1"

_NOT_ABOUT_TRAINING = {"search", "ai-input"}
_PART_OF_TRAINING = {"train-genai"}
_ORDER = [Term.none, Term.allowed, Term.constrained, Term.not_allowed]


def _covers(pattern: str, media_type: str) -> bool:
    kind, _, sub = pattern.partition("/")
    other_kind, _, other_sub = media_type.partition("/")
    return kind == other_kind and (sub == "*" or sub == other_sub)


def finding_term(finding: Finding, media_types: list[str]) -> Term:
    """What one finding says of AI training on a subject holding ``media_types``."""
    if finding.reading is Reading.unreadable or finding.purpose in _NOT_ABOUT_TRAINING:
        return Term.none
    if finding.reading is Reading.permitted:
        return Term.allowed
    if finding.reading is Reading.reserved_with_policy or finding.purpose in _PART_OF_TRAINING:
        return Term.constrained
    if finding.media_types is None:
        return Term.not_allowed
    covered = [m for m in media_types if any(_covers(p, m) for p in finding.media_types)]
    if not media_types:
        return Term.constrained  # the subject's media unknown: some of it may be reserved
    if not covered:
        return Term.none
    return Term.not_allowed if len(covered) == len(media_types) else Term.constrained


def decide(findings: list[Finding], media_types: list[str]) -> tuple[Term, list[Finding]]:
    """The snapshot's term, and its findings each with the term it was read as."""
    read = [f.model_copy(update={"term": finding_term(f, media_types)}) for f in findings]
    term = max((f.term for f in read if f.term is not None), key=_ORDER.index, default=Term.none)
    return term, read
