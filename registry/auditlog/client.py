"""What a client runs on its own machine: it trusts only the registry's public keys and
the checkpoint it remembered last, never the registry's word."""

import base64
import json
import urllib.request
from pathlib import Path
from typing import Any

from registry.auditlog import merkle
from registry.auditlog.checkpoint import Checkpoint, NoteError, verify_checkpoint
from registry.core.signing import VerificationKey


class LogVerificationError(ValueError):
    """A proof or checkpoint does not hold; the message says what failed."""


def _hashes(values: list[str]) -> list[bytes]:
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except ValueError:
        raise LogVerificationError("proof hashes are not base64") from None


def open_checkpoint(note: str, keys: list[VerificationKey]) -> Checkpoint:
    try:
        return verify_checkpoint(note, keys)
    except NoteError as exc:
        raise LogVerificationError(f"checkpoint signature does not verify: {exc}") from None


def check_consistency(old_note: str, new_note: str, proof: dict[str, Any] | None,
                      keys: list[VerificationKey]) -> tuple[Checkpoint, Checkpoint]:
    """The newer checkpoint must extend the remembered one: same origin, no rewrite."""
    old, new = open_checkpoint(old_note, keys), open_checkpoint(new_note, keys)
    if old.origin != new.origin:
        raise LogVerificationError(f"origins differ: {old.origin!r} vs {new.origin!r}")
    if new.size < old.size:
        raise LogVerificationError(f"the log shrank from {old.size} to {new.size} entries")
    if new.size == old.size or old.size == 0:
        if new.size == old.size and new.root != old.root:
            raise LogVerificationError(f"two different roots signed for size {old.size}: fork")
        return old, new
    if proof is None or (proof.get("first"), proof.get("second")) != (old.size, new.size):
        raise LogVerificationError(f"need a consistency proof from {old.size} to {new.size}")
    try:
        merkle.verify_consistency(old.size, new.size, _hashes(proof["proof"]), old.root, new.root)
    except merkle.ProofError as exc:
        raise LogVerificationError(f"consistency proof fails: {exc}") from None
    return old, new


def check_entry(proven: dict[str, Any], keys: list[VerificationKey]) -> dict[str, Any]:
    """An entry from GET /v1/log/entries/{idx}: its bytes, leaf and inclusion all hold."""
    checkpoint = open_checkpoint(proven["checkpoint"], keys)
    payload = base64.b64decode(proven["payload"], validate=True)
    inclusion = proven["inclusion"]
    if inclusion["tree_size"] != checkpoint.size:
        raise LogVerificationError("inclusion proof is for another tree size than the checkpoint")
    try:
        merkle.verify_inclusion(merkle.leaf_hash(payload), inclusion["idx"], checkpoint.size,
                                _hashes(inclusion["proof"]), checkpoint.root)
    except merkle.ProofError as exc:
        raise LogVerificationError(f"inclusion proof fails: {exc}") from None
    return json.loads(payload)


def _get(url: str, timeout: float = 30) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (user-given URL)
        return response.read().decode()


def monitor(base_url: str, keys: list[VerificationKey], state: Path) -> str:
    """Fetch the latest checkpoint, prove it extends the remembered one, remember it."""
    base_url = base_url.rstrip("/")
    latest = _get(f"{base_url}/v1/log/checkpoint")
    new = open_checkpoint(latest, keys)
    if state.exists():
        remembered = state.read_text()
        old = open_checkpoint(remembered, keys)
        proof = None
        if 0 < old.size < new.size:
            proof = json.loads(_get(f"{base_url}/v1/log/proofs/consistency?first={old.size}"
                                    f"&second={new.size}"))
        check_consistency(remembered, latest, proof, keys)
        message = f"log grew consistently from {old.size} to {new.size} entries"
    else:
        message = f"remembering the log at {new.size} entries (first run)"
    state.write_text(latest)
    return message
