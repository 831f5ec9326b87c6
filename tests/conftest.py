"""Every test runs against SQLite and a real PostgreSQL 15, each schema built by the
Alembic migrations once per session and cloned per test, so tests are isolated."""

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
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


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        target = tmp_path / "registry.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    pg_server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    name = f"test_{os.getpid()}_{next(_db_counter)}"
    engine = _admin_engine(pg_server)
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    try:
        yield f"{pg_server}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


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

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        response = getattr(self, method)(path, **kw)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    def make_key(self, role: str, holder_id: str | None = None) -> "Api":
        body = self.ok("post", "/v1/keys", 201,
                       json={"name": f"test {role}", "role": role, "holder_id": holder_id})
        return Api(self.client, body["secret"])


@pytest.fixture
def admin(client: TestClient, cli) -> Api:  # type: ignore[no-untyped-def]
    result = cli("keys", "create", "--name", "first admin")
    assert result.exit_code == 0, result.output
    return Api(client, result.stdout.strip().splitlines()[-1])


@pytest.fixture
def curator(admin: Api) -> Api:
    return admin.make_key("curator")


@pytest.fixture
def auditor(admin: Api) -> Api:
    return admin.make_key("auditor")
