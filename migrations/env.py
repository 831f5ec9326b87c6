"""Alembic environment: the registry's models are the target metadata."""

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

from registry.core.config import Settings
from registry.core.db import make_engine
from registry.models import import_all_models

config = context.config
if config.config_file_name and not config.attributes.get("configured_by_registry"):
    fileConfig(config.config_file_name)

import_all_models()
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or Settings().effective_database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = make_engine(url)
    with engine.connect() as connection:
        # SQLite cannot ALTER most things in place: batch mode rebuilds tables instead.
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
