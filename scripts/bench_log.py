"""Benchmark the audit log and manifests through the database; prints Markdown tables.

    .venv/bin/python scripts/bench_log.py            # full run: 100k appends, 1M-entry log, 100k assets
    .venv/bin/python scripts/bench_log.py --quick    # smoke run: 10k appends, 100k-entry log, 10k assets
    .venv/bin/python scripts/bench_log.py --database-url postgresql+psycopg://user@host/empty_db

Every measured figure is printed beside a naive baseline from the same run:

1. Appends through the real write path (``append_entry`` + ``session.commit()`` per change,
   one transaction each, as in production) vs a plain ORM row insert + commit with no
   head lock and no Merkle nodes; then a signed checkpoint (``tree.latest_checkpoint``)
   vs recomputing the root from every leaf hash read back from ``log_entry``.
2. The log is bulk-loaded to --proof-size entries (default 1,000,000) with synthetic
   entries whose payloads are byte-identical to what ``append_entry`` writes, and whose
   ``log_node`` rows come from ``merkle.append_leaves``; then ``tree.inclusion`` and
   ``tree.consistency`` are timed for --samples random (entry, size) / (first, second)
   pairs, with the number of SQL queries and ``log_node`` rows each proof reads, vs a
   naive proof built from all leaf hashes read from the database (--naive pairs).
3. One source with --assets synthetic assets (bulk-inserted, no blobs): the end-to-end
   ``sign_source_manifest`` and the offline ``verify_manifest`` of the downloaded envelope
   bytes, with a per-step breakdown, vs the same document serialised with
   ``json.dumps(sort_keys=True)`` instead of RFC 8785.

The database is a fresh SQLite file in a temporary directory, removed at the end. With
--database-url (e.g. PostgreSQL) the database must be empty and throwaway: it is migrated
and filled, and nothing is dropped afterwards.

Figures are wall clock unless labelled CPU; on a shared machine, wall-clock tails mostly
measure preemption by other processes, so CPU time (this process only) is shown too.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import math
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rfc8785  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event, insert, select, update  # noqa: E402
from sqlmodel import Field, Session, SQLModel  # noqa: E402

from registry.assets.models import Asset  # noqa: E402
from registry.auditlog import merkle, tree  # noqa: E402
from registry.auditlog.models import LogEntry, LogHead, LogNode  # noqa: E402
from registry.auditlog.service import append_entry, entry_payload, node_lookup  # noqa: E402
from registry.auth.actor import SYSTEM_ACTOR  # noqa: E402
from registry.core import migrate  # noqa: E402
from registry.core.config import Settings  # noqa: E402
from registry.core.db import standalone_session  # noqa: E402
from registry.core.ids import new_id  # noqa: E402
from registry.core.models import utcnow  # noqa: E402
from registry.holders.models import RightsHolder  # noqa: E402
from registry.licences.catalogue import seed_catalogue  # noqa: E402
from registry.licences.models import Licence  # noqa: E402
from registry.manifests import document as manifest_document  # noqa: E402
from registry.manifests import service as manifest_service  # noqa: E402
from registry.manifests import verify as manifest_verify  # noqa: E402
from registry.manifests.document import entry_leaf  # noqa: E402
from registry.manifests.verify import load_keys, verify_manifest  # noqa: E402
from registry.signingkeys.schemas import PublicKeySet, PublicSigningKey  # noqa: E402
from registry.signingkeys.service import ensure_active_key, public_keys  # noqa: E402
from registry.sources.models import Source, SourceHolder  # noqa: E402

PASSPHRASE = "bench-passphrase-0123456789"
BULK_BATCH = 50_000


class BenchPlainEntry(SQLModel, table=True):
    """Scratch table for the append baseline: a log_entry-shaped row, nothing else."""

    __tablename__ = "bench_plain_entry"

    idx: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    recorded_at: str
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Clock:
    """Wall and CPU (this process) time of a block."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    print()


