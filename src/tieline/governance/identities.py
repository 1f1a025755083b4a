"""Identities, their API keys and their role grants.

Services and humans are kept apart: only a service holds API keys (and so
client credentials); only a human signs in with a token from the customer's
identity provider, matched by issuer and subject. An API key is shown once,
when issued, as `<key id>.<secret>`; the store keeps the key id and a SHA-256
of the secret. Rotation issues a new key and lets the old one live on for an
overlap, so that callers can switch without downtime.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tieline.errors import PermanentError, ValidationFailed
from tieline.governance._schema import api_keys, identities, role_grants
from tieline.governance.roles import ALL_ENTITIES, ALL_SCOPES, Grant, Role, Scope
from tieline.model import LegalEntity, Supplier
from tieline.store import Transaction

KEY_PREFIX = "tlk_"
DEFAULT_KEY_LIFETIME = timedelta(days=90)
# The longest a key may live: a year and a day, so a yearly rotation fits.
MAX_KEY_DAYS = 366


class IdentityKind(enum.StrEnum):
    """A system acting by itself, or a person."""

    SERVICE = "service"
    HUMAN = "human"


class AuthenticationFailed(PermanentError):
    """A credential was missing, unknown, expired, revoked or malformed.

    `reason` is for the audit log only; clients are told no more than that
    authentication failed, so that a probe learns nothing.
    """

    def __init__(self, reason: str, *, actor: str = "anonymous") -> None:
        super().__init__(reason)
        self.reason = reason
        self.actor = actor


@dataclass(frozen=True, slots=True)
class Identity:
    """A service or a human known to the hub."""

    id: str
    kind: IdentityKind
    name: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, through which credential, with which grants and scopes."""

    identity: Identity
    grants: tuple[Grant, ...]
    scopes: frozenset[Scope]
    credential: str

    @property
    def actor(self) -> str:
        """How the audit log and record stamps name this caller."""
        return f"{self.identity.kind.value}:{self.identity.name}"

    def has_role(self, roles: frozenset[Role]) -> bool:
        """Whether any grant gives one of `roles`."""
        return any(grant.role in roles for grant in self.grants)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new API key; `token` is shown to the caller once and never stored."""

    key_id: str
    token: str
    expires_at: datetime
    scopes: tuple[str, ...]


def utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (SQLite hands back naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def hash_secret(secret: str) -> str:
    """The stored form of an API key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_identity(
    connection: Connection,
    kind: IdentityKind,
    name: str,
    *,
    issuer: str | None = None,
    subject: str | None = None,
) -> Identity:
    """A new identity with no grants, so it can do nothing yet."""
    if not name.strip() or len(name) > 200:
        raise ValidationFailed("give a name of 1 to 200 characters", field="name")
    if kind is IdentityKind.HUMAN and not (issuer and subject):
        raise ValidationFailed(
            "a human signs in through an identity provider: give issuer and subject",
            field="subject",
        )
    if kind is IdentityKind.SERVICE and (issuer or subject):
        raise ValidationFailed("a service has no identity-provider subject")
    if find_identity(connection, name) is not None:
        raise ValidationFailed(f"an identity named {name!r} exists", field="name")
    if issuer and subject:
        known = find_human(connection, issuer, subject)
        if known is not None:
            raise ValidationFailed(
                f"{known.name} already signs in as subject {subject!r} of {issuer}",
                field="subject",
            )
    identity = Identity(str(uuid.uuid4()), kind, name, disabled=False)
    connection.execute(
        insert(identities).values(
            id=identity.id,
            kind=kind.value,
            name=name,
            issuer=issuer,
            subject=subject,
            created_at=datetime.now(UTC),
        )
    )
    return identity


def _identity(row: Any) -> Identity:
    return Identity(
        row.id, IdentityKind(row.kind), row.name, row.disabled_at is not None
    )


def get_identity(connection: Connection, identity_id: str) -> Identity | None:
    """The identity with `identity_id`, or None."""
    row = connection.execute(
        select(identities).where(identities.c.id == identity_id)
    ).first()
    return None if row is None else _identity(row)


