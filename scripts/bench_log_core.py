"""Benchmark the pure Merkle log core (no database).

* appends/s into the in-memory perfect-subtree store;
* inclusion / consistency proof latency (p50/p99) on a 1,000,000-leaf tree,
  next to a naive baseline that recomputes each proof from all leaf hashes;
* store reads per proof, to show the O(log n) cost.

Usage: .venv/bin/python scripts/bench_log_core.py [--append N] [--size N] [--samples N] [--naive N]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.auditlog.merkle import (  # noqa: E402
    InMemoryNodeStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- naive baseline: RFC 6962 recursion over the full list of leaf hashes ----
# Index ranges instead of list slices, so the baseline is not penalised by copying.


def naive_mth(leaves: list[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return leaves[lo]
    k = 1 << ((hi - lo - 1).bit_length() - 1)
    return node_hash(naive_mth(leaves, lo, lo + k), naive_mth(leaves, lo + k, hi))


def naive_path(m: int, leaves: list[bytes], lo: int, hi: int) -> list[bytes]:
    if hi - lo <= 1:
        return []
    k = 1 << ((hi - lo - 1).bit_length() - 1)
    if m < k:
        return naive_path(m, leaves, lo, lo + k) + [naive_mth(leaves, lo + k, hi)]
    return naive_path(m - k, leaves, lo + k, hi) + [naive_mth(leaves, lo, lo + k)]


def naive_subproof(m: int, leaves: list[bytes], lo: int, hi: int, complete: bool) -> list[bytes]:
    if m == hi - lo:
        return [] if complete else [naive_mth(leaves, lo, hi)]
    k = 1 << ((hi - lo - 1).bit_length() - 1)
    if m <= k:
        return naive_subproof(m, leaves, lo, lo + k, complete) + [naive_mth(leaves, lo + k, hi)]
    return naive_subproof(m - k, leaves, lo + k, hi, False) + [naive_mth(leaves, lo, lo + k)]


# --- helpers -----------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def timed(fn: Callable[..., list[bytes]], *args: Any) -> tuple[float, list[bytes]]:
    """Run ``fn(*args)``; return (milliseconds, result)."""
    t = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t) * 1000.0, out


def entry(i: int) -> bytes:
    return b"manifest-%d" % i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--append", type=int, default=100_000, help="leaves for the append-rate test")
    ap.add_argument("--size", type=int, default=1_000_000, help="leaves in the proof-benchmark tree")
    ap.add_argument("--samples", type=int, default=1_000, help="random entries per proof type")
    ap.add_argument("--naive", type=int, default=3, help="entries for the naive baseline (slow!)")
    ap.add_argument("--seed", type=int, default=6962)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    n = args.size

    # 1. Append rate (leaf hashing + completed subtrees, one leaf at a time).
    store = InMemoryNodeStore()
    t = time.perf_counter()
    for i in range(args.append):
        store.append(leaf_hash(entry(i)))
    dt = time.perf_counter() - t
    print(f"append, one at a time : {args.append:>9,} leaves in {dt:6.2f} s = {args.append / dt:>10,.0f} entries/s")
    del store

    # 2. Build the big tree with the batched path (one frontier read per batch).
    t = time.perf_counter()
    leaves = [leaf_hash(entry(i)) for i in range(n)]
    store = InMemoryNodeStore()
    for start in range(0, n, 10_000):
        store.extend(leaves[start : start + 10_000])
    dt = time.perf_counter() - t
    print(f"build, batches of 10k : {n:>9,} leaves in {dt:6.2f} s = {n / dt:>10,.0f} entries/s")
    print(f"stored perfect subtrees: {sum(len(c) for c in store._levels):,} rows for {n:,} leaves (2n - popcount(n))")
    r = root(n, store)

    # 3. Proofs from the store, random entries.
    incl_ms: list[float] = []
    cons_ms: list[float] = []
    incl_keys: list[int] = []
    cons_keys: list[int] = []
    lookups_before = store.lookups
    for _ in range(args.samples):
        i = rng.randrange(n)
        k0 = store.keys_read
        ms, proof = timed(inclusion_proof, i, n, store)
        incl_ms.append(ms)
        incl_keys.append(store.keys_read - k0)
        verify_inclusion(leaves[i], i, n, proof, r)
    incl_lookups = (store.lookups - lookups_before) / args.samples

    lookups_before = store.lookups
    cons_pairs = []
    for _ in range(args.samples):
        m = rng.randrange(1, n)
        k0 = store.keys_read
        ms, proof = timed(consistency_proof, m, n, store)
        cons_ms.append(ms)
        cons_keys.append(store.keys_read - k0)
        cons_pairs.append(m)
        if len(cons_pairs) <= 50:  # verifying needs root(m): spot-check a subset
            verify_consistency(m, n, proof, root(m, store), r)
    cons_lookups = (store.lookups - lookups_before - min(50, args.samples)) / args.samples

    # 4. Naive baseline for a few entries (and a cross-check of the answers).
    naive_incl: list[float] = []
    naive_cons: list[float] = []
    for _ in range(args.naive):
        i = rng.randrange(n)
        ms, proof = timed(naive_path, i, leaves, 0, n)
        naive_incl.append(ms)
        assert proof == inclusion_proof(i, n, store)
        m = rng.randrange(1, n)
        ms, proof = timed(naive_subproof, m, leaves, 0, n, True)
        naive_cons.append(ms)
        assert proof == consistency_proof(m, n, store)

    log2n = math.log2(n)
    print()
    print(f"proofs on a {n:,}-leaf tree ({args.samples:,} random entries; naive baseline: {args.naive} entries)")
    header = (
        f"{'':24}{'p50 ms':>10}{'p99 ms':>10}{'naive p50 ms':>14}{'speed-up':>10}"
        f"{'reads/proof':>13}{'keys/proof (avg/max)':>22}"
    )
    print(header)
    print("-" * len(header))
    for name, samples_ms, naive_ms, lookups, keys in (
        ("inclusion", incl_ms, naive_incl, incl_lookups, incl_keys),
        ("consistency", cons_ms, naive_cons, cons_lookups, cons_keys),
    ):
        p50, p99 = percentile(samples_ms, 0.50), percentile(samples_ms, 0.99)
        n50 = statistics.median(naive_ms) if naive_ms else float("nan")
        print(
            f"{name:24}{p50:10.3f}{p99:10.3f}{n50:14.1f}{n50 / p50:9.0f}x"
            f"{lookups:13.2f}{statistics.mean(keys):14.1f} / {max(keys):<5d}"
        )
    print(f"\nlog2(n) = {log2n:.1f}: each proof is one batched store read of <= 2*log2(n) keys.")


if __name__ == "__main__":
    main()
