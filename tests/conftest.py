"""Shared fixtures: a store on SQLite and, where a server answers, PostgreSQL.

`store` is parametrised over both back-ends, so every test that takes it runs
on each (the PostgreSQL case carries the `postgres` marker). Where no
PostgreSQL answers, that case skips with a message, except under CI (`CI` set),
where a missing server is a failure, not a skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tieline.settings import Settings, normalise_database_url
from tieline.store import Store
from tieline.store._schema import metadata

POSTGRES_URL = os.environ.get(
    "TIELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NATS_URL = os.environ.get("TIELINE_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = bool(os.environ.get("CI"))
SHARED_DATA = Path(
    os.environ.get(
        "TIELINE_SHARED_DATA",
        Path(__file__).resolve().parents[2] / "shared" / "data",
    )
)


def unavailable(what: str, why: str) -> None:
    """Skip for a missing server or data set; in CI, fail instead."""
    message = f"{what} is not available ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI must have it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared public data folder, or a skip with the reason."""
    if not SHARED_DATA.is_dir():
        unavailable("the shared data folder", f"{SHARED_DATA} does not exist")
    return SHARED_DATA


@pytest.fixture(scope="session")
def nats_url() -> str:
    """The NATS JetStream server's URL, or a skip (a failure under CI)."""
    parsed = urlparse(NATS_URL)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 4222), 2).close()
    except OSError as err:
        unavailable("NATS", f"{NATS_URL}: {err.__class__.__name__}")
    return NATS_URL


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    admin_url = normalise_database_url(POSTGRES_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"tieline_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:  # any failure here means "no server"
        admin.dispose()
        unavailable(
            "PostgreSQL", f"{make_url(admin_url).host}: {err.__class__.__name__}"
        )
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrated = Store(url)
    migrated.migrate()
    migrated.close()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_tables(store: Store) -> None:
    with store.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each back-end."""
    if request.param == "sqlite":
        opened = Store(f"sqlite:///{tmp_path / 'tieline.db'}")
        opened.migrate()
    else:
        opened = Store(request.getfixturevalue("postgres_database"))
        _empty_tables(opened)
    yield opened
    opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a private data directory (embedded SQLite)."""
    return Settings(data_dir=tmp_path / "var")
