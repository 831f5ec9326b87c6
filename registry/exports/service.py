"""Audit export: the log entries recorded in a period and the current state of every record
they touched, streamed so that memory stays bounded however large the registry is.

Rows are read a page at a time: PostgreSQL streams one query through a server-side cursor;
SQLite reads keyset pages by primary key (short reads, so a long export does not hold the
WAL open against writers). Each page is encoded and handed on before the next is read.

The period is half-open, ``since <= recorded_at < until``, so consecutive periods never
overlap. Only entries below the checkpoint taken at the start are exported, so the trailer's
signed checkpoint covers every exported entry even while the registry keeps writing.
"""

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.engine import Row
from sqlmodel import Session

from registry.audited import AUDITED
from registry.auditlog import tree
from registry.auditlog.models import LogEntry
from registry.core.config import Settings
from registry.core.errors import InvalidInput
from registry.exports.schemas import CSV_COLUMNS, ExportFormat
from registry.unit_of_work import record_views

log = logging.getLogger("registry.exports")

PAGE = 1000  # rows per read and per chunk written
ProgressHook = Callable[[str, int], None]  # (section, rows just written)


@dataclass(frozen=True)
class ExportPlan:
    since: datetime
    until: datetime
    tree_size: int
    root: str
    checkpoint: str


def period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """Both ends as UTC; 422 unless ``since <= until`` (an empty period is allowed)."""
    try:
        since, until = since.astimezone(UTC), until.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput("since and until must be representable in UTC") from None
    if since > until:
        raise InvalidInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    return since, until


def plan_export(session: Session, settings: Settings, since: datetime,
                until: datetime) -> ExportPlan:
    """Validate and fix what the export covers (may sign a checkpoint); runs before any byte."""
    since, until = period(since, until)
    checkpoint = tree.latest_checkpoint(session, settings)
    return ExportPlan(since, until, checkpoint.size, tree.b64(checkpoint.root), checkpoint.note)


# --- reading -----------------------------------------------------------------------------


def _pages(session: Session, stmt: Any, key: Any, key_of: Callable[[Row], Any]) -> Iterator[Sequence[Row]]:
    """``stmt`` ordered by ``key``, a page at a time, without holding all rows."""
    if session.get_bind().dialect.name == "postgresql":
        result = session.execute(stmt.order_by(key).execution_options(yield_per=PAGE))
        try:
            yield from result.partitions()
        finally:
            result.close()
        return
    last = None
    while True:
        page_stmt = stmt if last is None else stmt.where(key > last)
        rows = session.execute(page_stmt.order_by(key).limit(PAGE)).all()
        if not rows:
            return
        yield rows
        last = key_of(rows[-1])


def _in_plan(plan: ExportPlan) -> list[Any]:
    return [LogEntry.idx < plan.tree_size, LogEntry.recorded_at >= plan.since,
            LogEntry.recorded_at < plan.until]


def entry_pages(session: Session, plan: ExportPlan) -> Iterator[list[dict[str, Any]]]:
    stmt = select(LogEntry.idx, LogEntry.recorded_at, LogEntry.actor, LogEntry.action,
                  LogEntry.entity_type, LogEntry.entity_id, LogEntry.leaf_hash,
                  LogEntry.payload).where(*_in_plan(plan))
    for rows in _pages(session, stmt, LogEntry.idx, lambda row: row.idx):
        yield [{"section": "entry", "idx": r.idx, "recorded_at": r.recorded_at.isoformat(),
                "actor": r.actor, "action": r.action, "entity_type": r.entity_type,
                "entity_id": r.entity_id, "leaf_hash": bytes(r.leaf_hash).hex(),
                "payload": bytes(r.payload).decode()} for r in rows]


