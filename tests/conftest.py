"""Fixtures shared by every test: databases (SQLite file, PostgreSQL) and ../shared."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# CI runs the property tests on a fixed sequence of examples (reproducible verdicts); developers'
# runs stay random and keep exploring. Found counterexamples go into the tests as explicit cases.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CHECKPOINT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def shared_path() -> Path:
    return Path(os.environ.get("CHECKPOINT_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture
def shared_dir() -> Path:
    path = shared_path()
    if not (path / "datasets").is_dir():
        pytest.skip(f"../shared is absent ({path}): the shared datasets and peer model are needed")
    return path


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'checkpoint.db'}"


def _pg_connect(dbname: str | None = None):
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(PG_ADMIN_URL)
    if dbname:
        params["dbname"] = dbname
    return psycopg.connect(make_conninfo(**params), autocommit=True, connect_timeout=3)


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    try:
        admin = _pg_connect()
    except Exception as exc:  # psycopg missing or no server
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN_URL} ({type(exc).__name__}: {str(exc)[:80]})")
    name = f"checkpoint_t_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(PG_ADMIN_URL)
    host, port, user = params.get("host", "127.0.0.1"), params.get("port", "5432"), params.get("user", "postgres")
    yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    with _pg_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """The test runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'checkpoint.db'}"
    return request.getfixturevalue("pg_url")


def pytest_collection_modifyitems(items):
    """Every test that reaches PostgreSQL carries the `postgres` marker (-m postgres / -m 'not postgres')."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
