"""Alembic's environment: migrate the engine handed over by `upgrade_to_head`."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Engine

from tieline.settings import normalise_database_url
from tieline.store._engine import create_store_engine
from tieline.store._schema import metadata


def _engine() -> Engine:
    given = context.config.attributes.get("engine")
    if isinstance(given, Engine):
        return given
    url = os.environ.get("TIELINE_DATABASE_URL")
    if not url:
        raise RuntimeError("set TIELINE_DATABASE_URL to run Alembic by hand")
    return create_store_engine(normalise_database_url(url))


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