def find_identity(connection: Connection, name: str) -> Identity | None:
    """The identity named `name`, or None."""
    row = connection.execute(
        select(identities).where(identities.c.name == name)
    ).first()
    return None if row is None else _identity(row)


def list_identities(connection: Connection) -> list[Identity]:
    """Every identity, by name."""
    rows = connection.execute(select(identities).order_by(identities.c.name))
    return [_identity(row) for row in rows]


def find_human(connection: Connection, issuer: str, subject: str) -> Identity | None:
    """The human an identity provider knows as `subject`, or None."""
    row = connection.execute(
        select(identities).where(
            identities.c.issuer == issuer,
            identities.c.subject == subject,
            identities.c.kind == IdentityKind.HUMAN.value,
        )
    ).first()
    return None if row is None else _identity(row)


def disable_identity(connection: Connection, identity_id: str) -> None:
    """Stop an identity: every credential it holds stops working at once."""
    connection.execute(
        update(identities)
        .where(identities.c.id == identity_id)
        .values(disabled_at=datetime.now(UTC))
    )


def parse_scopes(values: list[str] | tuple[str, ...]) -> frozenset[Scope]:
    """Scopes from their names, refusing any unknown one."""
    try:
        return frozenset(Scope(value) for value in values)
    except ValueError as err:
        known = ", ".join(sorted(ALL_SCOPES))
        raise ValidationFailed(
            f"unknown scope; known scopes are {known}", field="scopes"
        ) from err


def issue_api_key(
    connection: Connection,
    identity: Identity,
    *,
    scopes: list[str] | tuple[str, ...],
    lifetime: timedelta = DEFAULT_KEY_LIFETIME,
    replaces: str | None = None,
) -> IssuedKey:
    """A new key for a service identity, scoped and expiring."""
    if identity.kind is not IdentityKind.SERVICE:
        raise ValidationFailed(
            "only service identities hold API keys; people sign in through "
            "the identity provider",
            field="identity",
        )
    if not scopes:
        raise ValidationFailed("give at least one scope", field="scopes")
    if not timedelta(0) < lifetime <= timedelta(days=MAX_KEY_DAYS):
        raise ValidationFailed(
            f"a key lives from 1 to {MAX_KEY_DAYS} days", field="days"
        )
    names = tuple(sorted(scope.value for scope in parse_scopes(scopes)))
    key_id = KEY_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    connection.execute(
        insert(api_keys).values(
            id=key_id,
            identity_id=identity.id,
            secret_hash=hash_secret(secret),
            scopes=list(names),
            created_at=now,
            expires_at=now + lifetime,
            replaces=replaces,
        )
    )
    return IssuedKey(key_id, f"{key_id}.{secret}", now + lifetime, names)


def revoke_api_key(connection: Connection, key_id: str) -> bool:
    """Stop a key at once; False when there is no such live key."""
    result = connection.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return result.rowcount == 1


def rotate_api_key(
    connection: Connection, key_id: str, *, overlap: timedelta
) -> IssuedKey:
    """A new key with the old one's scopes; the old one expires after `overlap`."""
    row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None or row.revoked_at is not None:
        raise ValidationFailed(f"no live key {key_id}", field="key_id")
    identity = get_identity(connection, row.identity_id)
    if identity is None:
        raise ValidationFailed(f"key {key_id} has no identity", field="key_id")
    now = datetime.now(UTC)
    ends = min(utc(row.expires_at), now + overlap)
    connection.execute(
        update(api_keys).where(api_keys.c.id == key_id).values(expires_at=ends)
    )
    return issue_api_key(connection, identity, scopes=row.scopes, replaces=key_id)


