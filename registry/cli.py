"""The ``registry`` console script."""

import json
from pathlib import Path
from typing import Annotated

import typer

from registry.auth.models import Role
from registry.auth.schemas import ApiKeyCreate
from registry.core.config import Settings
from registry.core.db import standalone_session
from registry.exports.schemas import ExportFormat

app = typer.Typer(help="Training-data provenance and licensing registry.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
log_app = typer.Typer(help="Client-side checks of the audit log.", no_args_is_help=True)
signing_app = typer.Typer(help="The registry's signing keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="log")
index_app = typer.Typer(help="The fingerprint indexes (a cache of the database).", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(signing_app, name="signing-keys")
export_app = typer.Typer(help="Exports for auditors.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Bind address")] = None,
          port: Annotated[int | None, typer.Option(help="Port")] = None,
          workers: Annotated[int, typer.Option(help="Worker processes")] = 1) -> None:
    """Run the HTTP API (migrate first with `registry db upgrade`)."""
    import uvicorn

    settings = Settings()
    uvicorn.run("registry.main:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers, proxy_headers=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration, add missing built-in licences, create the first signing key."""
    from registry.auth.actor import SYSTEM_ACTOR
    from registry.core import migrate
    from registry.licences.catalogue import seed_catalogue
    from registry.signingkeys.service import ensure_active_key

    settings = Settings()
    settings.ensure_dirs()
    migrate.upgrade(settings.effective_database_url)
    with standalone_session(settings.effective_database_url) as session:
        added = seed_catalogue(session)
        new_key = ensure_active_key(session, settings, SYSTEM_ACTOR)
    typer.echo(f"database at head; {added} built-in licence(s) added"
               + ("; signing key created" if new_key else ""))


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from registry.core import migrate

    migrate.check(Settings().effective_database_url)
    typer.echo("no drift between models and migrations")


@index_app.command("rebuild")
def index_rebuild() -> None:
    """Rebuild the fingerprint indexes from the database and save them in the data
    directory (an interrupted rebuild is resumed by `registry index update`)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from registry.fingerprints.live import LiveIndex

    settings = Settings()
    with standalone_session(settings.effective_database_url) as session, Progress(
            TextColumn("fingerprint sets"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn()) as progress:
        task = progress.add_task("rebuild", total=None)
        index = LiveIndex.rebuild(settings.data_dir / "index", session,
                                  lambda done, total: progress.update(task, completed=done, total=total))
    typer.echo(f"index rebuilt: {len(index.known)} assets, {index.frames.ntotal} frame hashes")


@index_app.command("update")
def index_update() -> None:
    """Load the saved indexes, add what the database has beyond them, save again."""
    from registry.fingerprints.live import LiveIndex

    settings = Settings()
    with standalone_session(settings.effective_database_url) as session:
        index = LiveIndex.open(settings.data_dir / "index", session)
        index.save()
    typer.echo(f"index up to date: {len(index.known)} assets, {index.frames.ntotal} frame hashes")


@index_app.command("backfill")
def index_backfill() -> None:
    """Fingerprint assets that have no fingerprints yet, and again those stored in an older
    format (resumable). The indexes pick the new fingerprints up as they do new assets;
    `registry index rebuild` afterwards also drops the old ones from the snapshots."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from registry.assets.backfill import backfill

    settings = Settings()
    with standalone_session(settings.effective_database_url) as session, Progress(
            TextColumn("assets"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn()) as progress:
        task = progress.add_task("backfill", total=None)
        failures = backfill(session, settings,
                            lambda done, total: progress.update(task, completed=done, total=total))
    for asset_id, reason in failures.items():
        typer.echo(f"{asset_id}: {reason}", err=True)
    typer.echo(f"backfill done; {len(failures)} asset(s) could not be fingerprinted")
    if failures:
        raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who the key is for")],
    role: Annotated[Role, typer.Option(help="Role of the key")] = Role.admin,
    holder_id: Annotated[str | None, typer.Option(help="Rights holder (rights_holder keys)")] = None,
) -> None:
    """Create an API key directly in the database (how the first admin key is made)."""
    from registry.auth.actor import SYSTEM_ACTOR
    from registry.auth.service import create_key
    from registry.core.errors import RegistryError

    settings = Settings()
    try:
        with standalone_session(settings.effective_database_url) as session:
            issued = create_key(session, SYSTEM_ACTOR,
                                ApiKeyCreate(name=name, role=role, holder_id=holder_id))
    except RegistryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {issued.record.role} key {issued.record.id} for {name!r}", err=True)
    typer.echo("the key is shown once; store it now:", err=True)
    typer.echo(issued.secret)


@app.command()
def verify(
    manifest: Annotated[Path, typer.Argument(help="The manifest's DSSE envelope (JSON)")],
    key: Annotated[Path, typer.Option(help="registry-keys.json from /.well-known, or vkey lines")],
    asset_proof: Annotated[Path | None, typer.Option(help="Asset inclusion proof (JSON)")] = None,
) -> None:
    """Verify a signed manifest offline (and optionally one asset's inclusion in it)."""
    from registry.manifests.verify import ManifestInvalid, load_keys, verify_asset_proof, verify_manifest

    try:
        verified = verify_manifest(manifest.read_bytes(), load_keys(key.read_text()))
        source = verified.predicate["source"]
        typer.echo(f"OK: manifest of {source['name']} {source['version']} ({source['id']}), "
                   f"{len(verified.statement['subject'])} assets, root {verified.asset_root.hex()}, "
                   f"signed by key {verified.key_id} at {verified.predicate['issued_at']}")
        if asset_proof is not None:
            entry = verify_asset_proof(verified, json.loads(asset_proof.read_text()))
            typer.echo(f"OK: asset {entry['asset_id']} (sha256 {entry['sha256']}) is in the manifest")
    except (ManifestInvalid, ValueError, KeyError, OSError) as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("verify-report")
def verify_report_command(
    report: Annotated[Path, typer.Argument(help="A report fetched with format=dsse (JSON)")],
    key: Annotated[Path, typer.Option(help="registry-keys.json from /.well-known, or vkey lines")],
) -> None:
    """Verify a signed report (copyright evidence, clearance, compensation, training-content summary) offline."""
    from registry.manifests.verify import load_keys
    from registry.reports.signing import ReportInvalid, describe, verify_report

    try:
        document = verify_report(report.read_bytes(), load_keys(key.read_text()))
    except (ReportInvalid, ValueError, KeyError, OSError) as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"OK: signed by the registry: {describe(document)}")


@app.command("verify-log")
def verify_log_command() -> None:
    """Replay the database against the audit log; report every divergence."""
    from registry.verify_registry import verify_log

    settings = Settings()
    with standalone_session(settings.effective_database_url) as session:
        problems = verify_log(session, settings)
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{len(problems)} divergence(s) found", err=True)
        raise typer.Exit(1)
    typer.echo("log and database agree")


@log_app.command("consistency")
def log_consistency(
    key: Annotated[Path, typer.Option(help="registry-keys.json or vkey lines")],
    old: Annotated[Path, typer.Option(help="The checkpoint you remembered")],
    new: Annotated[Path, typer.Option(help="The newer checkpoint")],
    proof: Annotated[Path | None, typer.Option(help="Consistency proof JSON")] = None,
) -> None:
    """Check offline that a newer checkpoint extends a remembered one."""
    from registry.auditlog.client import LogVerificationError, check_consistency
    from registry.manifests.verify import load_keys

    try:
        before, after = check_consistency(old.read_text(), new.read_text(),
                                          json.loads(proof.read_text()) if proof else None,
                                          load_keys(key.read_text()))
    except (LogVerificationError, ValueError, KeyError, OSError) as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"OK: the log of {after.size} entries extends the remembered {before.size}")


