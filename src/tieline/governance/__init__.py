"""Governance: identities, roles per legal entity, the audit log, secrets."""

from tieline.governance.audit import AuditEntry, AuditLog, Verification
from tieline.governance.identities import (
    AuthenticationFailed,
    Identity,
    IdentityKind,
    IssuedKey,
    Principal,
    create_identity,
    grant_role,
    issue_api_key,
    revoke_api_key,
    rotate_api_key,
)
from tieline.governance.roles import Action, Grant, RecordScope, Role, Scope
from tieline.governance.secrets import SecretResolver, default_resolver

__all__ = [
    "Action",
    "AuditEntry",
    "AuditLog",
    "AuthenticationFailed",
    "Grant",
    "Identity",
    "IdentityKind",
    "IssuedKey",
    "Principal",
    "RecordScope",
    "Role",
    "Scope",
    "SecretResolver",
    "Verification",
    "create_identity",
    "default_resolver",
    "grant_role",
    "issue_api_key",
    "revoke_api_key",
    "rotate_api_key",
]
