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

Odoo (unset by default: then nothing is sent to or read from an ERP, and
`tieline serve` says so at start):

- `TIELINE_ODOO_URL`, `TIELINE_ODOO_DB`, `TIELINE_ODOO_LOGIN` (or
  `TIELINE_ODOO_USER`): the Odoo database tieline works with and the
  integration user it logs in as. Set all three or none.
- The user's secret is a secret (see above), never a setting:
  `odoo_api_key` (`TIELINE_ODOO_API_KEY`, `TIELINE_ODOO_API_KEY_FILE` or a
  file `odoo_api_key` in the secrets folder; needed from Odoo 19), else
  `odoo_password` (the same three ways; up to Odoo 18).
- `TIELINE_ODOO_INSTANCE` (default `main`): the name tieline files this
  Odoo's bindings under. Changing it makes tieline treat the database as a
  new one (it finds its records again by their external ids).
- `TIELINE_ODOO_COMPANIES` (default unset): which Odoo company each legal
  entity books in, as `CODE=company` pairs separated by commas, the company
  given by its id or its exact name (`ACME-US=1,ACME-UK=Acme Build UK Ltd`).
  A legal entity not listed books in the Odoo company of exactly its name,
  when there is one.
- `TIELINE_ODOO_PULL_INTERVAL` (default `300`): seconds between pulls of
  the records changed in Odoo.
- `TIELINE_ODOO_PAYMENT_INTERVAL` (default `900`): seconds between reads of
  the payment state of the bills tieline posted.
- `TIELINE_ODOO_WEBHOOK_DELAY` (default `2`): seconds to wait after one of
  Odoo's webhook notifications before reading the record (Odoo sends it
  before it commits).
- `TIELINE_ODOO_CALLS_PER_SECOND` (default `20`), `TIELINE_ODOO_MAX_IN_FLIGHT`
  (default `4`), `TIELINE_ODOO_TIMEOUT` (default `60`): how hard tieline may
  press the customer's Odoo, and how long one call may take.
- `TIELINE_ODOO_IN_DOUBT_WINDOW` (default `150`): seconds during which a
  create that got no answer (a timeout, a lost connection) may still commit
  in Odoo; until they have passed, a retry that does not find the record
  waits instead of creating a second one. Odoo runs a request for up to its
  `limit_time_real` (120 s by default): keep this above that, plus a margin.
- The secret `odoo_webhook_token` (`TIELINE_ODOO_WEBHOOK_TOKEN`, ...; made
  at random in the secrets folder when not given): the token in the URL
  Odoo's "Send Webhook Notification" posts to (`tieline odoo webhook-url`).

Workflows:

- `TIELINE_SLA_SWEEP_INTERVAL` (default `60`): seconds between sweeps of
  the SLA timers, when a workflow policy (`<data dir>/workflows.toml`) is in
  place.

A `postgres://` or `postgresql://` URL is taken to mean psycopg 3.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
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
    odoo_url: str | None = None
    odoo_db: str | None = None
    odoo_login: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "odoo_login", "TIELINE_ODOO_LOGIN", "TIELINE_ODOO_USER"
        ),
    )
    odoo_instance: str = Field(default="main", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    odoo_companies: str | None = None
    odoo_pull_interval: float = Field(default=300.0, gt=0)
    odoo_payment_interval: float = Field(default=900.0, gt=0)
    odoo_webhook_delay: float = Field(default=2.0, ge=0)
    odoo_calls_per_second: float = Field(default=20.0, gt=0)
    odoo_max_in_flight: int = Field(default=4, ge=1, le=64)
    odoo_timeout: float = Field(default=60.0, gt=0)
    odoo_in_doubt_window: float = Field(default=150.0, gt=0)
    sla_sweep_interval: float = Field(default=60.0, gt=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("odoo_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            msg = "must be Odoo's web address, http://host or https://host"
            raise ValueError(msg)
        return value.rstrip("/") if value else value

    @field_validator("odoo_companies")
    @classmethod
    def _company_pairs(cls, value: str | None) -> str | None:
        if value is not None:
            parse_company_map(value)
        return value

    @property
    def odoo_configured(self) -> bool:
        """Whether any Odoo connection setting is given."""
        return any((self.odoo_url, self.odoo_db, self.odoo_login))

    @property
    def odoo_company_map(self) -> dict[str, int | str]:
        """Legal entity code -> Odoo company id or name, from the settings."""
        return parse_company_map(self.odoo_companies or "")

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


def env_name(field: str) -> str:
    """The environment variable that sets a field of `Settings`."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[1])
    return f"TIELINE_{field.upper()}"


def parse_company_map(text: str) -> dict[str, int | str]:
    """`CODE=company,...` as a dict; a company of digits is an id.

    Raises ValueError naming the pair at fault.
    """
    found: dict[str, int | str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        code, sep, company = (item.strip() for item in pair.partition("="))
        if not sep or not code or not company:
            msg = f"{pair!r} is not CODE=company (an Odoo company id or name)"
            raise ValueError(msg)
        if code in found:
            msg = f"legal entity {code} is given twice"
            raise ValueError(msg)
        found[code] = int(company) if company.isdigit() else company
    return found


def normalise_database_url(url: str) -> str:
    """Point bare PostgreSQL URLs at psycopg 3, the driver tieline ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
