"""Catch-up cost per check at 1,000,000 stored fingerprint sets, SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_catchup.py [--rows 1000000] [--no-pg]

Builds the schema with the real migrations, bulk-inserts ``--rows`` fingerprint sets
(small payloads: catch-up reads numbers only) and measures, per check, what the live
index asks the database before it matches:

* **by sequence** (the registry): ``no > high OR no IN (gaps)`` on the primary key, idle
  and with one set committed since the last check;
* **by time** (the old path, the baseline): ``created_at >= newest seen - 2 min ORDER BY
  no``, which the planners answer by reading the table in ``no`` order.

Foreign keys are switched off for the bulk insert only (the rows name no real asset).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from registry.core import migrate  # noqa: E402
from registry.core.models import utcnow  # noqa: E402
from registry.fingerprints.live import LiveIndex  # noqa: E402
from registry.fingerprints.models import FingerprintSet  # noqa: E402


def fill(engine: sa.Engine, rows: int) -> None:
    now = utcnow()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET session_replication_role = replica"))  # no FK checks
        batch = 20_000
        for start in range(0, rows, batch):
            conn.execute(sa.insert(FingerprintSet.__table__), [
                {"asset_id": f"ast_{i:026d}", "kind": "image", "version": 1, "phash": i,
                 "frame_count": 1, "data": b"{}", "created_at": now - timedelta(seconds=rows - i)}
                for i in range(start, min(rows, start + batch))])
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


def add_one(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET session_replication_role = replica"))
        conn.execute(sa.insert(FingerprintSet.__table__), [
            {"asset_id": f"new_{time.time_ns()}", "kind": "video", "version": 2, "frame_count": 0,
             "data": b"", "created_at": utcnow()}])


def median_ms(fn, reps: int = 30, before=None) -> float:
    """Median time of ``fn``, with ``before`` run (untimed) ahead of each call."""
    times = []
    for _ in range(reps):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def measure(url: str, rows: int) -> list[str]:
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    fill(engine, rows)
    with Session(engine) as session:
        index = LiveIndex(Path(tempfile.mkdtemp()), engine)
        # As if loaded from a snapshot that covers every row.
        index.known = set(session.exec(select(FingerprintSet.no)).all())
        index.high = max(index.known)
        newest = session.exec(select(sa.func.max(FingerprintSet.created_at))).one()

        def by_sequence() -> None:
            index.catch_up(session)

        def by_time() -> None:
            session.exec(select(FingerprintSet.no).where(
                FingerprintSet.created_at >= newest - timedelta(minutes=2))
                .order_by(FingerprintSet.no)).all()

        idle = median_ms(by_sequence)
        old = median_ms(by_time, reps=10)
        # One set committed by another replica before each check (its clip payload is
        # empty, so this times the query, not the decoding).
        index._add_batch = lambda records: index.known.update(r.no for r in records)  # noqa: SLF001
        changed = median_ms(by_sequence, before=lambda: add_one(engine))
    engine.dispose()
    return [f"{old:.2f}", f"{idle:.2f}", f"{changed:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(["SQLite", *measure(f"sqlite:///{tmp}/bench.db", args.rows)])
    if not args.no_pg:
        from tests.pg import TempCluster

        cluster = TempCluster()
        try:
            server = cluster.start()
            admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text("CREATE DATABASE bench"))
            admin.dispose()
            results.append(["PostgreSQL 15", *measure(f"{server}/bench", args.rows)])
        finally:
            cluster.stop()
    print(f"## Catch-up per check, {args.rows:,} stored fingerprint sets (median ms)\n")
    print("| database | by time (old path) | by sequence, idle | by sequence, one new set |")
    print("|---|---:|---:|---:|")
    for row in results:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
