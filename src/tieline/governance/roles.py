"""Roles, what each may do to each kind of record, and the check itself.

Least privilege by default: an identity with no grant can do nothing, and a
grant gives only what its role lists, only in its legal entity (records the
group shares are read from any entity, written only with a grant on all). A partner's
grant also names the supplier it acts for, and reaches only records of that
supplier. Approving is an update that changes nothing but the status, and it
is refused to whoever made the record's last change (maker-checker).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.StrEnum):
    """The roles a grant can give."""

    BUYER = "buyer"
    PROJECT_CONTROLLER = "project_controller"
    ACCOUNTS_PAYABLE = "accounts_payable"
    FINANCE_APPROVER = "finance_approver"
    INTEGRATION_OPERATOR = "integration_operator"
    AUDITOR = "auditor"
    PARTNER = "partner"
    ADMIN = "admin"


class Action(enum.StrEnum):
    """What can be done to a record."""

    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    APPROVE = "approve"


class Scope(enum.StrEnum):
    """What a credential may be used for, whatever its identity's roles."""

    RECORDS_READ = "records:read"
    RECORDS_WRITE = "records:write"
    GOVERNANCE_ADMIN = "governance:admin"
    AUDIT_READ = "audit:read"


ALL_SCOPES = frozenset(Scope)
ALL_ENTITIES = "*"

KINDS = (
    "legal_entity",
    "project",
    "cost_code",
    "cost_code_crosswalk",
    "budget",
    "budget_revision",
    "supplier",
    "commitment",
    "change_order",
    "goods_receipt",
    "supplier_invoice",
    "progress_claim",
    "payment",
)

_R = frozenset({Action.READ})
_RC = frozenset({Action.READ, Action.CREATE})
_RCU = frozenset({Action.READ, Action.CREATE, Action.UPDATE})
_RA = frozenset({Action.READ, Action.APPROVE})


def _every(actions: frozenset[Action]) -> dict[str, frozenset[Action]]:
    return dict.fromkeys(KINDS, actions)


PERMISSIONS: dict[Role, dict[str, frozenset[Action]]] = {
    Role.BUYER: {
        **dict.fromkeys(
            ("legal_entity", "project", "cost_code", "cost_code_crosswalk"), _R
        ),
        **dict.fromkeys(("budget", "budget_revision", "supplier_invoice"), _R),
        **dict.fromkeys(
            ("supplier", "commitment", "change_order", "goods_receipt"), _RCU
        ),
    },
    Role.PROJECT_CONTROLLER: {
        **_every(_R),
        **dict.fromkeys(
            (
                "project",
                "cost_code",
                "cost_code_crosswalk",
                "budget",
                "budget_revision",
            ),
            _RCU,
        ),
    },
    Role.ACCOUNTS_PAYABLE: {
        **dict.fromkeys(
            (
                "legal_entity",
                "project",
                "cost_code",
                "supplier",
                "commitment",
                "change_order",
                "goods_receipt",
            ),
            _R,
        ),
        **dict.fromkeys(("supplier_invoice", "progress_claim", "payment"), _RCU),
    },
    Role.FINANCE_APPROVER: {
        **_every(_R),
        **dict.fromkeys(
            (
                "budget",
                "budget_revision",
                "commitment",
                "change_order",
                "supplier_invoice",
                "progress_claim",
                "payment",
            ),
            _RA,
        ),
    },
    Role.INTEGRATION_OPERATOR: _every(_RCU),
    Role.AUDITOR: _every(_R),
    Role.PARTNER: {
        **dict.fromkeys(("supplier", "commitment", "change_order", "payment"), _R),
        **dict.fromkeys(("supplier_invoice", "progress_claim"), _RC),
    },
    Role.ADMIN: _every(_RCU),
}

# Permissions outside the records, by role.
GOVERNANCE_ROLES = frozenset({Role.ADMIN})
AUDIT_ROLES = frozenset({Role.ADMIN, Role.AUDITOR})

# The credential scope each action needs.
SCOPE_FOR_ACTION = {
    Action.READ: Scope.RECORDS_READ,
    Action.CREATE: Scope.RECORDS_WRITE,
    Action.UPDATE: Scope.RECORDS_WRITE,
    Action.APPROVE: Scope.RECORDS_WRITE,
}


@dataclass(frozen=True, slots=True)
class Grant:
    """A role held in one legal entity (or every one), for one supplier."""

    role: Role
    legal_entity_id: str
    supplier_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordScope:
    """Where a record belongs, for authorization.

    `legal_entity_id` None: shared across the group (suppliers, crosswalks,
    group-wide cost codes). `supplier_id` None: no supplier owns it, so no
    partner reaches it. `resolved` False: a parent it names is missing, so
    only grants on every legal entity reach it. `issued` False: a commitment
    (or what hangs on one) not yet issued to its supplier, a draft the
    partner does not see.
    """

    legal_entity_id: str | None
    supplier_id: str | None = None
    resolved: bool = True
    issued: bool = True


def grant_covers(
    grant: Grant, scope: RecordScope, action: Action = Action.READ
) -> bool:
    """Whether `grant` reaches a record in `scope` for `action`.

    What the grant's role allows is not looked at here. A record the group
    shares (no legal entity: suppliers, crosswalks, group cost codes) is read
    with a grant in any entity, but written only with a grant on every one:
    a buyer of one company must not change a supplier all companies pay.
    """
    if grant.role is Role.PARTNER and (
        scope.supplier_id is None
        or scope.supplier_id != grant.supplier_id
        or not scope.issued
    ):
        return False
    if grant.legal_entity_id == ALL_ENTITIES:
        return True
    if not scope.resolved:
        return False
    if scope.legal_entity_id is None:
        return action is Action.READ
    return scope.legal_entity_id == grant.legal_entity_id


def allowed(
    grants: Iterable[Grant],
    scopes: frozenset[Scope],
    kind: str,
    action: Action,
    scope: RecordScope,
) -> bool:
    """Whether any grant lets its holder do `action` to a `kind` in `scope`."""
    if SCOPE_FOR_ACTION[action] not in scopes:
        return False
    return any(
        action in PERMISSIONS[grant.role].get(kind, frozenset())
        and grant_covers(grant, scope, action)
        for grant in grants
    )


def may_read_kind(grants: Iterable[Grant], scopes: frozenset[Scope], kind: str) -> bool:
    """Whether some grant could let its holder read some record of `kind`."""
    return Scope.RECORDS_READ in scopes and any(
        Action.READ in PERMISSIONS[grant.role].get(kind, frozenset())
        for grant in grants
    )
