"""Every test runs against SQLite and a real PostgreSQL 15, each schema built by the
Alembic migrations once per session and cloned per test, so tests are isolated. A world a
module's tests share (tests/worlds.py, ``seeded``) is built the same way: once per module
and backend into a template (database and data directory), cloned for each test."""

import contextlib
import itertools
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from registry.cli import app as cli_app
from registry.core.config import Settings
from registry.main import create_app
from tests.pg import TempCluster

BACKENDS = ["sqlite", "postgresql"]
TEST_PASSPHRASE = "test-passphrase-not-for-production"
_db_counter = itertools.count()


def _migrate_and_seed(url: str, data_dir: Path) -> None:
    result = CliRunner().invoke(cli_app, ["db", "upgrade"], env=_env(url, data_dir))
    assert result.exit_code == 0, result.output


def _env(url: str, data_dir: Path) -> dict[str, str]:
    return {"REGISTRY_DATABASE_URL": url, "REGISTRY_DATA_DIR": str(data_dir),
            "REGISTRY_ENVIRONMENT": "test", "REGISTRY_KEY_PASSPHRASE": TEST_PASSPHRASE}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    if not TempCluster.available():
        if os.environ.get("REGISTRY_REQUIRE_POSTGRES") == "1":
            pytest.fail("REGISTRY_REQUIRE_POSTGRES=1 but initdb/pg_ctl are not on PATH")
        pytest.skip("PostgreSQL server binaries not installed")
    cluster = TempCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _admin_engine(pg_server: str) -> sa.Engine:
    return sa.create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    engine = _admin_engine(pg_server)
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE registry_template"))
    engine.dispose()
    _migrate_and_seed(f"{pg_server}/registry_template", tmp_path_factory.mktemp("pgtpl"))
    return "registry_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlitetpl")
    _migrate_and_seed(f"sqlite:///{folder / 'registry.db'}", folder)
    return folder / "registry.db"


def _create_database(pg_server: str, template: str, prefix: str = "test") -> str:
    name = f"{prefix}_{os.getpid()}_{next(_db_counter)}"
    engine = _admin_engine(pg_server)
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    engine.dispose()
    return name


def _drop_database(pg_server: str, name: str) -> None:
    engine = _admin_engine(pg_server)
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    engine.dispose()


def _first_admin_key(database_url: str, data_dir: Path) -> str:
    result = CliRunner().invoke(cli_app, ["keys", "create", "--name", "first admin"],
                                env=_env(database_url, data_dir))
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


@dataclass
class WorldTemplate:
    """A seeded world (tests/worlds.py) built once for a module and backend: its database
    (an SQLite file, or a PostgreSQL database to use as TEMPLATE), its data directory
    (blobs, index segments: what the app keeps outside the database), the admin key that
    built it and the records it returned."""

    folder: Path
    database: str
    pg_server: str | None = None
    admin_key: str = ""
    records: dict = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def remove(self) -> None:
        if self.pg_server:
            _drop_database(self.pg_server, self.database)
        shutil.rmtree(self.folder, ignore_errors=True)


WORLD = pytest.StashKey[WorldTemplate]()


@pytest.fixture(scope="module")
def world_templates() -> Iterator[dict[tuple[Callable, str], WorldTemplate]]:
    """The worlds seeded for this module's tests, by builder and backend."""
    templates: dict[tuple[Callable, str], WorldTemplate] = {}
    yield templates
    for template in templates.values():
        template.remove()


def _seed_world(request: pytest.FixtureRequest, build: Callable, backend: str) -> WorldTemplate:
    folder = request.getfixturevalue("tmp_path_factory").mktemp(f"world-{backend}")
    if backend == "sqlite":
        template = WorldTemplate(folder, str(folder / "registry.db"))
        shutil.copyfile(request.getfixturevalue("sqlite_template"), template.database)
        url = f"sqlite:///{template.database}"
    else:
        pg_server = request.getfixturevalue("pg_server")
        template = WorldTemplate(folder, _create_database(
            pg_server, request.getfixturevalue("pg_template"), "world"), pg_server)
        url = f"{pg_server}/{template.database}"
    try:
        settings = Settings(environment="test", data_dir=template.data_dir, database_url=url,
                            key_passphrase=TEST_PASSPHRASE)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            template.admin_key = _first_admin_key(url, template.data_dir)
            template.records = build(Api(client, template.admin_key), folder)
        # The app has stopped: its index is saved and its connections closed, so nothing
        # is left in an SQLite WAL file, and the PostgreSQL database may serve as a template.
        if backend == "sqlite":
            with contextlib.closing(sqlite3.connect(template.database)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        template.remove()
        raise
    return template


def _seeded_world(request: pytest.FixtureRequest) -> WorldTemplate | None:
    """The template of the seeded world the test asks for, built on first use in its module."""
    builds = {getattr(getattr(request.module, name, None), "seeded_world", None)
              for name in request.fixturenames} - {None}
    if not builds:
        return None
    assert len(builds) == 1, f"a test runs in one seeded world, not {len(builds)}"
    templates = request.getfixturevalue("world_templates")
    key = (builds.pop(), request.param)
    if key not in templates:
        templates[key] = _seed_world(request, *key)
    return templates[key]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a clone of the migrated template or, for a test in a seeded world,
    of that world's template (with a copy of its data directory)."""
    world = _seeded_world(request)
    if world is not None:
        request.node.stash[WORLD] = world
        shutil.copytree(world.data_dir, tmp_path / "data")
    if request.param == "sqlite":
        target = tmp_path / "registry.db"
        shutil.copyfile(world.database if world else request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    pg_server = request.getfixturevalue("pg_server")
    name = _create_database(pg_server, world.database if world else request.getfixturevalue("pg_template"))
    try:
        yield f"{pg_server}/{name}"
    finally:
        _drop_database(pg_server, name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(environment="test", data_dir=tmp_path / "data", database_url=database_url,
                    key_passphrase=TEST_PASSPHRASE)


@pytest.fixture
def cli(settings: Settings):  # type: ignore[no-untyped-def]
    """Runs the ``registry`` console script against this test's database."""
    def run(*args: str) -> Any:
        return CliRunner().invoke(cli_app, list(args),
                                  env=_env(settings.effective_database_url, settings.data_dir))
    return run


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class Api:
    """A client speaking with one API key."""

    client: TestClient
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.client.patch(path, headers=self.headers, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.client.put(path, headers=self.headers, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        response = getattr(self, method)(path, **kw)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    def make_key(self, role: str, holder_id: str | None = None) -> "Api":
        body = self.ok("post", "/v1/keys", 201,
                       json={"name": f"test {role}", "role": role, "holder_id": holder_id})
        return Api(self.client, body["secret"])


@pytest.fixture
def admin(request: pytest.FixtureRequest, client: TestClient, settings: Settings) -> Api:
    if WORLD in request.node.stash:  # the key that built the world: the clone holds it
        return Api(client, request.node.stash[WORLD].admin_key)
    return Api(client, _first_admin_key(settings.effective_database_url, settings.data_dir))


@pytest.fixture
def curator(admin: Api) -> Api:
    return admin.make_key("curator")


@pytest.fixture
def auditor(admin: Api) -> Api:
    return admin.make_key("auditor")
