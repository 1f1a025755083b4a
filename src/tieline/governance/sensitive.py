"""Sensitive changes: where a supplier is paid.

Changing a supplier's bank account is how most payment fraud starts (a
forged letter "from the supplier" with new details), so the rule is:

- a buyer never changes bank accounts, even group-wide: whoever chooses and
  orders from a supplier must not also choose where its money goes. Only an
  integration operator or an admin granted on every legal entity may;
- the change is audited on its own (`supplier.bank_accounts_changed`, with
  the accounts masked to their last four characters), besides the record's
  own `record.updated`;
- unless the owning system's integration made it (the vendor master in the
  ERP, which verifies changes itself), the change puts an active supplier
  back to `pending`, and only another person than the one who made the
  latest bank change may make it active again (the call-back check).

TODO: `pending` holds nothing outside tieline yet: the payment workflow does
not look at the supplier's status, and the Odoo push archives only blocked
suppliers, so a bill already approved can still be paid in Odoo to the new
account before anyone activates the supplier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from tieline.governance._schema import audit_log
from tieline.governance.roles import ALL_ENTITIES, Grant, Role
from tieline.model import BankAccount, Supplier

BANK_EDITORS = frozenset({Role.INTEGRATION_OPERATOR, Role.ADMIN})
BANK_CHANGE = "supplier.bank_accounts_changed"


def bank_accounts_changed(before: Supplier | None, after: Supplier) -> bool:
    """Whether `after` is paid elsewhere than `before` (a new supplier: any)."""
    previous = before.bank_accounts if before is not None else []
    return list(after.bank_accounts) != list(previous)


def may_change_bank_accounts(grants: Iterable[Grant]) -> bool:
    """Whether the grants include a bank editor's role on every legal entity."""
    return any(
        grant.role in BANK_EDITORS and grant.legal_entity_id == ALL_ENTITIES
        for grant in grants
    )


def masked(accounts: Sequence[BankAccount]) -> list[str]:
    """The accounts as the audit log keeps them: the last four characters."""
    return [f"****{account.account_number[-4:]}" for account in accounts]


def last_bank_change_by(connection: Connection, subject: str) -> str | None:
    """Who made the latest bank change of the supplier `subject`, if anyone."""
    row = connection.execute(
        select(audit_log.c.actor)
        .where(audit_log.c.target == subject, audit_log.c.action == BANK_CHANGE)
        .order_by(audit_log.c.seq.desc())
        .limit(1)
    ).first()
    return None if row is None else str(row.actor)
