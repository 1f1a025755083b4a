"""Which statuses are decisions, and who may write one outside a workflow.

A decision is a status that someone with authority must have given: an
approval, a rejection, a certificate, a posting, a payment. They are the
statuses the cost report counts (an approved commitment is committed cost, a
matched or approved invoice is invoiced, a paid payment is paid), so a writer
who could set one would move the company's figures with nobody deciding.

Each kind has one path to its decisions:

- where a workflow governs the kind (invoices, claims, budget revisions,
  change orders), its approve and reject actions, with the workflow's
  policy and segregation of duties (`POST /v1/documents/{workflow}/{id}/...`);
- otherwise (commitments, budgets, payments), the records API's approve
  action: a status-only change by a role that may approve, refused to anyone
  who made or changed the record (maker-checker);
- and always the owning system: a *service* identity holding the integration
  operator role where the record lives. DESIGN.md makes the connectors and
  the systems around the ERP the source of what they own (Odoo confirms a
  purchase order, posts a bill, pays it; a project-controls system approves
  a budget), and their integration writes what those systems decided. A
  person, whatever their roles, never writes a decision directly.

A record that already holds a decision changes only through the same path:
editing an approved commitment's lines would approve the new lines unseen
(its value changes through a change order instead).

TODO: goods receipts are `confirmed` by default, whoever writes them: a
confirmed receipt is a site's statement of fact, not an approval, but it
feeds the three-way match; a buyer who both orders and receives is not
stopped here. Projects are closed by whoever may update them, not only by
the closeout workflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from tieline.governance.roles import Action, Grant, RecordScope, Role, grant_covers

# kind -> the statuses that are decisions.
DECISIONS: Final[dict[str, frozenset[str]]] = {
    "budget": frozenset({"approved"}),
    "budget_revision": frozenset({"approved", "rejected"}),
    "commitment": frozenset({"approved", "closed"}),
    "change_order": frozenset({"approved", "rejected"}),
    "supplier_invoice": frozenset(
        {"matched", "approved", "rejected", "posted", "paid"}
    ),
    "progress_claim": frozenset({"certified", "rejected", "paid"}),
    "payment": frozenset({"paid"}),
}

# kind -> the workflow whose actions decide it (as the workflow routes name it).
WORKFLOWS: Final[dict[str, str]] = {
    "supplier_invoice": "invoice",
    "progress_claim": "claim",
    "budget_revision": "budget_revision",
    "change_order": "change_order",
}


def is_decision(kind: str, status: str | None) -> bool:
    """Whether `status` of a `kind` record is a decision."""
    return status is not None and status in DECISIONS.get(kind, frozenset())


def owning_system(
    grants: Iterable[Grant], scope: RecordScope, *, service: bool
) -> bool:
    """Whether the caller is an owning system's integration for this record.

    A service identity (never a person) with the integration operator role
    where the record lives.
    """
    return service and any(
        grant.role is Role.INTEGRATION_OPERATOR
        and grant_covers(grant, scope, Action.UPDATE)
        for grant in grants
    )


def decision_path(kind: str, record_id: str) -> str:
    """Where a person takes a decision on this record, in words."""
    workflow = WORKFLOWS.get(kind)
    if workflow is not None:
        return (
            f"decide it in its workflow: POST /v1/documents/{workflow}/"
            f"{record_id}/approve (or /reject)"
        )
    return (
        "a role that approves it changes the status alone, and never on a "
        "record it made or changed"
    )
