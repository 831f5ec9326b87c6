"""The ``registry`` console script."""

from typing import Annotated

import typer
from registry.auth.models import Role
from registry.auth.schemas import ApiKeyCreate
from registry.core.config import Settings
from registry.core.db import standalone_session

app = typer.Typer(help="Training-data provenance and licensing registry.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


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
    """Apply every migration, then add any missing built-in licence."""
    from registry.core import migrate
    from registry.licences.catalogue import seed_catalogue

    settings = Settings()
    settings.ensure_dirs()
    migrate.upgrade(settings.effective_database_url)
    with standalone_session(settings.effective_database_url) as session:
        added = seed_catalogue(session)
    typer.echo(f"database at head; {added} built-in licence(s) added")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from registry.core import migrate

    migrate.check(Settings().effective_database_url)
    typer.echo("no drift between models and migrations")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who the key is for")],
    role: Annotated[Role, typer.Option(help="Role of the key")] = Role.admin,
    holder_id: Annotated[str | None, typer.Option(help="Rights holder (rights_holder keys)")] = None,
) -> None:
    """Create an API key directly in the database (how the first admin key is made)."""
    from registry.auditlog.service import SYSTEM_ACTOR
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


if __name__ == "__main__":
    app()
