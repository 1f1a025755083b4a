"""Identities, API keys and role grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tieline.errors import ValidationFailed
from tieline.governance import (
    AuthenticationFailed,
    IdentityKind,
    Role,
    Scope,
    create_identity,
    grant_role,
    issue_api_key,
    revoke_api_key,
    rotate_api_key,
)
from tieline.governance._schema import api_keys
from tieline.governance.identities import (
    find_legal_entity,
    key_principal,
    revoke_role,
)
from tieline.governance.roles import Grant
from tieline.model import LegalEntity, Supplier
from tieline.store import Store


def test_a_key_is_stored_only_as_a_hash_and_authenticates(store: Store) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "estimating")
        issued = issue_api_key(tx.connection, service, scopes=["records:read"])

    with store.transaction() as tx:
        stored = tx.connection.execute(select(api_keys)).one()
        principal = key_principal(tx.connection, issued.token)

    secret = issued.token.partition(".")[2]
    assert secret not in repr(stored._asdict())
    assert stored.secret_hash != secret
    assert principal.identity.name == "estimating"
    assert principal.scopes == frozenset({Scope.RECORDS_READ})
    assert principal.credential == issued.key_id


def test_a_new_identity_has_no_grants(store: Store) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "fresh")
        issued = issue_api_key(tx.connection, service, scopes=list(Scope))
        principal = key_principal(tx.connection, issued.token)

    assert principal.grants == ()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "tlk_0000000000000000." + token.partition(".")[2],
        lambda token: token.partition(".")[0],
        lambda token: "not a key",
    ],
    ids=["wrong-secret", "unknown-id", "no-secret", "garbage"],
)
def test_a_bad_key_is_refused(store: Store, mangle: object) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        issued = issue_api_key(tx.connection, service, scopes=["records:read"])

    with store.transaction() as tx, pytest.raises(AuthenticationFailed):
        key_principal(tx.connection, mangle(issued.token))  # type: ignore[operator]


def test_a_revoked_or_expired_key_is_refused(store: Store) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        revoked = issue_api_key(tx.connection, service, scopes=["records:read"])
        expired = issue_api_key(tx.connection, service, scopes=["records:read"])
        assert revoke_api_key(tx.connection, revoked.key_id)
        tx.connection.execute(
            update(api_keys)
            .where(api_keys.c.id == expired.key_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    with store.transaction() as tx:
        with pytest.raises(AuthenticationFailed, match="revoked"):
            key_principal(tx.connection, revoked.token)
        with pytest.raises(AuthenticationFailed, match="expired"):
            key_principal(tx.connection, expired.token)


def test_rotation_keeps_the_old_key_alive_for_the_overlap_only(store: Store) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        old = issue_api_key(tx.connection, service, scopes=["records:write"])
        new = rotate_api_key(tx.connection, old.key_id, overlap=timedelta(hours=1))

    with store.transaction() as tx:
        # During the overlap both keys work, so callers switch without downtime.
        assert key_principal(tx.connection, old.token).identity.id == service.id
        assert key_principal(tx.connection, new.token).scopes == {Scope.RECORDS_WRITE}
        ends = tx.connection.execute(
            select(api_keys.c.expires_at).where(api_keys.c.id == old.key_id)
        ).scalar_one()
        tx.connection.execute(
            update(api_keys)
            .where(api_keys.c.id == old.key_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    ends = ends if ends.tzinfo else ends.replace(tzinfo=UTC)
    assert ends <= datetime.now(UTC) + timedelta(hours=1)
    with store.transaction() as tx:
        with pytest.raises(AuthenticationFailed):
            key_principal(tx.connection, old.token)
        assert key_principal(tx.connection, new.token).identity.id == service.id


def test_humans_hold_no_api_keys_and_services_no_idp_subject(store: Store) -> None:
    with store.transaction() as tx:
        human = create_identity(
            tx.connection,
            IdentityKind.HUMAN,
            "ana",
            issuer="https://idp.example",
            subject="ana-1",
        )
        with pytest.raises(ValidationFailed, match="only service"):
            issue_api_key(tx.connection, human, scopes=["records:read"])
        with pytest.raises(ValidationFailed, match="no identity-provider"):
            create_identity(
                tx.connection, IdentityKind.SERVICE, "x", issuer="i", subject="s"
            )
        with pytest.raises(ValidationFailed, match="issuer and subject"):
            create_identity(tx.connection, IdentityKind.HUMAN, "bo")


def test_a_key_needs_known_scopes(store: Store) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        with pytest.raises(ValidationFailed) as caught:
            issue_api_key(tx.connection, service, scopes=["everything"])
        with pytest.raises(ValidationFailed):
            issue_api_key(tx.connection, service, scopes=[])

    assert caught.value.field == "scopes"


def _entity_and_supplier(tx: Any) -> tuple[str, str]:
    entity = LegalEntity.model_validate(
        {
            "origin": {"system": "t", "key": "A"},
            "code": "A",
            "name": "A",
            "base_currency": "EUR",
        }
    )
    supplier = Supplier.model_validate(
        {"origin": {"system": "t", "key": "s1"}, "legal_name": "S1"}
    )
    return tx.save(entity, actor="t").record.id, tx.save(supplier, actor="t").record.id


def test_grants_are_per_legal_entity_and_revocable(store: Store) -> None:
    with store.transaction() as tx:
        le_a, sup_1 = _entity_and_supplier(tx)
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        issued = issue_api_key(tx.connection, service, scopes=["records:read"])
        grant_role(
            tx.connection, service, Role.BUYER, legal_entity_id=le_a, granted_by="t"
        )
        grant_role(
            tx.connection,
            service,
            Role.PARTNER,
            legal_entity_id="*",
            supplier_id=sup_1,
            granted_by="t",
        )
        assert revoke_role(tx.connection, service, Grant(Role.BUYER, le_a))
        principal = key_principal(tx.connection, issued.token)

    assert principal.grants == (Grant(Role.PARTNER, "*", sup_1),)


def test_a_grant_names_an_entity_and_a_supplier_that_exist(store: Store) -> None:
    with store.transaction() as tx:
        le_a, _ = _entity_and_supplier(tx)
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        with pytest.raises(ValidationFailed) as no_entity:
            grant_role(
                tx.connection, service, Role.BUYER, legal_entity_id="A", granted_by="t"
            )
        with pytest.raises(ValidationFailed) as no_supplier:
            grant_role(
                tx.connection,
                service,
                Role.PARTNER,
                legal_entity_id=le_a,
                supplier_id="nosuch",
                granted_by="t",
            )
        # A grant names the entity by id; its code is found for the CLI.
        found = find_legal_entity(tx.connection, "A")

    assert no_entity.value.field == "legal_entity_id"
    assert no_supplier.value.field == "supplier_id"
    assert found is not None
    assert found.id == le_a


def test_a_key_lives_one_day_to_a_year(store: Store) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        for days in (-5, 0, 367):
            with pytest.raises(ValidationFailed) as caught:
                issue_api_key(
                    tx.connection,
                    service,
                    scopes=["records:read"],
                    lifetime=timedelta(days=days),
                )
            assert caught.value.field == "days"


def test_a_partner_grant_must_name_its_supplier(store: Store) -> None:
    with store.transaction() as tx:
        service = create_identity(tx.connection, IdentityKind.SERVICE, "svc")
        with pytest.raises(ValidationFailed) as caught:
            grant_role(
                tx.connection,
                service,
                Role.PARTNER,
                legal_entity_id="*",
                granted_by="t",
            )
        with pytest.raises(ValidationFailed):
            grant_role(
                tx.connection,
                service,
                Role.BUYER,
                legal_entity_id="*",
                supplier_id="s",
                granted_by="t",
            )

    assert caught.value.field == "supplier_id"
