"""RFC 6962 / RFC 9162 Merkle tree over SHA-256, stored as perfect subtrees.

Storage layout
--------------
The tree is append-only, so every *perfect* subtree (2**level leaves, aligned
on a multiple of its own size) never changes once its last leaf is appended.
We store exactly those hashes, keyed by ``(level, index)``: the node at
``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``
and level 0 holds the leaf hashes.  Appending leaf ``n`` completes one perfect
subtree per trailing 1-bit of ``n`` (plus the leaf itself), so a tree of ``n``
leaves holds ``2n - popcount(n)`` rows: about one extra row per leaf.

Any range the RFC algorithms need (roots of prefixes, proof siblings) is either
a perfect subtree or a left-aligned run of them whose hash is folded from at
most ``log2(n)`` stored rows.  Proofs therefore read O(log n) rows, and we ask
the store for all of them in one batched ``get_nodes`` call so a database
implementation can answer with a single query.

The verifiers at the bottom need no store at all; they implement the RFC 9162
section 2.1.3.2 and 2.1.4.2 algorithms step by step.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from cryptography.hazmat.primitives import hashes

HASH_SIZE = 32

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""

Lookup = Callable[[list[NodeKey]], Mapping[NodeKey, bytes]]
"""Batched read of stored nodes, same shape as ``NodeStore.get_nodes``."""


class ProofError(ValueError):
    """A Merkle inclusion or consistency proof did not verify."""


class MissingNodeError(LookupError):
    """The store lacks a node the computation needs (size beyond the tree?)."""


def _sha256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


EMPTY_ROOT = _sha256(b"")
"""RFC 6962 section 2.1: MTH({}) = SHA-256()."""


def leaf_hash(data: bytes) -> bytes:
    """MTH of a single entry: SHA-256(0x00 || data).

    The 0x00/0x01 prefixes give domain separation, so a leaf can never be
    passed off as an interior node (second-preimage protection).
    """
    return _sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right)


class NodeStore(Protocol):
    """Read side of the perfect-subtree store.

    ``get_nodes`` is batched on purpose: every operation below asks for all
    the keys it needs at once, so a SQL implementation is one
    ``WHERE (level, idx) IN (...)`` query. Keys that are absent are simply
    left out of the returned mapping.
    """

    def get_nodes(self, keys: list[NodeKey]) -> Mapping[NodeKey, bytes]: ...


# ---------------------------------------------------------------------------
# Range arithmetic
# ---------------------------------------------------------------------------


def _largest_power_of_two_below(n: int) -> int:
    """RFC 6962's k: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_keys(start: int, end: int) -> list[NodeKey]:
    """Perfect subtrees that tile ``[start, end)``, left to right.

    Only called for ranges produced by the RFC recursion, where ``start`` is a
    multiple of a power of two >= ``end - start``.  For such ranges the greedy
    tiling is exactly the binary decomposition of the length, and folding the
    pieces from the right reproduces MTH(D[start:end]) because MTH always
    splits off the largest power of two on the left.
    """
    if end > start and start % (1 << (end - start - 1).bit_length()):
        raise ValueError(f"range [{start}, {end}) is not a subtree of an RFC 6962 tree")
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1  # largest power of two that fits
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _fold(hashes_left_to_right: Sequence[bytes]) -> bytes:
    """Combine a left-aligned run of perfect subtrees into one MTH."""
    acc = hashes_left_to_right[-1]
    for h in reversed(hashes_left_to_right[:-1]):
        acc = node_hash(h, acc)
    return acc


