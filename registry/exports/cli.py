"""``registry export audit``: the same stream as the HTTP export, written to a file."""

import os
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from registry.core.config import Settings
from registry.core.db import standalone_session
from registry.core.errors import InvalidInput
from registry.exports.schemas import ExportFormat
from registry.exports.service import count_rows, export_bytes, plan_export

LOG_EVERY = 100_000  # rows per progress line when there is no progress bar
_INSTANT = TypeAdapter(AwareDatetime)  # the parser the HTTP query parameters use


def parse_instant(name: str, value: str) -> datetime:
    try:
        return _INSTANT.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise InvalidInput(f"--{name}: {reason} (ISO 8601 with a time zone, "
                           "e.g. 2026-01-01T00:00:00Z)") from None


def export_to_file(settings: Settings, since: str, until: str, fmt: ExportFormat, out: Path,
                   progress: bool = True) -> str:
    """Write the export to ``out`` (via ``out.part``, renamed when complete); returns a summary."""
    start, end = parse_instant("since", since), parse_instant("until", until)
    console = Console(stderr=True)
    counts: Counter[str] = Counter()
    partial = out.with_name(out.name + ".part")
    started = time.monotonic()
    try:
        with standalone_session(settings.effective_database_url) as session:
            plan = plan_export(session, settings, start, end)
            bar = progress and console.is_terminal
            with open(partial, "wb") as fh, Progress(
                    TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, transient=True, disable=not bar) as shown:
                # Counting costs a query per record type: only for a bar that shows the total.
                task = shown.add_task("export", total=count_rows(session, plan) if bar else None)

                def advance(section: str, rows: int) -> None:
                    before = counts.total()
                    counts[section] += rows
                    if bar:
                        shown.update(task, advance=rows)
                    elif before // LOG_EVERY != counts.total() // LOG_EVERY:
                        console.print(f"{counts['entry']} entries, {counts['record']} records, "
                                      f"{time.monotonic() - started:.0f} s", highlight=False)

                for chunk in export_bytes(session, plan, fmt, advance):
                    fh.write(chunk)
    except BaseException:
        partial.unlink(missing_ok=True)  # never leave a file that looks complete
        raise
    os.replace(partial, out)
    return (f"{counts['entry']} log entries and {counts['record']} records from "
            f"{plan.since.isoformat()} to {plan.until.isoformat()} written to {out} "
            f"(checkpoint at tree size {plan.tree_size}) in {time.monotonic() - started:.1f} s")
