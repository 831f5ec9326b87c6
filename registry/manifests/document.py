"""The manifest document: an in-toto Statement over a source version's assets.

Shared by the server (building, signing) and the offline verifier (the CLI), so both hash
asset entries the same way: leaf = RFC 6962 leaf hash of the entry's RFC 8785 bytes, in the
order the manifest lists them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from registry.auditlog import merkle
from registry.manifests.statement import Subject, build_statement

PREDICATE_TYPE = "https://provenance-registry.dev/attestations/source-manifest/v1"
TREE_ALG = "rfc6962-sha256"


def entry_leaf(entry: Mapping[str, Any]) -> bytes:
    return merkle.leaf_hash(rfc8785.dumps(dict(entry)))


def asset_tree(entries: Sequence[Mapping[str, Any]],
               canonical: Sequence[bytes] | None = None) -> merkle.InMemoryNodeStore:
    store = merkle.InMemoryNodeStore()
    if canonical is None:
        store.extend(entry_leaf(e) for e in entries)
    else:
        store.extend(merkle.leaf_hash(c) for c in canonical)
    return store


_ASSETS_SLOT = b'"assets":[]'


def canonical_manifest(statement: Mapping[str, Any], canonical_assets: Sequence[bytes]) -> bytes:
    """RFC 8785 bytes of the statement, re-using each asset entry's canonical bytes.

    RFC 8785 serialises an array as its elements' canonical forms joined by commas, so the
    statement is canonicalised with an empty asset list and the entries are spliced in:
    the same bytes as ``rfc8785.dumps(statement)``, without canonicalising every entry twice.
    """
    predicate = dict(statement["predicate"], assets=[])
    skeleton = rfc8785.dumps(dict(statement, predicate=predicate))
    if skeleton.count(_ASSETS_SLOT) != 1:
        return rfc8785.dumps(dict(statement))
    return skeleton.replace(_ASSETS_SLOT, b'"assets":[' + b",".join(canonical_assets) + b"]")


def build_manifest(*, registry_origin: str, source: dict[str, Any], licences: list[dict[str, Any]],
                   rights_holders: list[dict[str, Any]], assets: list[dict[str, Any]],
                   issued_at: datetime) -> tuple[dict[str, Any], bytes, bytes]:
    """Returns the statement, its canonical bytes and the Merkle root over its assets."""
    canonical_assets = [rfc8785.dumps(a) for a in assets]
    store = asset_tree(assets, canonical_assets)
    root = merkle.root(store.size, store)
    predicate = {
        "registry": registry_origin,
        "issued_at": issued_at.isoformat(),
        "source": source,
        "licences": licences,
        "rights_holders": rights_holders,
        "assets": assets,
        "asset_tree": {"alg": TREE_ALG, "size": len(assets), "root": root.hex()},
    }
    subjects = [Subject(name=f"asset:{a['asset_id']}", sha256=a["sha256"]) for a in assets]
    statement = build_statement(subjects, PREDICATE_TYPE, predicate)
    return statement, canonical_manifest(statement, canonical_assets), root


@dataclass(frozen=True)
class AssetProof:
    index: int
    size: int
    entry: dict[str, Any]
    proof: list[bytes]


def prove_asset(assets: Sequence[Mapping[str, Any]], asset_id: str) -> AssetProof | None:
    for index, entry in enumerate(assets):
        if entry["asset_id"] == asset_id:
            store = asset_tree(assets)
            return AssetProof(index, len(assets), dict(entry),
                              merkle.inclusion_proof(index, len(assets), store))
    return None