def grant_role(
    connection: Connection,
    identity: Identity,
    role: Role,
    *,
    legal_entity_id: str,
    granted_by: str,
    supplier_id: str | None = None,
) -> Grant:
    """Give `identity` a role in one legal entity ('*' for every one)."""
    if role is Role.PARTNER and not supplier_id:
        raise ValidationFailed(
            "a partner grant names its supplier", field="supplier_id"
        )
    if role is not Role.PARTNER and supplier_id:
        raise ValidationFailed(
            "only a partner grant names a supplier", field="supplier_id"
        )
    records = Transaction(connection)
    if (
        legal_entity_id != ALL_ENTITIES
        and records.get(LegalEntity, legal_entity_id) is None
    ):
        raise ValidationFailed(
            f"no legal entity {legal_entity_id}; give its id, or '*' for all",
            field="legal_entity_id",
        )
    if supplier_id is not None and records.get(Supplier, supplier_id) is None:
        raise ValidationFailed(f"no supplier {supplier_id}", field="supplier_id")
    connection.execute(
        insert(role_grants).values(
            identity_id=identity.id,
            role=role.value,
            legal_entity_id=legal_entity_id,
            supplier_id=supplier_id,
            granted_by=granted_by,
            granted_at=datetime.now(UTC),
        )
    )
    return Grant(role, legal_entity_id, supplier_id)


def find_legal_entity(connection: Connection, value: str) -> LegalEntity | None:
    """The legal entity whose id, or else whose code, is `value`; None if none.

    A code two entities share names neither of them.
    """
    records = Transaction(connection)
    entity = records.get(LegalEntity, value)
    if entity is not None:
        return entity
    coded = [e for e in records.list(LegalEntity) if e.code == value]
    return coded[0] if len(coded) == 1 else None


def revoke_role(connection: Connection, identity: Identity, grant: Grant) -> bool:
    """Take a grant back; False when the identity did not hold it."""
    query = update(role_grants).where(
        role_grants.c.identity_id == identity.id,
        role_grants.c.role == grant.role.value,
        role_grants.c.legal_entity_id == grant.legal_entity_id,
        role_grants.c.revoked_at.is_(None),
    )
    if grant.supplier_id is not None:
        query = query.where(role_grants.c.supplier_id == grant.supplier_id)
    result = connection.execute(query.values(revoked_at=datetime.now(UTC)))
    return result.rowcount > 0


def grants_of(connection: Connection, identity_id: str) -> tuple[Grant, ...]:
    """The live grants of an identity."""
    rows = connection.execute(
        select(role_grants)
        .where(
            role_grants.c.identity_id == identity_id,
            role_grants.c.revoked_at.is_(None),
        )
        .order_by(role_grants.c.id)
    )
    return tuple(
        Grant(Role(row.role), row.legal_entity_id, row.supplier_id) for row in rows
    )


def check_api_key(connection: Connection, token: str) -> tuple[Identity, str, Any]:
    """The identity, key id and key row behind a presented key; raises if bad."""
    key_id, _, secret = token.partition(".")
    if not key_id.startswith(KEY_PREFIX) or not secret or len(key_id) > 40:
        raise AuthenticationFailed("malformed API key")
    row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    # Compare even when the key is unknown, so timing does not tell which.
    expected = row.secret_hash if row is not None else hash_secret("")
    if not hmac.compare_digest(expected, hash_secret(secret)) or row is None:
        raise AuthenticationFailed("unknown API key or wrong secret")
    return _live_key(connection, row), key_id, row


def _live_key(connection: Connection, row: Any) -> Identity:
    if row.revoked_at is not None:
        raise AuthenticationFailed(f"API key {row.id} is revoked")
    if utc(row.expires_at) <= datetime.now(UTC):
        raise AuthenticationFailed(f"API key {row.id} has expired")
    identity = get_identity(connection, row.identity_id)
    if identity is None or identity.disabled:
        raise AuthenticationFailed(f"identity of API key {row.id} is disabled")
    return identity


def key_principal(connection: Connection, token: str) -> Principal:
    """The caller presenting API key `token`; raises AuthenticationFailed."""
    identity, key_id, row = check_api_key(connection, token)
    return Principal(
        identity, grants_of(connection, identity.id), parse_scopes(row.scopes), key_id
    )


def live_key_scopes(connection: Connection, key_id: str) -> frozenset[Scope]:
    """The scopes of a key that is still live; raises AuthenticationFailed."""
    row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise AuthenticationFailed(f"token names an unknown key {key_id}")
    _live_key(connection, row)
    return parse_scopes(row.scopes)
