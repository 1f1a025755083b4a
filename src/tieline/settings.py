"""Every setting tieline reads, in one typed object, read once at start-up.

- `TIELINE_DATA_DIR` (default `./var`): where the embedded database and the
  import runs live.
- `TIELINE_DATABASE_URL` (default `sqlite:///<data dir>/tieline.db`): any
  SQLAlchemy URL; `postgresql://...` for PostgreSQL.
- `TIELINE_LOG_LEVEL` (default `INFO`): the lowest level written to the log.
- `TIELINE_LOG_FORMAT` (default `console`): `console` for people, `json` for
  log shippers.
- `TIELINE_HOST`, `TIELINE_PORT` (default `127.0.0.1`, `8080`): where
  `tieline serve` listens.
- `TIELINE_RELAY_INTERVAL` (default `0.5`): seconds the outbox relay sleeps
  when it finds nothing to relay.
- `TIELINE_BUS_URL` (default unset): the bus. Unset, the SQL event log in the
  database is the bus (no broker). `nats://host:4222` (or a comma-separated
  list of a cluster's servers) uses NATS JetStream, which must have JetStream
  enabled (`nats-server -js`).
- `TIELINE_BUS_NAMESPACE` (default empty): a prefix for NATS subjects and
  streams, so that several tieline installations can share one NATS.
- `TIELINE_BUS_ACK_WAIT` (default `30`): seconds before an event a worker took
  but did not acknowledge (it died, say) is served again; on the SQL event log
  the same value is a worker's lease on a consumer.
- `TIELINE_WORKER_LANES` (default `8`): events of different records a worker
  handles in parallel.

A `postgres://` or `postgresql://` URL is taken to mean psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """tieline's settings; build one with `Settings()` and pass it down."""

    model_config = SettingsConfigDict(env_prefix="TIELINE_", frozen=True)

    data_dir: Path = Path("var")
    database_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    relay_interval: float = Field(default=0.5, gt=0)
    bus_url: str | None = None
    bus_namespace: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    bus_ack_wait: float = Field(default=30.0, gt=0)
    worker_lanes: int = Field(default=8, ge=1, le=256)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force, the embedded SQLite file unless set."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'tieline.db').resolve()}"

    @property
    def runs_dir(self) -> Path:
        """Folder that holds one sub-folder per import run."""
        return self.data_dir / "runs"


def normalise_database_url(url: str) -> str:
    """Point bare PostgreSQL URLs at psycopg 3, the driver tieline ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