@contextmanager
def instrument(targets: list[tuple[Any, str, str]]) -> Iterator[tuple[dict[str, float], Counter[str]]]:
    """Temporarily wrap module-level functions (looked up at call time) with timers."""
    spent: dict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    saved = []
    for module, name, label in targets:
        original = getattr(module, name)

        def wrapper(*args: Any, _f: Callable[..., Any] = original, _label: str = label, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return _f(*args, **kw)
            finally:
                spent[_label] += time.perf_counter() - t
                calls[_label] += 1

        setattr(module, name, wrapper)
        saved.append((module, name, original))
    try:
        yield spent, calls
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def quiet_logging() -> None:
    # Alembic's ini configures INFO logging; nothing of it belongs in the tables.
    logging.disable(logging.INFO)


_T0 = time.perf_counter()


def progress(message: str) -> None:
    """Progress on stderr, so stdout holds only the Markdown report."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


# --- naive baselines: RFC 6962 recursion over the full list of leaf hashes ---
# Index ranges, not list slices, so the baseline is not penalised by copying.


def naive_mth(leaves: list[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return leaves[lo]
    k = 1 << ((hi - lo - 1).bit_length() - 1)
    return merkle.node_hash(naive_mth(leaves, lo, lo + k), naive_mth(leaves, lo + k, hi))


def naive_root_and_path(m: int, leaves: list[bytes], lo: int, hi: int) -> tuple[bytes, list[bytes]]:
    """MTH(D[lo:hi]) and PATH(m, D[lo:hi]) in one pass (hi - lo - 1 node hashes)."""
    if hi - lo == 1:
        return leaves[lo], []
    k = 1 << ((hi - lo - 1).bit_length() - 1)
    if m < k:
        left, path = naive_root_and_path(m, leaves, lo, lo + k)
        right = naive_mth(leaves, lo + k, hi)
        path.append(right)
    else:
        left = naive_mth(leaves, lo, lo + k)
        right, path = naive_root_and_path(m - k, leaves, lo + k, hi)
        path.append(left)
    return merkle.node_hash(left, right), path


def naive_root_and_subproof(m: int, leaves: list[bytes], lo: int, hi: int,
                            complete: bool) -> tuple[bytes, list[bytes]]:
    """MTH(D[lo:hi]) and SUBPROOF(m, D[lo:hi], complete) in one pass."""
    if m == hi - lo:
        root = naive_mth(leaves, lo, hi)
        return root, ([] if complete else [root])
    k = 1 << ((hi - lo - 1).bit_length() - 1)
    if m <= k:
        left, proof = naive_root_and_subproof(m, leaves, lo, lo + k, complete)
        right = naive_mth(leaves, lo + k, hi)
        proof.append(right)
    else:
        left = naive_mth(leaves, lo, lo + k)
        right, proof = naive_root_and_subproof(m - k, leaves, lo + k, hi, False)
        proof.append(left)
    return merkle.node_hash(left, right), proof


def read_leaf_hashes(session: Session, size: int) -> list[bytes]:
    return list(session.execute(select(LogEntry.leaf_hash).where(LogEntry.idx < size)
                                .order_by(LogEntry.idx)).scalars())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------


def prepare_empty_database(settings: Settings) -> None:
    """What `registry db upgrade` does (migrations, built-in licences, first signing key), on
    a database that must not hold a registry yet: the benchmarks fill it."""
    settings.ensure_dirs()
    migrate.upgrade(settings.effective_database_url)
    with standalone_session(settings.effective_database_url) as session:
        seed_catalogue(session)
        ensure_active_key(session, settings, SYSTEM_ACTOR)
        if (size := tree.log_size(session)) > 1_000:
            sys.exit(f"the database already holds a {size:,}-entry log: use an empty database")


def setup_database(settings: Settings) -> None:
    prepare_empty_database(settings)
    with standalone_session(settings.effective_database_url) as session:
        BenchPlainEntry.__table__.create(session.get_bind(), checkfirst=True)


# ---------------------------------------------------------------------------
# 1. Appends and checkpoints
# ---------------------------------------------------------------------------


def bench_appends(settings: Settings, n: int, n_baseline: int, budget: float) -> dict[str, Any]:
    """``n`` appends, or as many as fit in ``budget`` seconds (0: no limit)."""
    url = settings.effective_database_url
    out: dict[str, Any] = {"requested": n, "budget": budget}
    with standalone_session(url) as session:
        lat: list[float] = []
        data = {"kind": "bench", "note": "synthetic change", "value": 0}
        deadline = time.perf_counter() + budget if budget > 0 else math.inf
        with Clock() as c:
            for i in range(n):
                if i % 1000 == 0 and time.perf_counter() > deadline:
                    break
                t = time.perf_counter()
                data["value"] = i
                append_entry(session, SYSTEM_ACTOR, "bench.event", "bench", f"b{i}", data)
                session.commit()
                lat.append(time.perf_counter() - t)
        n = len(lat)
        out["append"] = (n, c, lat)
        progress(f"{n:,} appends done; plain-row baseline")

        lat_b: list[float] = []
        with Clock() as c:
            for i in range(n_baseline):
                t = time.perf_counter()
                now = utcnow().isoformat()
                payload = rfc8785.dumps({"idx": i, "recorded_at": now, "actor": "system",
                                         "action": "bench.event", "entity_type": "bench",
                                         "entity_id": f"b{i}", "data": {**data, "value": i}})
                session.add(BenchPlainEntry(idx=i, recorded_at=now, actor="system",
                                            action="bench.event", entity_type="bench",
                                            entity_id=f"b{i}", payload=payload))
                session.commit()
                lat_b.append(time.perf_counter() - t)
        out["plain"] = (n_baseline, c, lat_b)

    progress("checkpoint")
    with standalone_session(url) as session:
        out["checkpoint"] = bench_checkpoint(session, settings)
    return out


def bench_checkpoint(session: Session, settings: Settings) -> dict[str, Any]:
    size = tree.log_size(session)
    with Clock() as c_root:
        root = merkle.root(size, tree.DbNodeStore(session))
    with Clock() as c_sign:
        checkpoint = tree.latest_checkpoint(session, settings)
    with Clock() as c_again:
        tree.latest_checkpoint(session, settings)
    assert checkpoint.size == size and checkpoint.root == root
    with Clock() as c_read:
        leaves = read_leaf_hashes(session, size)
    with Clock() as c_hash:
        naive = naive_mth(leaves, 0, size)
    assert naive == root, "naive root differs from the stored tree's root"
    return {"size": size, "root": c_root, "sign": c_sign, "again": c_again,
            "naive_read": c_read, "naive_hash": c_hash, "keys": len(merkle._range_keys(0, size))}


# ---------------------------------------------------------------------------
# 2. Bulk load and proofs
# ---------------------------------------------------------------------------


def bulk_load_log(settings: Settings, target: int) -> dict[str, Any]:
    """Extend the log to ``target`` entries, ``BULK_BATCH`` per transaction."""
    entry_table, node_table = LogEntry.__table__, LogNode.__table__
    hashing = inserting = 0.0
    entries = nodes = 0
    with standalone_session(settings.effective_database_url) as session, Clock() as c:
        start = tree.log_size(session)
        recorded_at = utcnow()
        stamp = recorded_at.isoformat().encode()
        # RFC 8785 of entry_payload(...) with data={}: keys sorted, ASCII only, so a bytes
        # template gives the same bytes at a fraction of the cost (checked per batch below).
        template = (b'{"action":"bench.bulk","actor":"system","data":{},"entity_id":"bulk%d",'
                    b'"entity_type":"bench","idx":%d,"recorded_at":"' + stamp + b'"}')
        for lo in range(start, target, BULK_BATCH):
            hi = min(target, lo + BULK_BATCH)
            t = time.perf_counter()
            payloads = [template % (i, i) for i in range(lo, hi)]
            probe = LogEntry(idx=lo, recorded_at=recorded_at, actor="system", action="bench.bulk",
                             entity_type="bench", entity_id=f"bulk{lo}", payload=b"", leaf_hash=b"")
            assert entry_payload(probe, {}) == payloads[0], "bulk payload is not canonical"
            leaves = [hashlib.sha256(b"\x00" + p).digest() for p in payloads]
            assert leaves[0] == merkle.leaf_hash(payloads[0])
            rows = merkle.append_leaves(lo, leaves, node_lookup(session))
            hashing += time.perf_counter() - t
            t = time.perf_counter()
            session.execute(insert(entry_table), [
                {"idx": i, "recorded_at": recorded_at, "actor": "system", "action": "bench.bulk",
                 "entity_type": "bench", "entity_id": f"bulk{i}", "payload": p, "leaf_hash": h}
                for i, p, h in zip(range(lo, hi), payloads, leaves)])
            session.execute(insert(node_table), [{"level": level, "idx": idx, "hash": h}
                                                 for (level, idx), h in rows.items()])
            session.execute(update(LogHead).where(LogHead.id == 1).values(size=hi))
            session.commit()
            inserting += time.perf_counter() - t
            entries += hi - lo
            nodes += len(rows)
            progress(f"bulk load: log size {hi:,}")
    return {"entries": entries, "nodes": nodes, "clock": c, "hashing": hashing, "inserting": inserting}


class ReadCounter:
    """Counts what proofs read: SQL statements and log_node rows (via a counting store)."""

    def __init__(self, session: Session) -> None:
        self.queries = self.keys = self.rows = 0
        self.engine = session.get_bind()
        counter = self

        class CountingStore:
            def __init__(self, s: Session) -> None:
                inner = node_lookup(s)

                def get_nodes(keys: list[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
                    got = inner(keys)
                    counter.keys += len(keys)
                    counter.rows += len(got)
                    return got

                self.get_nodes = get_nodes

        self.store_class = CountingStore

        self.node_sql: tuple[str, Any] | None = None

    def _on_execute(self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        self.queries += 1
        # Keep the widest lookup: a one-key IN may be planned differently from a real batch.
        if "FROM log_node" in statement and (self.node_sql is None
                                             or len(parameters) > len(self.node_sql[1])):
            self.node_sql = (statement, parameters)

    def query_plan(self, session: Session) -> str:
        """EXPLAIN of the widest lookup ``node_lookup`` really issued."""
        if self.node_sql is None:
            return "n/a"
        statement, parameters = self.node_sql
        conn = session.connection()
        if conn.dialect.name == "sqlite":
            lines = [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                               parameters)]
        else:
            lines = [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
        # Plan nodes only (no costs or conditions), repeated nodes collapsed: "29 x ...".
        nodes = [re.sub(r"\s*\(cost=.*$", "", line.replace("->", "")).strip()
                 for line in lines if ": " not in line]
        collapsed: list[list[Any]] = []
        for node in nodes:
            if collapsed and collapsed[-1][1] == node:
                collapsed[-1][0] += 1
            else:
                collapsed.append([1, node])
        return "; ".join(node if count == 1 else f"{count} x {node}" for count, node in collapsed)

    @contextmanager
    def counting(self) -> Iterator[None]:
        original = tree.DbNodeStore
        tree.DbNodeStore = self.store_class  # type: ignore[misc,assignment]
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        try:
            yield
        finally:
            event.remove(self.engine, "before_cursor_execute", self._on_execute)
            tree.DbNodeStore = original  # type: ignore[misc]

    def snapshot(self) -> tuple[int, int]:
        return self.queries, self.rows


def bench_proofs(settings: Settings, samples: int, n_naive: int, budget: float,
                 rng: random.Random) -> dict[str, Any]:
    """Proof latency through the database; each proof type stops after ``budget`` seconds
    (at least ``max(n_naive, 10)`` samples), so a slow store cannot stall the run."""
    out: dict[str, Any] = {"budget": budget, "requested": samples}
    min_samples = max(n_naive, 10)
    with standalone_session(settings.effective_database_url) as session:
        n = tree.log_size(session)
        out["n"] = n
        incl_pairs = []
        for _ in range(samples):
            size = rng.randint(1, n)
            incl_pairs.append((rng.randrange(size), size))
        cons_pairs = []
        for _ in range(samples):
            second = rng.randint(2, n)
            cons_pairs.append((rng.randint(1, second - 1), second))
        kinds = (("inclusion", tree.inclusion, incl_pairs), ("consistency", tree.consistency, cons_pairs))

        progress("proofs: timing")
        # Warm-up (statement cache, page cache), not timed.
        for _name, fn, pairs in kinds:
            for a, b in pairs[-3:]:
                fn(session, a, b)

        for name, fn, pairs in kinds:
            wall: list[float] = []
            cpu: list[float] = []
            results = []
            deadline = time.perf_counter() + budget
            for a, b in pairs:
                if len(wall) >= min_samples and time.perf_counter() > deadline:
                    break
                t, tc = time.perf_counter(), time.thread_time()
                results.append(fn(session, a, b))
                cpu.append(time.thread_time() - tc)
                wall.append(time.perf_counter() - t)
            out[name] = {"wall": wall, "cpu": cpu, "results": results, "pairs": pairs[:len(wall)]}
            progress(f"proofs: {len(wall):,} {name} proofs timed")

        # Every proof must verify (outside the timed loop).
        for (idx, size), r in zip(out["inclusion"]["pairs"], out["inclusion"]["results"]):
            merkle.verify_inclusion(base64.b64decode(r["leaf_hash"]), idx, size,
                                    [base64.b64decode(h) for h in r["proof"]],
                                    base64.b64decode(r["root"]))
        for (first, second), r in zip(out["consistency"]["pairs"], out["consistency"]["results"]):
            merkle.verify_consistency(first, second, [base64.b64decode(h) for h in r["proof"]],
                                      base64.b64decode(r["first_root"]),
                                      base64.b64decode(r["second_root"]))

        # Reads per proof, in a separate (untimed) pass over the same pairs; the count
        # depends only on the pair, so a time-capped subset is representative.
        counter = ReadCounter(session)
        with counter.counting():
            for name, fn, _pairs in kinds:
                queries, rows = [], []
                deadline = time.perf_counter() + budget / 4
                for a, b in out[name]["pairs"]:
                    if len(rows) >= min_samples and time.perf_counter() > deadline:
                        break
                    q0, r0 = counter.snapshot()
                    fn(session, a, b)
                    q1, r1 = counter.snapshot()
                    queries.append(q1 - q0)
                    rows.append(r1 - r0)
                out[name]["queries"] = queries
                out[name]["rows"] = rows
        out["plan"] = counter.query_plan(session)
        progress("proofs: naive baseline")

        # Naive baseline: every proof reads all the leaf hashes it covers, then hashes
        # them; its answers must equal the proofs timed above for the same pairs.
        for name, _fn, _pairs in kinds:
            totals, reads, hashes_ = [], [], []
            pairs = out[name]["pairs"][:n_naive]
            for (a, b), expected in zip(pairs, out[name]["results"]):
                with Clock() as c_read:
                    leaves = read_leaf_hashes(session, b)
                with Clock() as c_hash:
                    if name == "inclusion":
                        root, path = naive_root_and_path(a, leaves, 0, b)
                    else:
                        first_root = naive_mth(leaves, 0, a)
                        root, path = naive_root_and_subproof(a, leaves, 0, b, True)
                if name == "inclusion":
                    assert b64(root) == expected["root"]
                else:
                    assert (b64(first_root), b64(root)) == (expected["first_root"], expected["second_root"])
                assert [b64(h) for h in path] == expected["proof"]
                del leaves
                reads.append(c_read.wall)
                hashes_.append(c_hash.wall)
                totals.append(c_read.wall + c_hash.wall)
            out[name]["naive"] = {"total": totals, "read": reads, "hash": hashes_, "pairs": pairs}

        progress("checkpoint at full size")
        out["checkpoint"] = bench_checkpoint(session, settings)
    return out


# ---------------------------------------------------------------------------
# 3. Manifests
# ---------------------------------------------------------------------------


def load_assets(settings: Settings, n_assets: int, rng: random.Random) -> dict[str, Any]:
    progress(f"loading {n_assets:,} assets")
    with standalone_session(settings.effective_database_url) as session, Clock() as c:
        licence_id = session.execute(select(Licence.id).where(Licence.identifier == "CC-BY-4.0")).scalar_one()
        now = utcnow()
        holder = RightsHolder(id=new_id("hld"), name="Bench Pictures Ltd", kind="organisation",
                              identifiers=[], public_keys=[], created_at=now, updated_at=now)
        source = Source(id=new_id("src"), name="bench-images", version="1",
                        description="synthetic source for bench_log.py", media_types=["image/png"],
                        licence_id=licence_id, acquisition_method="licensed", opt_out_signals=[],
                        created_at=now, updated_at=now)
        session.add(holder)
        session.add(source)
        session.flush()
        session.add(SourceHolder(source_id=source.id, holder_id=holder.id))
        session.commit()
        rows = [{"id": new_id("ast"), "source_id": source.id,
                 "sha256": rng.getrandbits(256).to_bytes(32, "big").hex(),
                 "media_type": "image/png", "byte_size": rng.randint(10_000, 5_000_000),
                 "created_at": now, "updated_at": now} for _ in range(n_assets)]
        for lo in range(0, n_assets, BULK_BATCH):
            session.execute(insert(Asset.__table__), rows[lo:lo + BULK_BATCH])
        session.commit()
    return {"source_id": source.id, "clock": c, "n": n_assets}


def json_sorted(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def bench_manifest(settings: Settings, source_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sign_steps = [
        (manifest_service, "_document_parts", "load"),
        (manifest_service, "build_manifest", "build"),
        (manifest_document, "asset_tree", "tree"),
        (manifest_document, "canonical_manifest", "canon"),
        (manifest_service, "sign_envelope", "sign"),
        (manifest_service, "commit_change", "store"),
    ]
    progress("manifest: sign")
    with standalone_session(settings.effective_database_url) as session:
        with instrument(sign_steps) as (spent, _calls), Clock() as c:
            manifest = manifest_service.sign_source_manifest(session, settings, SYSTEM_ACTOR, source_id)
        out["sign"] = (c, dict(spent))
        envelope_bytes = manifest.envelope.encode()  # what GET .../envelope returns
        keys_json = PublicKeySet(log_origin=settings.log_origin,
                                 keys=[PublicSigningKey.from_record(r) for r in public_keys(session)]
                                 ).model_dump_json()
    payload = base64.b64decode(json.loads(envelope_bytes)["payload"])
    out["envelope_bytes"] = len(envelope_bytes)
    out["payload_bytes"] = len(payload)
    out["asset_count"] = manifest.asset_count

    # Offline verification, as `registry verify` does it: bytes + the published key set.
    verify_steps = [
        (manifest_verify, "verify_envelope", "envelope"),
        (manifest_verify, "parse_statement", "parse"),
        (manifest_verify, "_check_assets", "assets"),
        (manifest_verify, "asset_tree", "tree"),
    ]
    progress("manifest: verify and baselines")
    keys = load_keys(keys_json)
    with instrument(verify_steps) as (spent, calls), Clock() as c:
        verified = verify_manifest(envelope_bytes, keys)
    assert verified.asset_root.hex() == manifest.asset_root
    out["verify"] = (c, dict(spent), dict(calls))

    # Baselines: the same document and entries serialised with json.dumps(sort_keys=True).
    statement = json.loads(payload)
    assets = statement["predicate"]["assets"]
    with Clock() as c_canon:
        canonical = rfc8785.dumps(statement)
    with Clock() as c_json:
        plain = json_sorted(statement)
    assert canonical == payload
    out["canon"] = (c_canon, c_json, canonical == plain)
    with Clock() as c_leaves:
        leaves = [entry_leaf(e) for e in assets]
    with Clock() as c_leaves_json:
        leaves_json = [merkle.leaf_hash(json_sorted(e)) for e in assets]
    out["leaves"] = (c_leaves, c_leaves_json, leaves == leaves_json)
    with Clock() as c_tree_only:
        store = merkle.InMemoryNodeStore()
        store.extend(leaves)
        merkle.root(store.size, store)
    out["tree_hashing"] = c_tree_only
    with Clock() as c_parse:
        json.loads(payload)
    out["json_parse"] = c_parse
    # Baseline for the load step: the same live assets as plain column rows, no ORM objects.
    with standalone_session(settings.effective_database_url) as session, Clock() as c_rows:
        rows = session.execute(select(Asset.id, Asset.sha256, Asset.media_type, Asset.byte_size,
                                      Asset.licence_id, Asset.holder_id)
                               .where(Asset.source_id == source_id, Asset.retired_at.is_(None))
                               .order_by(Asset.id)).all()
    assert len(rows) == len(assets)
    out["column_rows"] = c_rows
    return out


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "n/a"


def report_appends(r: dict[str, Any]) -> None:
    n, c, lat = r["append"]
    nb, cb, latb = r["plain"]
    cp = r["checkpoint"]
    k = min(1_000, n)
    print(f"## 1. Appends through the real write path ({n:,} entries, one transaction each)\n")
    if n < r["requested"]:
        print(f"**Stopped early**: {n:,} of the {r['requested']:,} requested appends fit in the "
              f"{r['budget']:.0f} s budget (--append-budget; 0 lifts it). The rate is for these "
              "entries only and falls as the log grows (compare first and last 1,000 below).\n")
    table(["measurement", "result", "naive baseline", "baseline result"], [
        [f"`append_entry` + `commit()`, {n:,} entries",
         f"**{n / c.wall:,.0f} entries/s** ({c.wall:,.1f} s wall, {c.cpu:,.1f} s CPU); "
         f"p50 {percentile(lat, .5) * 1e3:.2f} ms, p99 {percentile(lat, .99) * 1e3:.2f} ms; "
         f"mean of first / last {k:,}: {statistics.mean(lat[:k]) * 1e3:.2f} / "
         f"{statistics.mean(lat[-k:]) * 1e3:.2f} ms",
         f"plain ORM row + `commit()` (no head lock, no Merkle nodes), {nb:,} rows",
         f"{nb / cb.wall:,.0f} rows/s; p50 {percentile(latb, .5) * 1e3:.2f} ms, "
         f"p99 {percentile(latb, .99) * 1e3:.2f} ms"],
        [f"signed checkpoint at size {cp['size']:,} (`tree.latest_checkpoint`)",
         f"**{ms(cp['sign'].wall)}** (root alone: {ms(cp['root'].wall)} from {cp['keys']} `log_node` rows; "
         f"already published: {ms(cp['again'].wall)})",
         f"root recomputed from all {cp['size']:,} leaf hashes read from `log_entry`",
         f"{ms(cp['naive_read'].wall + cp['naive_hash'].wall)} (read {ms(cp['naive_read'].wall)} "
         f"+ hash {ms(cp['naive_hash'].wall)})"],
    ])


def report_load(log_load: dict[str, Any], asset_load: dict[str, Any]) -> None:
    print("## Load times (bulk, executemany in batches of "
          f"{BULK_BATCH:,}; not part of any target)\n")
    c = log_load["clock"]
    ca = asset_load["clock"]
    table(["what", "rows", "time", "rate"], [
        [f"log: {log_load['entries']:,} synthetic entries (payload + leaf hash) "
         f"+ `log_node` rows from `merkle.append_leaves`",
         f"{log_load['entries']:,} `log_entry` + {log_load['nodes']:,} `log_node`",
         f"{c.wall:,.1f} s (hashing {log_load['hashing']:,.1f} s, inserts + commits "
         f"{log_load['inserting']:,.1f} s)", rate(log_load["entries"], c.wall) + " entries"],
        [f"manifest source: 1 holder, 1 source, {asset_load['n']:,} assets",
         f"{asset_load['n']:,} `asset`", f"{ca.wall:,.1f} s", rate(asset_load["n"], ca.wall) + " assets"],
    ])


def report_proofs(r: dict[str, Any]) -> None:
    n = r["n"]
    print(f"## 2. Proofs through the database at n = {n:,} entries (log2 n = {math.log2(n):.1f})\n")
    rows = []
    capped = False
    for name in ("inclusion", "consistency"):
        d = r[name]
        naive = d["naive"]
        p50 = percentile(d["wall"], .5)
        naive_p50 = statistics.median(naive["total"])
        capped |= len(d["wall"]) < r["requested"]
        rows.append([
            f"`tree.{name}`", f"{len(d['wall']):,}",
            f"**{p50 * 1e3:.2f}**", f"**{percentile(d['wall'], .99) * 1e3:.2f}**",
            f"{max(d['wall']) * 1e3:.2f}",
            f"{percentile(d['cpu'], .5) * 1e3:.2f} / {percentile(d['cpu'], .99) * 1e3:.2f}",
            f"{statistics.mean(d['queries']):.1f}",
            f"{statistics.mean(d['rows']):.1f} / {max(d['rows'])} ({len(d['rows']):,} pairs)",
            f"{naive_p50 * 1e3:,.0f} (read {statistics.median(naive['read']) * 1e3:,.0f} "
            f"+ hash {statistics.median(naive['hash']) * 1e3:,.0f})",
            f"{naive_p50 / p50:,.0f}x",
        ])
    table(["proof", "pairs timed", "p50 ms", "p99 ms", "max ms", "CPU p50 / p99 ms",
           "SQL queries / proof", "`log_node` rows read / proof (avg / max)",
           f"naive ms, median of {len(r['inclusion']['naive']['total'])}", "speed-up (p50)"], rows)
    if capped:
        print(f"**Sampling was cut short**: fewer than the {r['requested']:,} requested pairs fit in "
              f"the {r['budget']:.0f} s budget per proof type (--proof-budget), so p99 rests on "
              "few samples.\n")
    print("Query plan of a multi-key `log_node` lookup as `node_lookup` issues it "
          f"(one per `get_nodes` call): `{r['plan']}`.\n")
    print("Pairs: inclusion (idx, size) with size uniform in [1, n] and idx uniform below it; "
          "consistency (first, second) with second uniform in [2, n], first uniform below it. "
          "Every timed proof was verified (RFC 9162) and the naive proofs were checked equal to "
          "the database ones. Naive pairs (idx/size, first/second): "
          + ", ".join(f"{a:,}/{b:,}" for a, b in r["inclusion"]["naive"]["pairs"]) + " (inclusion); "
          + ", ".join(f"{a:,}/{b:,}" for a, b in r["consistency"]["naive"]["pairs"]) + " (consistency).\n")
    cp = r["checkpoint"]
    table(["measurement", "result", "naive baseline", "baseline result"], [
        [f"signed checkpoint at size {cp['size']:,}",
         f"**{ms(cp['sign'].wall)}** (root alone: {ms(cp['root'].wall)} from {cp['keys']} `log_node` rows)",
         f"root from all {cp['size']:,} leaf hashes in `log_entry`",
         f"{ms(cp['naive_read'].wall + cp['naive_hash'].wall)} (read {ms(cp['naive_read'].wall)} "
         f"+ hash {ms(cp['naive_hash'].wall)})"],
    ])


def report_manifest(r: dict[str, Any], n_assets: int) -> None:
    c, sp = r["sign"]
    vc, vsp, vcalls = r["verify"]
    c_canon, c_json, canon_same = r["canon"]
    c_leaves, c_leaves_json, leaves_same = r["leaves"]
    print(f"## 3. Manifest of {n_assets:,} assets\n")
    other_sign = c.wall - sum(sp[k] for k in ("load", "build", "sign", "store"))
    other_verify = vc.wall - vsp["envelope"] - vsp["parse"] - vsp["assets"]
    rows = [
        ["**`sign_source_manifest`, end to end**", f"**{c.wall:,.2f} s** ({c.cpu:,.2f} s CPU)",
         "same, with `json.dumps(sort_keys=True)` for statement and leaves (estimate)",
         f"{c.wall - c_canon.wall - c_leaves.wall + c_json.wall + c_leaves_json.wall:,.2f} s"],
        ["  load source + assets (`_document_parts`: plain rows joined with fingerprints)", ms(sp["load"]),
         "the asset columns the manifest uses, as plain rows (no ORM objects)",
         ms(r["column_rows"].wall)],
        ["  RFC 8785 per asset entry + statement assembly (rest of `build_manifest`)",
         ms(sp["build"] - sp["tree"] - sp["canon"]),
         "entries via `json.dumps(sort_keys=True)`, hashed (`entry_leaf` with RFC 8785 for comparison)",
         f"{ms(c_leaves_json.wall)} vs {ms(c_leaves.wall)} with RFC 8785"],
        ["  asset tree hashing (`asset_tree` over the canonical entries)", ms(sp["tree"]),
         "", f"(tree hashing alone, re-measured: {ms(r['tree_hashing'].wall)})"],
        ["  canonicalise statement (`canonical_manifest`: RFC 8785 skeleton + entries spliced in)",
         ms(sp["canon"]), "`rfc8785.dumps` of the whole statement / `json.dumps(sort_keys=True)`",
         f"{ms(c_canon.wall)} / {ms(c_json.wall)} (the splice's bytes equal `rfc8785.dumps`, asserted)"],
        ["  sign (DSSE PAE + Ed25519 + base64)", ms(sp["sign"]), "", ""],
        ["  store (`commit_change`: manifest row + log entry)", ms(sp["store"]), "", ""],
        ["  other (envelope `json.dumps`, payload SHA-256, key load)", ms(other_sign), "", ""],
        ["**offline `verify_manifest` on the envelope bytes**", f"**{vc.wall:,.2f} s** ({vc.cpu:,.2f} s CPU)",
         "same, leaves via `json.dumps(sort_keys=True)` (estimate)",
         f"{vc.wall - c_leaves.wall + c_leaves_json.wall:,.2f} s"],
        [f"  `verify_envelope` x{vcalls.get('envelope', 0)} (JSON parse, base64, Ed25519)",
         ms(vsp["envelope"]), "", ""],
        ["  `parse_statement` (JSON parse with duplicate-key hook)", ms(vsp["parse"]),
         "plain `json.loads` of the payload", ms(r["json_parse"].wall)],
        ["  asset tree recomputed (RFC 8785 per entry + hashing)", ms(vsp["tree"]),
         "leaves via `json.dumps(sort_keys=True)`", ms(c_leaves_json.wall + r["tree_hashing"].wall)],
        ["  subjects vs assets check", ms(vsp["assets"] - vsp["tree"]), "", ""],
        ["  other", ms(other_verify), "", ""],
        ["envelope size", f"{r['envelope_bytes']:,} bytes ({r['envelope_bytes'] / 2**20:,.1f} MiB; "
         f"payload {r['payload_bytes']:,} bytes)", "", ""],
    ]
    table(["step", "time", "baseline", "baseline time"], rows)
    print(f"RFC 8785 and `json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=False)` give "
          f"{'identical' if canon_same and leaves_same else 'different'} bytes for this document "
          "(ASCII strings and small integers only); they differ in general (numbers, non-BMP key order).\n")


def report_targets(proofs: dict[str, Any], manifest: dict[str, Any]) -> None:
    print("## Targets\n")
    rows = []
    for name in ("inclusion", "consistency"):
        p50, p99 = percentile(proofs[name]["wall"], .5), percentile(proofs[name]["wall"], .99)
        rows.append([f"`tree.{name}` at n = {proofs['n']:,} < 5 ms",
                     f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms",
                     "met" if p99 < 0.005 else ("met at p50, not at p99" if p50 < 0.005 else "**missed**")])
    for label, key in (("manifest sign", "sign"), ("offline verify", "verify")):
        wall = manifest[key][0].wall
        rows.append([f"{label} ({manifest['asset_count']:,} assets) < 5 s", f"{wall:,.2f} s",
                     "met" if wall < 5 else "**missed**"])
    table(["target", "measured", "status"], rows)


# ---------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, help="appends through the real write path (default 100,000)")
    ap.add_argument("--append-budget", type=float, default=300.0,
                    help="stop appending after this many seconds (default 300; 0: no limit)")
    ap.add_argument("--proof-size", type=int, help="log size for the proof benchmark (default 1,000,000)")
    ap.add_argument("--assets", type=int, help="assets in the manifest (default 100,000)")
    ap.add_argument("--samples", type=int, default=1_000, help="random pairs per proof type")
    ap.add_argument("--naive", type=int, default=3, help="pairs per proof type for the naive baseline")
    ap.add_argument("--proof-budget", type=float,
                    help="seconds of timing per proof type before sampling stops early "
                         "(default 30; 10 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 10k entries, 100k-entry proof log, 10k assets")
    ap.add_argument("--database-url", help="an EMPTY throwaway database (default: SQLite in a temp dir)")
    ap.add_argument("--seed", type=int, default=6962)
    args = ap.parse_args()
    entries = args.entries or (10_000 if args.quick else 100_000)
    proof_size = args.proof_size or (100_000 if args.quick else 1_000_000)
    n_assets = args.assets or (10_000 if args.quick else 100_000)
    proof_budget = args.proof_budget or (10.0 if args.quick else 30.0)
    rng = random.Random(args.seed)
    quiet_logging()

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-log-"))
    try:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = Settings(environment="test", data_dir=tmp, database_url=url,
                            key_passphrase=PASSPHRASE)
        backend = sa.engine.make_url(url).get_backend_name()
        load0 = os.getloadavg()
        print("# Audit log and manifest benchmark (`scripts/bench_log.py`)\n")
        print(f"Backend **{backend}**{' (temporary file)' if not args.database_url else ''}; "
              f"Python {platform.python_version()}, SQLAlchemy {sa.__version__}; "
              f"{os.cpu_count()} CPUs **shared with other jobs** (load average at start "
              f"{load0[0]:.2f}); figures are wall clock unless marked CPU.\n")
        with Clock() as c_setup:
            setup_database(settings)

        progress(f"appending {entries:,} entries through the real write path")
        appends = bench_appends(settings, entries, min(entries, max(1_000, entries // 10)),
                                args.append_budget)
        report_appends(appends)
        sys.stdout.flush()

        log_load = bulk_load_log(settings, proof_size)
        proofs = bench_proofs(settings, args.samples, args.naive, proof_budget, rng)
        asset_load = load_assets(settings, n_assets, rng)
        report_load(log_load, asset_load)
        report_proofs(proofs)
        sys.stdout.flush()

        manifest = bench_manifest(settings, asset_load["source_id"])
        report_manifest(manifest, n_assets)
        report_targets(proofs, manifest)
        if args.database_url:
            with standalone_session(url) as session:
                BenchPlainEntry.__table__.drop(session.get_bind(), checkfirst=True)
        load1 = os.getloadavg()
        print(f"Setup (migrations, licences, key) {c_setup.wall:.1f} s; total runtime "
              f"**{time.perf_counter() - t_start:,.0f} s**; load average at end {load1[0]:.2f} "
              f"(1 min) on {os.cpu_count()} CPUs.")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