def record_pages(session: Session, plan: ExportPlan,
                 entity_type: str) -> Iterator[list[dict[str, Any]]]:
    """Records of one audited type with an exported entry, as ``record_views`` shows them,
    each with its latest log entry (the one its state should equal): a fixed number of
    queries per page."""
    model: Any = AUDITED[entity_type].model
    of_record = [LogEntry.entity_type == entity_type, LogEntry.entity_id == model.id]
    changed = exists().where(*of_record, *_in_plan(plan))
    latest = select(func.max(LogEntry.idx)).where(*of_record).scalar_subquery()
    stmt = select(model, latest.label("last_idx")).where(changed)
    for rows in _pages(session, stmt, model.id, lambda row: row[0].id):
        last = {r.idx: r for r in session.execute(
            select(LogEntry.idx, LogEntry.recorded_at, LogEntry.actor, LogEntry.action,
                   LogEntry.leaf_hash).where(LogEntry.idx.in_([row.last_idx for row in rows])))}
        views = record_views(session, entity_type, [entity for entity, _ in rows])
        page = []
        for (entity, last_idx), view in zip(rows, views, strict=True):
            entry = last[last_idx]
            page.append({"section": "record", "entity_type": entity_type,
                         "entity_id": str(entity.id), "idx": last_idx,
                         "recorded_at": entry.recorded_at.isoformat(), "actor": entry.actor,
                         "action": entry.action, "leaf_hash": bytes(entry.leaf_hash).hex(),
                         "data": view})
        yield page


def count_rows(session: Session, plan: ExportPlan) -> int:
    """Rows an export will write (for progress bars): one pass over the period's entries
    and one semi-join per audited type."""
    total = session.execute(select(func.count()).select_from(LogEntry)
                            .where(*_in_plan(plan))).scalar_one()
    for entity_type, spec in AUDITED.items():
        model: Any = spec.model
        changed = exists().where(LogEntry.entity_type == entity_type,
                                 LogEntry.entity_id == model.id, *_in_plan(plan))
        total += session.execute(select(func.count()).select_from(model).where(changed)).scalar_one()
    return total


# --- writing -----------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _csv(rows: list[dict[str, Any]], header: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF line ends, quotes doubled
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = row.get("payload") if row["section"] == "entry" else _json(row["data"])
        writer.writerow([row.get(column, "") if column != "data" else data
                         for column in CSV_COLUMNS])
    return out.getvalue().encode()


def export_bytes(session: Session, plan: ExportPlan, fmt: ExportFormat,
                 on_rows: ProgressHook | None = None) -> Iterator[bytes]:
    """The whole export as chunks of bytes: entries, then records by type, then the trailer."""
    counts: Counter[str] = Counter()
    bounds = {"since": plan.since.isoformat(), "until": plan.until.isoformat()}
    if fmt is ExportFormat.csv:
        yield _csv([], header=True)
    elif fmt is ExportFormat.json:
        yield (_json(bounds)[:-1] + ',"entries":[').encode()

    def encode(rows: list[dict[str, Any]], first: bool) -> bytes:
        if fmt is ExportFormat.csv:
            return _csv(rows)
        if fmt is ExportFormat.jsonl:
            return "".join(_json(r) + "\n" for r in rows).encode()
        return (("" if first else ",") + ",".join(_json(r) for r in rows)).encode()

    def section(pages: Iterator[list[dict[str, Any]]], name: str) -> Iterator[bytes]:
        # Each JSON array ("entries", "records") starts without a comma.
        for rows in pages:
            first = counts[name] == 0
            counts[name] += len(rows)
            yield encode(rows, first)
            if on_rows:
                on_rows(name, len(rows))

    yield from section(entry_pages(session, plan), "entry")
    if fmt is ExportFormat.json:
        yield b'],"records":['
    by_type: dict[str, int] = {}
    for entity_type in sorted(AUDITED):
        before = counts["record"]
        yield from section(record_pages(session, plan, entity_type), "record")
        if counts["record"] > before:
            by_type[entity_type] = counts["record"] - before
    trailer = {"section": "trailer", **bounds, "entries": counts["entry"],
               "records": counts["record"], "records_by_type": by_type,
               "tree_size": plan.tree_size, "root": plan.root, "checkpoint": plan.checkpoint}
    if fmt is ExportFormat.csv:
        yield _csv([{"section": "trailer", "idx": plan.tree_size, "data": trailer}])
    elif fmt is ExportFormat.jsonl:
        yield (_json(trailer) + "\n").encode()
    else:
        yield ('],"trailer":' + _json(trailer) + "}\n").encode()


def stream_export(engine: Engine, plan: ExportPlan, fmt: ExportFormat) -> Iterator[bytes]:
    """For a streamed HTTP response: runs after the request's own session is gone, so it
    opens (and always closes) a session of its own."""
    with Session(engine) as session:
        try:
            yield from export_bytes(session, plan, fmt)
        except Exception:
            # Headers are sent: the client sees a stream without a trailer, i.e. incomplete.
            log.exception("audit export %s..%s failed mid-stream", plan.since, plan.until)
            raise
