"""Governance built from the settings: the secrets resolver and the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import make_url

from tieline.governance.audit import AuditLog
from tieline.governance.secrets import SecretResolver, default_resolver, remember
from tieline.settings import Settings


@dataclass(frozen=True, slots=True)
class Governance:
    """What the API and the CLI need from governance, built once."""

    settings: Settings
    secrets: SecretResolver
    audit: AuditLog

    def secret_bytes(self, name: str) -> bytes:
        """A secret as bytes, made on first use in the embedded default."""
        value = self.secrets.get_or_create(name, self.settings.resolved_secrets_dir)
        return value.get_secret_value().encode()


def build_governance(
    settings: Settings, *, secrets: SecretResolver | None = None
) -> Governance:
    """The resolver (environment, then the secrets folder) and the audit log."""
    resolver = secrets or default_resolver(settings.resolved_secrets_dir)
    # The database URL comes from the settings; its password is a secret too.
    password = make_url(settings.resolved_database_url).password
    if password:
        remember(str(password))
    key = resolver.get_or_create("audit_key", settings.resolved_secrets_dir)
    audit = AuditLog(
        key.get_secret_value().encode(),
        anchor_file=settings.resolved_audit_head_file,
    )
    return Governance(settings, resolver, audit)