def _fetch(lookup: Lookup, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    """One batched read; fail loudly rather than compute a wrong hash."""
    wanted = list(dict.fromkeys(keys))  # dedupe, keep order
    if not wanted:
        return {}
    got = lookup(wanted)
    missing = [k for k in wanted if k not in got]
    if missing:
        raise MissingNodeError(f"store is missing nodes {missing[:4]}{'...' if len(missing) > 4 else ''}")
    return {k: got[k] for k in wanted}


def _ranges_hashes(lookup: Lookup, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range, all read in a single batch."""
    per_range = [_range_keys(lo, hi) for lo, hi in ranges]
    nodes = _fetch(lookup, (k for keys in per_range for k in keys))
    return [_fold([nodes[k] for k in keys]) for keys in per_range]


# ---------------------------------------------------------------------------
# Appending
# ---------------------------------------------------------------------------


def nodes_completed_by_append(size_before: int, leaf_hash: bytes, lookup: Lookup) -> dict[NodeKey, bytes]:
    """Rows to store when the leaf with index ``size_before`` is appended.

    Returns ``{(0, size_before): leaf_hash}`` plus one row per perfect subtree
    the new leaf completes.  Those are exactly the trailing 1-bits of
    ``size_before``: each one means a left sibling of the same level already
    exists, so we read those siblings (one batched lookup) and hash upwards.
    """
    if size_before < 0:
        raise ValueError("size_before must be >= 0")
    if len(leaf_hash) != HASH_SIZE:
        raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
    siblings: list[NodeKey] = []
    level, index = 0, size_before
    while index & 1:
        siblings.append((level, index - 1))
        level, index = level + 1, index >> 1
    got = _fetch(lookup, siblings)

    rows = {(0, size_before): leaf_hash}
    h, index = leaf_hash, size_before
    for level, key in enumerate(siblings, start=1):
        h = node_hash(got[key], h)
        index >>= 1
        rows[(level, index)] = h
    return rows


def append_leaves(size_before: int, leaf_hashes: Iterable[bytes], lookup: Lookup) -> dict[NodeKey, bytes]:
    """Rows to store for a batch of appends, with a single store read.

    Every left sibling a batch can need that is not created inside the batch
    belongs to the tiling of ``[0, size_before)`` (the "frontier"), so we read
    those <= log2(n) rows up front and resolve everything else in memory.
    """
    overlay = dict(_fetch(lookup, _range_keys(0, size_before)))
    rows: dict[NodeKey, bytes] = {}

    def local(keys: list[NodeKey]) -> Mapping[NodeKey, bytes]:
        return {k: overlay[k] for k in keys if k in overlay}

    for offset, lh in enumerate(leaf_hashes):
        new = nodes_completed_by_append(size_before + offset, lh, local)
        overlay.update(new)
        rows.update(new)
    return rows


# ---------------------------------------------------------------------------
# Roots and proofs from the store
# ---------------------------------------------------------------------------


def root(size: int, store: NodeStore) -> bytes:
    """MTH(D[0:size]), folded from the <= log2(size) perfect subtrees."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if size == 0:
        return EMPTY_ROOT
    return _ranges_hashes(store.get_nodes, [(0, size)])[0]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Sibling ranges of RFC 9162 2.1.3.1 PATH(m, D[n]), leaf to root."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))  # PATH(m, D[0:k]) : MTH(D[k:n])
            hi = lo + k
        else:
            ranges.append((lo, lo + k))  # PATH(m-k, D[k:n]) : MTH(D[0:k])
            lo = lo + k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Ranges of RFC 9162 2.1.4.1 SUBPROOF(m, D[n], true), in proof order."""
    ranges: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, size2, size1, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
                ranges.append((lo, hi))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            ranges.append((lo + k, hi))  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            hi = lo + k
        else:
            ranges.append((lo, lo + k))  # SUBPROOF(m-k, D[k:n], false) : MTH(D[0:k])
            lo, m, complete = lo + k, m - k, False
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, store: NodeStore) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    return _ranges_hashes(store.get_nodes, _inclusion_ranges(index, size))


def root_keys(size: int) -> list[NodeKey]:
    """The stored nodes ``root`` reads for a tree of ``size`` leaves."""
    return _range_keys(0, size)


def inclusion_proof_keys(index: int, size: int) -> list[NodeKey]:
    """The stored nodes ``inclusion_proof`` reads: so that a caller proving many leaves can
    fetch all their nodes at once."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    return [key for lo, hi in _inclusion_ranges(index, size) for key in _range_keys(lo, hi)]


def consistency_proof(size1: int, size2: int, store: NodeStore) -> list[bytes]:
    """Consistency proof from ``size1`` to ``size2`` (0 < size1 <= size2).

    size1 == 0 is refused: every tree is trivially consistent with the empty
    one, RFC 9162 defines proofs only for 0 < m, and ``verify_consistency``
    rejects it, so producing one would only create an unverifiable artefact.
    """
    if size1 <= 0 or size2 < size1:
        raise ValueError(f"consistency proof needs 0 < size1 <= size2, got {size1} -> {size2}")
    if size1 == size2:
        return []
    return _ranges_hashes(store.get_nodes, _consistency_ranges(size1, size2))


# ---------------------------------------------------------------------------
# In-memory store
# ---------------------------------------------------------------------------


class InMemoryNodeStore:
    """Append-only perfect-subtree store held in one list per level.

    Because rows only ever arrive in index order per level, a list is enough
    and keeps a million-leaf tree at a few hundred MB rather than a dict of
    tuples.  ``lookups`` / ``keys_read`` count reads so benchmarks can show the
    O(log n) cost per proof.
    """

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = []
        self.lookups = 0
        self.keys_read = 0

    @property
    def size(self) -> int:
        return len(self._levels[0]) if self._levels else 0

    def get_nodes(self, keys: list[NodeKey]) -> dict[NodeKey, bytes]:
        self.lookups += 1
        self.keys_read += len(keys)
        out: dict[NodeKey, bytes] = {}
        for level, index in keys:
            if level < len(self._levels) and 0 <= index < len(self._levels[level]):
                out[(level, index)] = self._levels[level][index]
        return out

    def _peek(self, keys: list[NodeKey]) -> dict[NodeKey, bytes]:
        # Uncounted read used by our own appends, so counters reflect proofs.
        return {(lv, i): self._levels[lv][i] for lv, i in keys if lv < len(self._levels) and i < len(self._levels[lv])}

    def put_nodes(self, rows: Mapping[NodeKey, bytes]) -> None:
        """Store rows; re-putting an identical row is a no-op, anything else
        out of order or conflicting is an error (the log must never rewrite)."""
        for (level, index), h in sorted(rows.items()):
            while len(self._levels) <= level:
                self._levels.append([])
            column = self._levels[level]
            if index == len(column):
                column.append(h)
            elif index < len(column) and column[index] == h:
                continue
            else:
                raise ValueError(f"refusing to store node {(level, index)}: gap or conflicting hash")

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash; returns its index."""
        index = self.size
        self.put_nodes(nodes_completed_by_append(index, leaf_hash, self._peek))
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        self.put_nodes(append_leaves(self.size, leaf_hashes, self._peek))


# ---------------------------------------------------------------------------
# Standalone verifiers (RFC 9162 2.1.3.2 and 2.1.4.2)
# ---------------------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        got = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {got}")


def _check_path(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Verify an RFC 9162 inclusion proof; raise ``ProofError`` if it fails."""
    if index < 0 or size < 0:
        raise ProofError(f"negative index or size ({index}, {size})")
    # Step 1.
    if index >= size:
        raise ProofError(f"leaf index {index} out of range for tree size {size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_path(proof)
    # Steps 2-3.
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    # Step 4.
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof too long: {len(proof)} hashes")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise ProofError(f"inclusion proof too short: {len(proof)} hashes")
    if not _same(r, root):
        raise ProofError("inclusion proof does not lead to the expected root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Verify an RFC 9162 consistency proof; raise ``ProofError`` if it fails."""
    if size1 < 0 or size2 < 0:
        raise ProofError(f"negative tree size ({size1}, {size2})")
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == 0:
        # RFC 9162 defines proofs only for 0 < first; the empty tree proves
        # nothing, so we reject it like the transparency-dev reference does.
        raise ProofError("size1 is 0: consistency with the empty tree is not provable")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2 but the proof is not empty")
        # Same size: the roots are compared as opaque values.
        if not _same(root1, root2):
            raise ProofError("size1 == size2 but root1 != root2")
        return
    # Step 1.
    if not proof:
        raise ProofError("empty consistency proof for size1 < size2")
    _check_path(proof)
    path = list(proof)
    # Step 2: a power-of-two first tree is itself a node of the second tree,
    # so the proof omits it.
    if size1 & (size1 - 1) == 0:
        path.insert(0, bytes(root1))
    # Steps 3-4.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof too long: {len(proof)} hashes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError(f"consistency proof too short: {len(proof)} hashes")
    if not _same(fr, root1):
        raise ProofError("consistency proof does not reproduce root1")
    if not _same(sr, root2):
        raise ProofError("consistency proof does not reproduce root2")
