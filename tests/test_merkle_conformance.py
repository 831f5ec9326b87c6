"""Merkle tree conformance: public RFC 6962 vectors, a naive oracle, properties."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.auditlog.merkle import (
    EMPTY_ROOT,
    InMemoryNodeStore,
    ProofError,
    _range_keys,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_completed_by_append,
    root,
    verify_consistency,
    verify_inclusion,
)

# The vectors live beside the checkout (CI puts ../shared next to it); they are
# read in place and never copied into the project.
VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "testvectors" / "merkle"
SKIP_REASON = f"RFC 6962 test vectors not found at {VECTORS} (expected ../shared beside the checkout)"


def _vector_params(kind: str) -> list:
    folder = VECTORS / kind
    if not folder.is_dir():
        return [pytest.param(None, id=f"{kind}-vectors-missing", marks=pytest.mark.skip(reason=SKIP_REASON))]
    files = sorted(folder.rglob("*.json"))
    return [pytest.param(f, id=str(f.relative_to(VECTORS))) for f in files]


def _b64(s: str) -> bytes:
    return base64.b64decode(s)


@pytest.mark.parametrize("path", _vector_params("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b64(p) for p in v["proof"] or []]  # the files use null for no proof
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _vector_params("consistency"))
def test_consistency_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b64(p) for p in v["proof"] or []]
    args = (v["size1"], v["size2"], proof, _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_vector_corpus_is_complete() -> None:
    """Guard against a silently empty/partial checkout of the vectors."""
    if not VECTORS.is_dir():
        pytest.skip(SKIP_REASON)
    cases = [json.loads(p.read_text()) for p in VECTORS.rglob("*.json")]
    assert len(cases) >= 150
    assert any(not c["wantErr"] for c in cases) and any(c["wantErr"] for c in cases)


# ---------------------------------------------------------------------------
# Independent naive oracle, straight from RFC 6962 section 2.1 (hashlib on
# purpose, so the oracle shares no code with the implementation under test).
# ---------------------------------------------------------------------------


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def naive_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return _h(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:]))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return naive_path(m, leaves[:k]) + [naive_mth(leaves[k:])]
    return naive_path(m - k, leaves[k:]) + [naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [naive_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return naive_subproof(m, leaves[:k], complete) + [naive_mth(leaves[k:])]
    return naive_subproof(m - k, leaves[k:], False) + [naive_mth(leaves[:k])]


def _leaves(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


def _store(leaves: list[bytes]) -> InMemoryNodeStore:
    s = InMemoryNodeStore()
    for d in leaves:
        s.append(leaf_hash(d))
    return s


def _flip(b: bytes, bit: int = 0) -> bytes:
    return bytes([b[0] ^ (1 << bit)]) + b[1:]


# The certificate-transparency reference leaves and their published roots.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"abc") == _h(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == _h(b"\x01" + b"L" * 32 + b"R" * 32)


@pytest.mark.parametrize("size", range(9))
def test_roots_0_to_8_match_naive_and_ct_reference(size: int) -> None:
    store = _store(CT_LEAVES)  # a bigger store answers any smaller size
    assert root(size, store) == naive_mth(CT_LEAVES[:size])
    assert root(size, store).hex() == CT_ROOTS[size]
    assert root(size, _store(CT_LEAVES[:size])) == naive_mth(CT_LEAVES[:size])


def test_store_holds_only_perfect_subtrees() -> None:
    for n in range(0, 70):
        store = _store(_leaves(n))
        stored = sum(len(col) for col in store._levels)
        assert stored == 2 * n - bin(n).count("1")  # ~1 extra node per leaf


def test_nodes_completed_by_append_rows() -> None:
    store = _store(_leaves(7))
    rows = nodes_completed_by_append(7, leaf_hash(b"x"), store.get_nodes)
    assert set(rows) == {(0, 7), (1, 3), (2, 1), (3, 0)}
    assert rows[(3, 0)] == naive_mth(_leaves(7) + [b"x"])
    assert set(nodes_completed_by_append(8, leaf_hash(b"y"), store.get_nodes)) == {(0, 8)}


N_MAX = 40
LEAVES_40 = _leaves(N_MAX)
STORE_40 = _store(LEAVES_40)
ROOTS_40 = [naive_mth(LEAVES_40[:n]) for n in range(N_MAX + 1)]


def test_all_inclusion_proofs_up_to_40() -> None:
    for n in range(1, N_MAX + 1):
        r = ROOTS_40[n]
        assert root(n, STORE_40) == r
        for i in range(n):
            lh = leaf_hash(LEAVES_40[i])
            proof = inclusion_proof(i, n, STORE_40)
            assert proof == naive_path(i, LEAVES_40[:n])
            verify_inclusion(lh, i, n, proof, r)
            # Tampering: every element, the leaf, the index, the size, length.
            for j in range(len(proof)):
                bad = proof[:j] + [_flip(proof[j])] + proof[j + 1 :]
                with pytest.raises(ProofError):
                    verify_inclusion(lh, i, n, bad, r)
            with pytest.raises(ProofError):
                verify_inclusion(_flip(lh), i, n, proof, r)
            with pytest.raises(ProofError):
                verify_inclusion(lh, i, n, proof + [r], r)
            if proof:
                with pytest.raises(ProofError):
                    verify_inclusion(lh, i, n, proof[:-1], r)
            if n > 1:
                with pytest.raises(ProofError):
                    verify_inclusion(lh, (i + 1) % n, n, proof, r)
            if n < N_MAX:
                # (A proof can stay valid for a larger claimed size against
                # the *same* root, e.g. i=0 in n=3 vs 4; the real root of the
                # larger tree must not match though.)
                with pytest.raises(ProofError):
                    verify_inclusion(lh, i, n + 1, proof, ROOTS_40[n + 1])


def test_all_consistency_proofs_up_to_40() -> None:
    for n in range(1, N_MAX + 1):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, STORE_40)
            assert proof == naive_subproof(m, LEAVES_40[:n], True)
            verify_consistency(m, n, proof, ROOTS_40[m], ROOTS_40[n])
            if m == n:
                continue
            for j in range(len(proof)):
                bad = proof[:j] + [_flip(proof[j])] + proof[j + 1 :]
                with pytest.raises(ProofError):
                    verify_consistency(m, n, bad, ROOTS_40[m], ROOTS_40[n])
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof, _flip(ROOTS_40[m]), ROOTS_40[n])
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof, ROOTS_40[m], _flip(ROOTS_40[n]))
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof[:-1], ROOTS_40[m], ROOTS_40[n])
            with pytest.raises(ProofError):
                verify_consistency(m, n, proof + [ROOTS_40[n]], ROOTS_40[m], ROOTS_40[n])
            if m + 1 < n:
                with pytest.raises(ProofError):
                    verify_consistency(m + 1, n, proof, ROOTS_40[m + 1], ROOTS_40[n])


def test_consistency_with_empty_tree_rejected() -> None:
    with pytest.raises(ProofError, match="size1 is 0"):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ValueError):
        consistency_proof(0, 5, STORE_40)


def test_argument_errors() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(5, 5, STORE_40)
    with pytest.raises(LookupError):
        root(N_MAX + 1, STORE_40)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(b"short", 0, 1, [], b"short")
    # Only aligned ranges (the ones RFC 6962 recursion produces) fold to an MTH.
    assert _range_keys(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="not a subtree"):
        _range_keys(1, 3)


def test_proofs_read_the_store_once_with_log_n_keys() -> None:
    store = _store(_leaves(1000))
    for i, n in [(0, 1000), (999, 1000), (511, 1000), (612, 777)]:
        before = (store.lookups, store.keys_read)
        inclusion_proof(i, n, store)
        assert store.lookups - before[0] == 1
        assert store.keys_read - before[1] <= 2 * n.bit_length()
    for m, n in [(1, 1000), (500, 1000), (999, 1000), (3, 7)]:
        before = (store.lookups, store.keys_read)
        consistency_proof(m, n, store)
        assert store.lookups - before[0] == 1
        assert store.keys_read - before[1] <= 2 * n.bit_length()


def test_store_refuses_rewrites() -> None:
    store = _store(_leaves(3))
    with pytest.raises(ValueError):
        store.put_nodes({(0, 1): leaf_hash(b"other")})
    with pytest.raises(ValueError):
        store.put_nodes({(0, 7): leaf_hash(b"gap")})


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=16), min_size=1, max_size=150)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_property_inclusion(leaves: list[bytes], data: st.DataObject) -> None:
    store = _store(leaves)
    n = data.draw(st.integers(1, len(leaves)), label="size")
    i = data.draw(st.integers(0, n - 1), label="index")
    r = naive_mth(leaves[:n])
    assert root(n, store) == r
    proof = inclusion_proof(i, n, store)
    verify_inclusion(leaf_hash(leaves[i]), i, n, proof, r)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 7), label="bit")
        bad = list(proof)
        bad[j] = _flip(bad[j], bit)
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(leaves[i]), i, n, bad, r)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_property_consistency(leaves: list[bytes], data: st.DataObject) -> None:
    store = _store(leaves)
    n = data.draw(st.integers(1, len(leaves)), label="size2")
    m = data.draw(st.integers(1, n), label="size1")
    r1, r2 = naive_mth(leaves[:m]), naive_mth(leaves[:n])
    proof = consistency_proof(m, n, store)
    verify_consistency(m, n, proof, r1, r2)
    if m < n:
        # A different history of the same length must not be provably consistent.
        forged = list(leaves[:n])
        k = data.draw(st.integers(0, m - 1), label="rewritten")
        forged[k] = forged[k] + b"!"
        with pytest.raises(ProofError):
            verify_consistency(m, n, proof, naive_mth(forged[:m]), r2)


@settings(max_examples=40, deadline=None)
@given(first=leaf_lists, second=st.lists(st.binary(max_size=8), max_size=80))
def test_property_batch_append_matches_single_appends(first: list[bytes], second: list[bytes]) -> None:
    store = _store(first)
    batch = InMemoryNodeStore()
    batch.extend(leaf_hash(d) for d in first)
    before = batch.lookups
    rows = append_leaves(batch.size, [leaf_hash(d) for d in second], batch.get_nodes)
    assert batch.lookups - before == (1 if first else 0)  # one read per batch
    batch.put_nodes(rows)
    for d in second:
        store.append(leaf_hash(d))
    assert batch._levels == store._levels
    assert root(batch.size, batch) == naive_mth(first + second)