@log_app.command("monitor")
def log_monitor(
    url: Annotated[str, typer.Option(help="Registry base URL")],
    key: Annotated[Path, typer.Option(help="registry-keys.json or vkey lines")],
    state: Annotated[Path, typer.Option(help="File holding the last checkpoint seen")],
) -> None:
    """Fetch the latest checkpoint and prove it consistent with the one remembered."""
    from registry.auditlog.client import LogVerificationError, monitor
    from registry.manifests.verify import load_keys

    try:
        typer.echo(monitor(url, load_keys(key.read_text()), state))
    except (LogVerificationError, ValueError, OSError) as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from None


@signing_app.command("rotate")
def signing_rotate() -> None:
    """Start signing with a new key; the current key's window closes now."""
    from registry.auth.actor import SYSTEM_ACTOR
    from registry.signingkeys.service import rotate

    settings = Settings()
    with standalone_session(settings.effective_database_url) as session:
        record = rotate(session, settings, SYSTEM_ACTOR)
    typer.echo(f"signing with key {record.id} from now on")


@export_app.command("audit")
def export_audit(
    since: Annotated[str, typer.Option(help="Start of the period, inclusive (ISO 8601 with a "
                                            "time zone, e.g. 2026-01-01T00:00:00Z)")],
    until: Annotated[str, typer.Option(help="End of the period, exclusive")],
    out: Annotated[Path, typer.Option(help="File to write (replaced when complete)",
                                      dir_okay=False, resolve_path=True)],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl, json or csv")] = ExportFormat.jsonl,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr (a line per 100,000 "
                                                "rows when off or not a terminal)")] = True,
) -> None:
    """Stream the audit export of a period (log entries, records, signed checkpoint) to a file,
    in bounded memory. Exit status 2 on a bad period."""
    from registry.core.errors import RegistryError
    from registry.exports.cli import export_to_file

    try:
        typer.echo(export_to_file(Settings(), since, until, fmt, out, progress))
    except RegistryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None


