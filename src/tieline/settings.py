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

Governance and the API:

- `TIELINE_SECRETS_DIR` (default `<data dir>/secrets`): a folder of secret
  files, one per secret, named after it (as container platforms mount them).
  Any secret `name` may instead come from `TIELINE_<NAME>` or from the file
  named by `TIELINE_<NAME>_FILE`. Secrets read: `audit_key` (the audit
  chain's HMAC key) and `token_signing_key` (signs the API's access tokens);
  when neither is given, the embedded default makes a random one in the
  secrets folder on first use.
- `TIELINE_AUDIT_HEAD_FILE` (default `<data dir>/audit-head.json`): the
  audit log's anchor, which catches removed newest entries; keep it where the
  database's users cannot write.
- `TIELINE_TOKEN_TTL` (default `600`): seconds an access token from
  `/oauth/token` lives.
- `TIELINE_OIDC_ISSUER`, `TIELINE_OIDC_AUDIENCE`, `TIELINE_OIDC_JWKS`
  (unset by default): the customer's identity provider for people's tokens;
  the JWKS is a file path or an https URL. Unset: people cannot sign in.
- `TIELINE_RATE_LIMIT` (default `600`): requests per minute per identity (or
  client address, before sign-in) and route, with bursts of a tenth of that.
- `TIELINE_AUTH_FAILURE_LIMIT` (default `30`): failed sign-ins per minute
  per client address (bursts of 10) before the API answers 429 to it.
- `TIELINE_MAX_REQUEST_BYTES` (default `1048576`): the largest request body.
- `TIELINE_TLS_CERT_FILE`, `TIELINE_TLS_KEY_FILE` (unset by default): serve
  HTTPS with this certificate and key (the key may be in the certificate's
  file); each must be a readable file, checked at start-up.

A `postgres://` or `postgresql://` URL is taken to mean psycopg 3.
"""

from __future__ import annotations

import os
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
    secrets_dir: Path | None = None
    audit_head_file: Path | None = None
    token_ttl: int = Field(default=600, ge=30, le=3600)
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks: str | None = None
    rate_limit: int = Field(default=600, ge=1)
    auth_failure_limit: int = Field(default=30, ge=1)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

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
    def resolved_secrets_dir(self) -> Path:
        """Folder of secret files."""
        return self.secrets_dir or self.data_dir / "secrets"

    @property
    def resolved_audit_head_file(self) -> Path:
        """Where the audit log's anchor is kept."""
        return self.audit_head_file or self.data_dir / "audit-head.json"

    @property
    def runs_dir(self) -> Path:
        """Folder that holds one sub-folder per import run."""
        return self.data_dir / "runs"


def tls_problem(settings: Settings) -> str | None:
    """What is wrong with the TLS files, naming the setting and the file; None if fine.

    Checked at start-up because the TLS library's own error ("No such file or
    directory") does not say which file it wanted.
    """
    if settings.tls_key_file is not None and settings.tls_cert_file is None:
        return "TIELINE_TLS_KEY_FILE is set without TIELINE_TLS_CERT_FILE"
    for name, path in (
        ("TIELINE_TLS_CERT_FILE", settings.tls_cert_file),
        ("TIELINE_TLS_KEY_FILE", settings.tls_key_file),
    ):
        if path is not None and not (path.is_file() and os.access(path, os.R_OK)):
            return f"setting {name}: {path} does not exist or is not a readable file"
    return None


def normalise_database_url(url: str) -> str:
    """Point bare PostgreSQL URLs at psycopg 3, the driver tieline ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
