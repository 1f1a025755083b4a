"""Alembic migrations, run from code: `tieline init` and `Store.migrate()`.

The scripts live beside this file. For a new migration, from the repository
root: `alembic -c src/tieline/store/migrations/alembic.ini revision -m "..."`
with `TIELINE_DATABASE_URL` set to a scratch database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

HERE = Path(__file__).parent


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config whose scripts are this package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration the database has not seen yet."""
    command.upgrade(alembic_config(engine), "head")
