"""in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md).

Statements are serialised with RFC 8785 (JCS) so the same statement always
yields the same bytes; the DSSE signature covers those bytes exactly, and the
canonical form also gives stable content hashes for deduplication.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785

from registry.core.signing import Signer
from registry.manifests.dsse import sign_envelope, unique_members

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class StatementError(ValueError):
    """A statement that does not match the in-toto Statement v1 shape."""


@dataclass(frozen=True)
class Subject:
    name: str
    sha256: str  # lowercase hex, as in-toto's DigestSet requires

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise StatementError("subject name must be a non-empty string")
        if not isinstance(self.sha256, str) or not _SHA256_HEX.fullmatch(self.sha256):
            raise StatementError(f"subject {self.name!r}: sha256 must be 64 lowercase hex digits")


def build_statement(subjects: Sequence[Subject], predicate_type: str, predicate: Mapping[str, Any]) -> dict[str, Any]:
    if not subjects:
        raise StatementError("a statement needs at least one subject")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise StatementError("predicateType must be a non-empty string (a URI)")
    if not isinstance(predicate, Mapping):
        raise StatementError("predicate must be a JSON object")
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": s.name, "digest": {"sha256": s.sha256}} for s in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def serialize_statement(statement: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON (rejects NaN, non-str keys, unsafe integers)."""
    try:
        return rfc8785.dumps(dict(statement))
    except rfc8785.CanonicalizationError as exc:
        raise StatementError(f"statement cannot be canonicalised: {exc}") from None


def sign_statement(statement: Mapping[str, Any], signers: Sequence[Signer]) -> dict[str, Any]:
    """DSSE envelope over the canonical statement bytes."""
    return sign_envelope(PAYLOAD_TYPE, serialize_statement(statement), signers)


_no_duplicates = unique_members(StatementError)


def parse_statement(payload: bytes) -> dict[str, Any]:
    """Parse verified DSSE payload bytes into a checked Statement dict.

    Call only on bytes returned by ``verify_envelope``.
    """
    try:
        stmt = json.loads(payload, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatementError(f"statement is not valid JSON: {exc}") from None
    if not isinstance(stmt, dict):
        raise StatementError("statement must be a JSON object")
    if stmt.get("_type") != STATEMENT_TYPE:
        raise StatementError(f"_type must be {STATEMENT_TYPE!r}")
    subjects = stmt.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise StatementError("subject must be a non-empty list")
    for i, s in enumerate(subjects):
        if not isinstance(s, dict) or not isinstance(s.get("digest"), dict) or not s["digest"]:
            raise StatementError(f"subject[{i}] needs a non-empty digest object")
        sha = s["digest"].get("sha256")
        if sha is not None and not (isinstance(sha, str) and _SHA256_HEX.fullmatch(sha)):
            raise StatementError(f"subject[{i}].digest.sha256 must be 64 lowercase hex digits")
    if not isinstance(stmt.get("predicateType"), str) or not stmt["predicateType"]:
        raise StatementError("predicateType must be a non-empty string")
    if "predicate" in stmt and not isinstance(stmt["predicate"], dict):
        raise StatementError("predicate must be a JSON object")
    return stmt
