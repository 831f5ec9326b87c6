"""Benchmark the audit export on a large registry; prints Markdown tables.

    .venv/bin/python scripts/bench_export.py                  # 1,000,000 assets, SQLite temp file
    .venv/bin/python scripts/bench_export.py --assets 20000   # smoke run
    .venv/bin/python scripts/bench_export.py --database-url postgresql+psycopg://user@host/empty_db

1. Builds a registry: a rights holder and a source through the real services, then --assets
   assets bulk-inserted with ``executemany``, each with its ``asset.registered`` audit-log
   entry (payload byte-identical to what ``commit_change`` writes, checked per batch) and the
   Merkle nodes ``merkle.append_leaves`` computes, as ``scripts/bench_log.py`` loads its log.
2. Exports the whole period through the real code paths, each in a child process whose peak
   RSS is its own VmHWM from ``/proc/<pid>/status`` (not ``ru_maxrss``: Linux carries the
   parent's high-water mark into a child across fork and exec):
   ``registry export audit --format jsonl|csv|json`` (the CLI command), and
   ``GET /v1/exports/audit`` from a real uvicorn server (the server's peak RSS; the body is
   downloaded by this process).
3. Beside them, in the same run, the naive baseline: ``session.exec(select(...)).all()`` for
   the entries and every audited table, then one ``json.dumps``, also in a child process,
   under an address-space limit (--naive-limit-gb) so that it fails instead of the machine.

Each export is checked: entry leaf hashes recomputed from the payloads, counts, and the
trailer's checkpoint verified against the registry's public keys.

The default database is a fresh SQLite file in a temporary directory, removed at the end.
With --database-url the database must be empty and throwaway: it is migrated and filled.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from registry.assets.models import Asset  # noqa: E402
from registry.audited import AUDITED  # noqa: E402
from registry.auditlog import merkle, tree  # noqa: E402
from registry.auditlog.checkpoint import verify_checkpoint  # noqa: E402
from registry.auditlog.models import LogEntry, LogHead, LogNode  # noqa: E402
from registry.auditlog.service import entry_payload, node_lookup  # noqa: E402
from registry.auth.actor import SYSTEM_ACTOR  # noqa: E402
from registry.core.config import Settings  # noqa: E402
from registry.core.db import standalone_session  # noqa: E402
from registry.core.ids import new_id  # noqa: E402
from registry.core.signing import VerificationKey  # noqa: E402
from registry.holders.schemas import HolderCreate  # noqa: E402
from registry.holders.service import create_holder  # noqa: E402
from registry.licences.models import Licence  # noqa: E402
from registry.manifests.verify import load_keys  # noqa: E402
from registry.signingkeys.schemas import PublicKeySet, PublicSigningKey  # noqa: E402
from registry.signingkeys.service import public_keys  # noqa: E402
from registry.sources.schemas import SourceCreate  # noqa: E402
from registry.sources.service import create_source  # noqa: E402
from registry.unit_of_work import record_view  # noqa: E402
from scripts.bench_log import Clock, prepare_empty_database, progress, quiet_logging, table  # noqa: E402

PASSPHRASE = "bench-passphrase-0123456789"
BATCH = 50_000
MB = 1024 * 1024


# ---------------------------------------------------------------------------
# 1. Build the registry
# ---------------------------------------------------------------------------


def _payload_template(session: Session, probe: dict[str, Any]) -> tuple[bytes, list[str]]:
    """``entry_payload`` of an asset entry with the varying values replaced by ``%s``
    (in the order they occur), so a million payloads cost a string format each."""
    sentinels = {"id": "SENTINEL0ID", "sha256": "SENTINEL1SHA", "byte_size": 987654321987,
                 "idx": 123456789123}
    asset = Asset(**{**probe, "id": sentinels["id"], "sha256": sentinels["sha256"],
                     "byte_size": sentinels["byte_size"]})
    entry = LogEntry(idx=sentinels["idx"], recorded_at=probe["created_at"], actor=SYSTEM_ACTOR.key_id,
                     action="asset.registered", entity_type="asset", entity_id=asset.id,
                     payload=b"", leaf_hash=b"")
    payload = entry_payload(entry, record_view(session, "asset", asset)).replace(b"%", b"%%")
    order: list[str] = []  # the id occurs twice: data.id and entity_id
    template, pos = b"", 0
    while True:
        found = [(payload.find(str(v).encode(), pos), name, str(v).encode())
                 for name, v in sentinels.items() if payload.find(str(v).encode(), pos) >= 0]
        if not found:
            break
        at, name, text = min(found)
        template += payload[pos:at] + b"%s"
        order.append(name)
        pos = at + len(text)
    return template + payload[pos:], order


def load_registry(settings: Settings, n_assets: int, rng: random.Random) -> dict[str, Any]:
    """Holder and source through the services, then assets and their entries in bulk."""
    progress(f"loading {n_assets:,} assets with their audit-log entries")
    entry_table, node_table = LogEntry.__table__, LogNode.__table__
    with standalone_session(settings.effective_database_url) as session, Clock() as c:
        licence_id = session.exec(select(Licence.id).where(Licence.identifier == "CC-BY-4.0")).one()
        owner = create_holder(session, SYSTEM_ACTOR,
                              HolderCreate(name="Bench Pictures Ltd", kind="organisation"))
        source = create_source(session, SYSTEM_ACTOR, SourceCreate(
            name="bench-stills", version="1", media_types=["image/png"], holder_ids=[owner.id],
            licence_id=licence_id, acquisition_method="licensed"))
        now = datetime.now(UTC).replace(microsecond=123456)  # isoformat keeps 6 digits
        base = {"source_id": source.id, "media_type": "image/png", "created_at": now,
                "updated_at": now}
        start = tree.log_size(session)
        template, order = _payload_template(session, base)
        for lo in range(0, n_assets, BATCH):
            hi = min(n_assets, lo + BATCH)
            rows = [{**base, "id": new_id("ast"), "sha256": f"{rng.getrandbits(256):064x}",
                     "byte_size": rng.randint(10_000, 5_000_000)} for _ in range(lo, hi)]
            first = start + lo
            payloads = [template % tuple(str({**row, "idx": first + k}[name]).encode()
                                         for name in order)
                        for k, row in enumerate(rows)]
            probe = LogEntry(idx=first, recorded_at=now, actor=SYSTEM_ACTOR.key_id,
                             action="asset.registered", entity_type="asset",
                             entity_id=rows[0]["id"], payload=b"", leaf_hash=b"")
            assert entry_payload(probe, record_view(session, "asset", Asset(**rows[0]))) \
                == payloads[0], "bulk payload differs from what commit_change writes"
            leaves = [hashlib.sha256(b"\x00" + p).digest() for p in payloads]
            nodes = merkle.append_leaves(first, leaves, node_lookup(session))
            session.execute(insert(Asset.__table__), rows)
            session.execute(insert(entry_table), [
                {"idx": first + k, "recorded_at": now, "actor": SYSTEM_ACTOR.key_id,
                 "action": "asset.registered", "entity_type": "asset", "entity_id": row["id"],
                 "payload": p, "leaf_hash": h}
                for k, (row, p, h) in enumerate(zip(rows, payloads, leaves))])
            session.execute(insert(node_table), [{"level": level, "idx": idx, "hash": h}
                                                 for (level, idx), h in nodes.items()])
            session.execute(update(LogHead).where(LogHead.id == 1).values(size=first + hi - lo))
            session.commit()
            progress(f"loaded {hi:,} assets")
        session.execute(sa.text("ANALYZE"))  # planner statistics, as after any large import
        session.commit()
        size = tree.log_size(session)
    return {"clock": c, "log_size": size, "since": now - timedelta(hours=1),
            "until": now + timedelta(hours=1)}


# ---------------------------------------------------------------------------
# 2. Exports in child processes
# ---------------------------------------------------------------------------


def child_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "REGISTRY_DATABASE_URL": settings.effective_database_url,
            "REGISTRY_DATA_DIR": str(settings.data_dir), "REGISTRY_ENVIRONMENT": "test",
            "REGISTRY_KEY_PASSPHRASE": PASSPHRASE, "PYTHONPATH": str(Path(__file__).parents[1])}


# A child's ru_maxrss is useless here: Linux carries the parent's high-water mark into the
# child across fork and exec, so every child would report at least this (large) process.
# The child reads its own VmHWM (the high-water mark of its post-exec memory) at exit.
_WRAPPER = ("import atexit, os, runpy, sys\n"
            "def _hwm():\n"
            "    with open(os.environ['BENCH_HWM_FILE'], 'w') as out, open('/proc/self/status') as st:\n"
            "        out.write(st.read())\n"
            "atexit.register(_hwm)\n"
            "sys.argv = sys.argv[1:]\n"
            "if sys.argv[0].endswith('.py'):\n"
            "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "else:\n"
            "    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n")


def vm_hwm_mb(status_text: str) -> float:
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_child(args: list[str], env: dict[str, str], limit_bytes: int | None = None
              ) -> tuple[int, float, float]:
    """``python -m``/script ``args`` to completion; (exit status, wall s, peak RSS MB)."""
    def limit() -> None:
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    with tempfile.NamedTemporaryFile(prefix="hwm-", suffix=".txt", delete=False) as marker:
        hwm_file = Path(marker.name)
    t = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", _WRAPPER, *args],
                           env={**env, "BENCH_HWM_FILE": str(hwm_file)}, capture_output=True,
                           preexec_fn=limit if limit_bytes else None)
    wall = time.perf_counter() - t
    if child.returncode != 0:
        progress(f"child {args[:4]} exited {child.returncode}: {child.stderr.decode()[-800:]}")
    peak = vm_hwm_mb(hwm_file.read_text()) if hwm_file.stat().st_size else float("nan")
    hwm_file.unlink()
    return child.returncode, wall, peak


def cli_export(settings: Settings, fmt: str, since: str, until: str, out: Path) -> dict[str, Any]:
    cmd = ["registry.cli", "export", "audit", "--since", since,
           "--until", until, "--format", fmt, "--out", str(out), "--no-progress"]
    status, wall, rss = run_child(cmd, child_env(settings))
    return {"status": status, "wall": wall, "rss": rss}


def http_export(settings: Settings, since: str, until: str, out: Path) -> dict[str, Any]:
    """A real uvicorn server (child); this process downloads the stream to a file."""
    env = child_env(settings)
    made = subprocess.run([sys.executable, "-m", "registry.cli", "keys", "create", "--name",
                           "bench auditor", "--role", "auditor"], env=env, capture_output=True,
                          text=True, check=True)
    key = made.stdout.strip().splitlines()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "registry.main:create_app",
                               "--factory", "--host", "127.0.0.1", "--port", str(port),
                               "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        t = time.perf_counter()
        first_byte = None
        with httpx.stream("GET", f"{base}/v1/exports/audit", timeout=None,
                          params={"since": since, "until": until, "format": "jsonl"},
                          headers={"Authorization": f"Bearer {key}"}) as response, \
                open(out, "wb") as fh:
            assert response.status_code == 200, response.read()
            for chunk in response.iter_bytes(1 << 20):
                if first_byte is None:
                    first_byte = time.perf_counter() - t
                fh.write(chunk)
        wall = time.perf_counter() - t
        peak = vm_hwm_mb(Path(f"/proc/{server.pid}/status").read_text())
    finally:
        server.send_signal(signal.SIGINT)
        server.wait()
    return {"status": 0, "wall": wall, "rss": peak, "first_byte": first_byte}


def naive_child(url: str, since: str, until: str, out: str) -> None:
    """The baseline, run as a child: everything in memory, one json.dumps."""
    start, end = datetime.fromisoformat(since), datetime.fromisoformat(until)
    with standalone_session(url) as session:
        entries = session.exec(select(LogEntry).where(LogEntry.recorded_at >= start,
                                                      LogEntry.recorded_at < end)).all()
        touched = {(e.entity_type, e.entity_id) for e in entries}
        records = []
        for entity_type, spec in sorted(AUDITED.items()):
            for entity in session.exec(select(spec.model)).all():
                if (entity_type, entity.id) in touched:  # type: ignore[attr-defined]
                    records.append({"entity_type": entity_type,
                                    "data": record_view(session, entity_type, entity)})
        document = json.dumps({"entries": [
            {"idx": e.idx, "recorded_at": e.recorded_at.isoformat(), "actor": e.actor,
             "action": e.action, "entity_type": e.entity_type, "entity_id": e.entity_id,
             "leaf_hash": e.leaf_hash.hex(), "payload": e.payload.decode()} for e in entries],
            "records": records})
    Path(out).write_text(document)


def naive_export(settings: Settings, since: str, until: str, out: Path,
                 limit_gb: float) -> dict[str, Any]:
    cmd = [str(Path(__file__).resolve()), "--naive-child", "--database-url",
           settings.effective_database_url, "--since", since, "--until", until, "--out", str(out)]
    status, wall, rss = run_child(cmd, child_env(settings), int(limit_gb * 1024 ** 3))
    return {"status": status, "wall": wall, "rss": rss}


def check_jsonl(path: Path, keys: list[VerificationKey], origin: str) -> dict[str, Any]:
    """Every entry's leaf hash from its payload; counts; the trailer's signed checkpoint."""
    entries = records = 0
    trailer: dict[str, Any] = {}
    with open(path, "rb") as fh:
        for line in fh:
            row = json.loads(line)
            if row["section"] == "entry":
                entries += 1
                assert hashlib.sha256(b"\x00" + row["payload"].encode()).hexdigest() == row["leaf_hash"]
            elif row["section"] == "record":
                records += 1
            else:
                trailer = row
    assert trailer, "export has no trailer"
    assert (trailer["entries"], trailer["records"]) == (entries, records)
    checkpoint = verify_checkpoint(trailer["checkpoint"], keys, expected_origin=origin)
    assert checkpoint.size == trailer["tree_size"]
    return {"entries": entries, "records": records, "tree_size": checkpoint.size}


def check_other(path: Path, fmt: str, expected: dict[str, Any]) -> None:
    """CSV and JSON: the trailer (last line / last member) carries the same counts."""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 64 * 1024))
        tail = fh.read().decode(errors="replace")
    marker = '"section":"trailer"'
    assert marker in tail.replace('""', '"'), f"{fmt} export has no trailer"
    counts = f'"entries":{expected["entries"]},"records":{expected["records"]}'
    assert counts in tail.replace('""', '"'), f"{fmt} trailer counts differ"


# ---------------------------------------------------------------------------


def mb(value: float) -> str:
    return f"{value:,.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets", type=int, default=1_000_000, help="assets to load (default 1,000,000)")
    ap.add_argument("--database-url", help="an EMPTY throwaway database (default: SQLite in a temp dir)")
    ap.add_argument("--formats", default="jsonl,csv,json", help="CLI export formats to measure")
    ap.add_argument("--no-http", action="store_true", help="skip the uvicorn export")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    ap.add_argument("--naive-limit-gb", type=float, default=12.0,
                    help="address-space limit of the naive child (default 12 GB)")
    ap.add_argument("--target-mb", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=8785)
    ap.add_argument("--naive-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--since", help=argparse.SUPPRESS)
    ap.add_argument("--until", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    quiet_logging()
    if args.naive_child:
        naive_child(args.database_url, args.since, args.until, args.out)
        return

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = Settings(environment="test", data_dir=tmp / "data", database_url=url,
                            key_passphrase=PASSPHRASE)
        backend = sa.engine.make_url(url).get_backend_name()
        load0 = os.getloadavg()
        prepare_empty_database(settings)
        loaded = load_registry(settings, args.assets, random.Random(args.seed))
        since, until = loaded["since"].isoformat(), loaded["until"].isoformat()
        with standalone_session(url) as session:  # what /.well-known/registry-keys.json serves
            keys = load_keys(PublicKeySet(
                log_origin=settings.log_origin,
                keys=[PublicSigningKey.from_record(r) for r in public_keys(session)]).model_dump_json())

        results: list[tuple[str, dict[str, Any], int]] = []
        expected: dict[str, Any] | None = None
        if not args.no_http:
            progress("export: HTTP (uvicorn, jsonl)")
            out = tmp / "http.jsonl"
            r = http_export(settings, since, until, out)
            expected = check_jsonl(out, keys, settings.log_origin)
            results.append(("`GET /v1/exports/audit?format=jsonl` (uvicorn server process)", r,
                            out.stat().st_size))
            out.unlink()
        for fmt in [f for f in args.formats.split(",") if f]:
            progress(f"export: CLI {fmt}")
            out = tmp / f"cli.{fmt}"
            r = cli_export(settings, fmt, since, until, out)
            assert r["status"] == 0, f"CLI export {fmt} failed"
            if fmt == "jsonl":
                got = check_jsonl(out, keys, settings.log_origin)
                assert expected is None or got == expected, (got, expected)
                expected = got
            elif expected is not None:
                check_other(out, fmt, expected)
            results.append((f"`registry export audit --format {fmt}`", r, out.stat().st_size))
            out.unlink()
        progress("export: CLI over an empty period (the command's fixed cost)")
        out = tmp / "empty.jsonl"
        year_ago = (loaded["since"] - timedelta(days=365)).isoformat()
        r = cli_export(settings, "jsonl", year_ago, year_ago, out)
        results.append(("control: the same command over an empty period (imports, no rows)", r,
                        out.stat().st_size))
        out.unlink()
        naive: dict[str, Any] | None = None
        if not args.no_naive:
            progress("export: naive baseline")
            out = tmp / "naive.json"
            naive = naive_export(settings, since, until, out, args.naive_limit_gb)
            naive_size = out.stat().st_size if out.exists() else 0
            out.unlink(missing_ok=True)

        print("# Audit export benchmark (`scripts/bench_export.py`)\n")
        print(f"Backend **{backend}**{' (temporary file)' if not args.database_url else ''}; "
              f"{args.assets:,} assets; Python {platform.python_version()}, SQLAlchemy "
              f"{sa.__version__}; {os.cpu_count()} CPUs shared with other jobs (load average at "
              f"start {load0[0]:.2f}). Peak RSS is each child process's VmHWM "
              f"(`/proc/<pid>/status`), interpreter and imports included.\n")
        if expected:
            print(f"Each export holds **{expected['entries']:,} log entries and "
                  f"{expected['records']:,} records** plus the trailer (checkpoint at tree size "
                  f"{expected['tree_size']:,}); every entry's leaf hash was recomputed from its "
                  f"payload and the trailer's checkpoint signature verified. Loading the "
                  f"registry took {loaded['clock'].wall:,.0f} s.\n")
        rows = []
        for label, r, size in results:
            rate = (expected["entries"] + expected["records"]) / r["wall"] if expected else 0
            if label.startswith("control"):
                rate = 0
            extra = f"; first byte {r['first_byte']:.2f} s" if r.get("first_byte") is not None else ""
            rows.append([label, f"**{mb(r['rss'])}**", f"{r['wall']:,.1f} s{extra}",
                         f"{rate:,.0f}" if rate else "", mb(size / MB),
                         "met" if r["rss"] < args.target_mb else "**missed**"])
        if naive is not None:
            failed = naive["status"] != 0
            rows.append(["naive: `session.exec(select(...)).all()` + one `json.dumps`",
                         f"**{mb(naive['rss'])}**" + (f" (failed at the {args.naive_limit_gb:g} GB "
                                                      "address-space limit)" if failed else ""),
                         f"{naive['wall']:,.1f} s", "" if failed else
                         f"{(expected['entries'] + expected['records']) / naive['wall']:,.0f}"
                         if expected else "", mb(naive_size / MB) if not failed else "-",
                         "met" if naive["rss"] < args.target_mb and not failed else "**missed**"])
        table(["export", "peak RSS", "wall time", "rows/s", "output", f"< {args.target_mb:g} MB"],
              rows)
        load1 = os.getloadavg()
        print(f"Total runtime **{time.perf_counter() - t_start:,.0f} s**; load average at end "
              f"{load1[0]:.2f} (1 min) on {os.cpu_count()} CPUs.")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
