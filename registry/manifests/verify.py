"""Offline verification of manifests, in DSSE's order: signature over the exact bytes,
then payload type, then parsing, then the contents (key window, asset tree, subjects)."""

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.auditlog import merkle
from registry.auditlog.checkpoint import parse_vkey
from registry.core.signing import VerificationKey
from registry.manifests.document import PREDICATE_TYPE, TREE_ALG, asset_tree, entry_leaf
from registry.manifests.dsse import DSSEError, verify_envelope
from registry.manifests.statement import PAYLOAD_TYPE, StatementError, parse_statement


class ManifestInvalid(ValueError):
    """The manifest is not authentic or not consistent; the message says which check failed."""


@dataclass(frozen=True)
class VerifiedManifest:
    statement: dict[str, Any]
    payload: bytes
    asset_root: bytes
    key_id: str

    @property
    def predicate(self) -> dict[str, Any]:
        return self.statement["predicate"]


def load_keys(text: str) -> list[VerificationKey]:
    """Keys from the registry's /.well-known/registry-keys.json, or C2SP vkey lines."""
    text = text.strip()
    if text.startswith("{"):
        data = json.loads(text)
        return [VerificationKey(k["key_name"], base64.b64decode(k["public_key"]),
                                datetime.fromisoformat(k["not_before"]),
                                datetime.fromisoformat(k["not_after"]) if k.get("not_after") else None)
                for k in data["keys"]]
    return [parse_vkey(line.strip()) for line in text.splitlines() if line.strip()]


def verify_manifest(envelope: dict[str, Any] | bytes | str,
                    keys: list[VerificationKey]) -> VerifiedManifest:
    try:
        payload = verify_envelope(envelope, keys, PAYLOAD_TYPE)
        statement = parse_statement(payload)
    except (DSSEError, StatementError) as exc:
        raise ManifestInvalid(str(exc)) from None
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise ManifestInvalid(f"predicateType is not {PREDICATE_TYPE}")
    predicate = statement["predicate"]
    key_id = _signed_within_window(envelope, payload, keys, predicate)
    root = _check_assets(statement, predicate)
    return VerifiedManifest(statement, payload, root, key_id)


def _signed_within_window(envelope: Any, payload: bytes, keys: list[VerificationKey],
                          predicate: dict[str, Any]) -> str:
    """A key signs only inside its validity window: a retired key's later signatures fail."""
    try:
        issued_at = datetime.fromisoformat(predicate["issued_at"])
    except (KeyError, TypeError, ValueError):
        raise ManifestInvalid("predicate.issued_at is missing or not an ISO 8601 time") from None
    if issued_at.tzinfo is None:
        raise ManifestInvalid("predicate.issued_at has no time zone")
    in_window = [k for k in keys if k.valid_at(issued_at)]
    for key in in_window:
        try:
            verify_envelope(envelope, [key], PAYLOAD_TYPE)
            return key.key_id
        except DSSEError:
            continue
    raise ManifestInvalid(f"no key that was valid at {issued_at.isoformat()} signed this manifest "
                          "(signed by a retired key after its window?)")


def _check_assets(statement: dict[str, Any], predicate: dict[str, Any]) -> bytes:
    assets = predicate.get("assets")
    tree = predicate.get("asset_tree") or {}
    if not isinstance(assets, list) or tree.get("alg") != TREE_ALG or tree.get("size") != len(assets):
        raise ManifestInvalid("asset list and asset_tree do not agree")
    store = asset_tree(assets)
    root = merkle.root(store.size, store)
    if root.hex() != tree.get("root"):
        raise ManifestInvalid("asset_tree.root does not match the listed assets")
    subjects = [(s["name"], s["digest"]["sha256"]) for s in statement["subject"]]
    expected = [(f"asset:{a['asset_id']}", a["sha256"]) for a in assets]
    if subjects != expected:
        raise ManifestInvalid("statement subjects do not match the listed assets")
    return root


def verify_asset_proof(manifest: VerifiedManifest, proof: dict[str, Any]) -> dict[str, Any]:
    """Check that one asset entry is in the manifest's asset tree; returns the entry."""
    try:
        hashes = [base64.b64decode(h, validate=True) for h in proof["proof"]]
        merkle.verify_inclusion(entry_leaf(proof["entry"]), int(proof["index"]), int(proof["size"]),
                                hashes, manifest.asset_root)
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestInvalid(f"asset inclusion proof fails: {exc}") from None
    return proof["entry"]
