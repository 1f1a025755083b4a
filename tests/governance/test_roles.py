"""What each role may do, where: least privilege, entities and partners."""

from __future__ import annotations

import pytest

from tieline.governance.roles import (
    ALL_SCOPES,
    KINDS,
    PERMISSIONS,
    Action,
    Grant,
    RecordScope,
    Role,
    Scope,
    allowed,
)

IN_A = RecordScope("le-a")
IN_B = RecordScope("le-b")


def test_no_grant_allows_nothing() -> None:
    for kind in KINDS:
        for action in Action:
            assert not allowed((), ALL_SCOPES, kind, action, IN_A)


def test_every_role_lists_only_known_kinds() -> None:
    for role in Role:
        assert set(PERMISSIONS[role]) <= set(KINDS)


def test_a_grant_reaches_only_its_legal_entity() -> None:
    buyer = (Grant(Role.BUYER, "le-a"),)

    assert allowed(buyer, ALL_SCOPES, "commitment", Action.CREATE, IN_A)
    assert not allowed(buyer, ALL_SCOPES, "commitment", Action.READ, IN_B)
    assert allowed(
        (Grant(Role.BUYER, "*"),), ALL_SCOPES, "commitment", Action.READ, IN_B
    )


def test_an_unresolved_record_is_reached_only_by_all_entity_grants() -> None:
    orphan = RecordScope(None, resolved=False)

    assert not allowed(
        (Grant(Role.AUDITOR, "le-a"),), ALL_SCOPES, "budget", Action.READ, orphan
    )
    assert allowed(
        (Grant(Role.AUDITOR, "*"),), ALL_SCOPES, "budget", Action.READ, orphan
    )


def test_credential_scopes_cap_the_roles() -> None:
    admin = (Grant(Role.ADMIN, "*"),)
    read_only = frozenset({Scope.RECORDS_READ})

    assert allowed(admin, read_only, "project", Action.READ, IN_A)
    assert not allowed(admin, read_only, "project", Action.CREATE, IN_A)


@pytest.mark.parametrize(
    ("role", "kind", "action", "expected"),
    [
        (Role.BUYER, "commitment", Action.CREATE, True),
        (Role.BUYER, "supplier_invoice", Action.CREATE, False),
        (Role.BUYER, "payment", Action.READ, False),
        (Role.PROJECT_CONTROLLER, "budget", Action.UPDATE, True),
        (Role.PROJECT_CONTROLLER, "commitment", Action.CREATE, False),
        (Role.ACCOUNTS_PAYABLE, "payment", Action.CREATE, True),
        (Role.ACCOUNTS_PAYABLE, "commitment", Action.UPDATE, False),
        (Role.FINANCE_APPROVER, "supplier_invoice", Action.APPROVE, True),
        (Role.FINANCE_APPROVER, "supplier_invoice", Action.UPDATE, False),
        (Role.AUDITOR, "payment", Action.READ, True),
        (Role.AUDITOR, "payment", Action.CREATE, False),
        (Role.INTEGRATION_OPERATOR, "project", Action.CREATE, True),
        (Role.INTEGRATION_OPERATOR, "project", Action.APPROVE, False),
        (Role.ADMIN, "supplier_invoice", Action.APPROVE, False),
    ],
)
def test_role_matrix(role: Role, kind: str, action: Action, expected: bool) -> None:
    assert allowed((Grant(role, "*"),), ALL_SCOPES, kind, action, IN_A) is expected


def test_a_partner_reaches_only_its_own_supplier_records() -> None:
    partner = (Grant(Role.PARTNER, "*", "sup-1"),)
    own = RecordScope("le-a", supplier_id="sup-1")
    other = RecordScope("le-a", supplier_id="sup-2")
    nobody = RecordScope("le-a")

    assert allowed(partner, ALL_SCOPES, "commitment", Action.READ, own)
    assert allowed(partner, ALL_SCOPES, "progress_claim", Action.CREATE, own)
    assert not allowed(partner, ALL_SCOPES, "progress_claim", Action.UPDATE, own)
    assert not allowed(partner, ALL_SCOPES, "commitment", Action.READ, other)
    assert not allowed(partner, ALL_SCOPES, "project", Action.READ, nobody)
    assert not allowed(partner, ALL_SCOPES, "goods_receipt", Action.READ, own)


def test_a_shared_record_is_read_by_any_entity_but_written_only_group_wide() -> None:
    shared = RecordScope(None)
    in_a = (Grant(Role.BUYER, "le-a"),)
    everywhere = (Grant(Role.BUYER, "*"),)

    assert allowed(in_a, ALL_SCOPES, "supplier", Action.READ, shared)
    assert not allowed(in_a, ALL_SCOPES, "supplier", Action.UPDATE, shared)
    assert not allowed(in_a, ALL_SCOPES, "supplier", Action.CREATE, shared)
    assert allowed(everywhere, ALL_SCOPES, "supplier", Action.UPDATE, shared)