def _interchange(kind: str, record_id: str, base_url: str, out: Path) -> None:
    from registry.core.errors import RegistryError
    from registry.interchange.cli import export_document

    try:
        typer.echo(export_document(Settings(), kind, record_id, base_url, out))
    except RegistryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None


_BASE_URL = typer.Option(help="The URL the registry is served at (documents link to it)")
_OUT = typer.Option(help="File to write", dir_okay=False, resolve_path=True)


@export_app.command("croissant")
def export_croissant(source_id: str, base_url: Annotated[str, _BASE_URL],
                     out: Annotated[Path, _OUT]) -> None:
    """A source version as Croissant 1.1 JSON-LD (as GET /v1/sources/{id}/croissant)."""
    _interchange("croissant", source_id, base_url, out)


@export_app.command("dataset-card")
def export_dataset_card(source_id: str, base_url: Annotated[str, _BASE_URL],
                        out: Annotated[Path, _OUT]) -> None:
    """A source version as a Hugging Face dataset card (as GET /v1/sources/{id}/dataset-card)."""
    _interchange("dataset-card", source_id, base_url, out)


@export_app.command("spdx")
def export_spdx(model_id: str, base_url: Annotated[str, _BASE_URL],
                out: Annotated[Path, _OUT]) -> None:
    """A model as SPDX 3.0.1 JSON-LD (as GET /v1/models/{id}/spdx)."""
    _interchange("spdx", model_id, base_url, out)


@app.command("worker")
def worker_command(
    threads: Annotated[int, typer.Option(min=1, help="Worker threads")] = 1,
    drain: Annotated[bool, typer.Option(help="Work the jobs waiting now, then exit")] = False,
) -> None:
    """Work check jobs (POST /v1/check-jobs) in this process.

    Runs beside or instead of the API processes' own worker threads (REGISTRY_JOB_WORKERS).
    Ctrl-C or SIGTERM puts a job in progress back in the queue for another worker."""
    import signal
    import threading

    from sqlmodel import Session

    from registry.checkjobs.worker import Worker, WorkerPool
    from registry.core.blobstore import LocalBlobStore
    from registry.core.db import make_engine
    from registry.fingerprints.live import LiveIndex

    settings = Settings()
    settings.ensure_dirs()
    engine = make_engine(settings.effective_database_url)
    blobs = LocalBlobStore(settings.effective_blob_dir)
    try:
        with Session(engine) as session:
            index = LiveIndex.open(settings.data_dir / "index", session)
        if drain:
            done = Worker(engine, settings, blobs, index.caught_up).drain()
            typer.echo(f"{done} check job(s) worked")
            return
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        pool = WorkerPool(threads, engine, settings, blobs, index.caught_up)
        pool.start()
        typer.echo(f"working check jobs with {threads} thread(s); Ctrl-C stops", err=True)
        while not stopping.wait(1.0):
            pass
        pool.stop()
    finally:
        engine.dispose()


@app.command("check")
def check_command(
    path: Annotated[Path, typer.Argument(help="A generated image or clip", exists=True,
                                         dir_okay=False, resolve_path=True)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored check as JSON")] = False,
    key_name: Annotated[str | None, typer.Option(help="Who checks, logged as cli:NAME",
                                                 show_default="the OS user")] = None,
) -> None:
    """Check an image or clip for near-copies here, with a progress bar (no server needed).

    Runs against the registry's database and indexes; clips of any length up to the job
    limit. The check is stored and logged like one made with POST /v1/checks.
    Exit status 0 with a verdict, 2 when the file cannot be checked."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from registry.assets.ingest import cli_actor
    from registry.checkjobs.service import check_file, stage
    from registry.checks.schemas import CheckRead, found_by
    from registry.checks.service import record_check
    from registry.core.blobstore import LocalBlobStore
    from registry.core.errors import RegistryError
    from registry.fingerprints.live import LiveIndex

    settings = Settings()
    settings.ensure_dirs()
    blobs = LocalBlobStore(settings.effective_blob_dir)
    try:
        with (standalone_session(settings.effective_database_url) as session,
              path.open("rb") as stream,
              stage(blobs, settings, stream) as (sha256, info, _)):  # held until recorded
            live = LiveIndex.open(settings.data_dir / "index", session)
            with Progress(TextColumn(path.name), BarColumn(),
                          TextColumn("{task.completed:.1f}/{task.total:.1f} s"),
                          TimeRemainingColumn(), console=Console(stderr=True),
                          disable=as_json) as bar:
                task = bar.add_task("check", total=info.duration_s or 0.0)
                checked = check_file(session, live, blobs, settings, path.name,
                                     blobs.path(sha256), sha256, info.media_type,
                                     lambda _frames, seconds: bar.update(task, completed=seconds))
                bar.update(task, completed=checked.seconds)
            check = CheckRead.model_validate(
                record_check(session, cli_actor(key_name), checked.kind, [checked.item]))
    except RegistryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(check.model_dump_json(indent=2))
        return
    matches = check.items[0].matches
    typer.echo(f"{check.verdict.value}: {path.name} (check {check.id}, {len(matches)} match(es))")
    for m in matches:
        typer.echo(f"  {m.verdict.value} {m.asset_id} in {m.source_name} ({m.licence}), via {m.via}, "
                   f"score {m.score}; {found_by(m)}")
        for span in m.spans:
            typer.echo(f"    {span.query_start_s}-{span.query_end_s} s copies "
                       f"{span.reference_start_s}-{span.reference_end_s} s, speed {span.speed}"
                       + (", mirrored" if span.mirrored else ""))


@app.command("fingerprint")
def fingerprint_command(
    path: Annotated[Path, typer.Argument(help="An image or clip", exists=True, dir_okay=False,
                                         resolve_path=True)],
    output: Annotated[Path | None, typer.Option("--output", "-o", dir_okay=False,
                                                help="Write here", show_default="stdout")] = None,
    hashes_only: Annotated[bool, typer.Option(
        "--hashes-only", help="A clip: leave out the reframe search's part (its small grey "
        "frames among it); reframed copies are then not found")] = False,
) -> None:
    """Compute a file's query descriptor locally, as a check of the upload would (no server
    or database needed): send it to POST /v1/checks/fingerprints or /v1/lookups/fingerprints
    as {"descriptors": [...]} for the same verdict and matches without uploading the file.
    A clip's descriptor carries, for the reframe search, keypoints of a frame every half
    second (in a clip under half a minute, of up to four) and every frame in grey at 96 pixels
    (small pictures of the clip): leave them out with --hashes-only. Exit status 0, 2 when
    the file cannot be fingerprinted."""
    from registry.checks.service import describe
    from registry.core.errors import RegistryError
    from registry.fingerprints.clip_query import ClipDescriptors
    from registry.fingerprints.descriptors import to_json
    from registry.fingerprints.records import reframe_part

    try:
        _, descriptor = describe(path, Settings())
        if isinstance(descriptor, ClipDescriptors):
            descriptor = (ClipDescriptors(descriptor.fingerprint) if hashes_only
                          else ClipDescriptors(descriptor.fingerprint,
                                               reframe_part(descriptor, complete=True)))
    except RegistryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    text = json.dumps(to_json(descriptor, path.name), separators=(",", ":")) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


@app.command("ingest")
def ingest_command(
    path: Annotated[Path, typer.Argument(help="File or folder (walked recursively, hidden files "
                                              "skipped)", exists=True, resolve_path=True)],
    source: Annotated[str, typer.Option(help="Source the files are registered into")],
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes",
                                                show_default="one per CPU")] = None,
    holder_id: Annotated[str | None, typer.Option(help="Rights holder, when not the source's")] = None,
    licence_id: Annotated[str | None, typer.Option(help="Licence, when not the source's")] = None,
    key_name: Annotated[str | None, typer.Option(help="Who ingests, logged as cli:NAME",
                                                 show_default="the OS user")] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr (a line per 100 files "
                                                "when off or not a terminal)")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Register every file under PATH into a source, in parallel; re-runs skip what is there.

    Exit status: 0 all done, 1 some files failed, 2 bad source or options, 130 interrupted
    (Ctrl-C lets running files finish; a second Ctrl-C rolls them back).
    """
    import os

    from rich.console import Console

    from registry.assets.ingest import cli_actor, ingest, print_summary
    from registry.core.errors import RegistryError

    settings = Settings()
    try:
        summary = ingest(path, source, settings, cli_actor(key_name),
                         workers=workers or os.cpu_count() or 1, holder_id=holder_id,
                         licence_id=licence_id, progress=progress)
    except RegistryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        print_summary(summary, Console())
    raise typer.Exit(summary.exit_code)


if __name__ == "__main__":
    app()
