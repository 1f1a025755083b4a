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
- and always the owning system: the *service* identity of the record's
  origin system, holding the integration operator role where the record
  lives. DESIGN.md makes the connectors and the systems around the ERP the
  source of what they own (Odoo confirms a purchase order, posts a bill,
  pays it; a project-controls system approves a budget), and their
  integration writes what those systems decided. A service speaks for the
  origin system it is named after (identity `odoo` for records of origin
  system `odoo`, as a partner's records carry `partner:<name>`): another
  system's integration, however broad its role, decides nothing on records
  it does not own (a Procore integration approving a change order made in
  tieline would move the committed cost with nobody deciding). A person,
  whatever their roles, never writes a decision directly.

Some fields are decisions too (`DECISION_FIELDS`): a commitment's
`retention_released_on` releases its retention, which the cost report then
stops counting as held. They follow the same paths as decided statuses.

A record that already holds a decision changes only through the same path:
editing an approved commitment's lines would approve the new lines unseen
(its value changes through a change order instead).

TODO: goods receipts are `confirmed` by default, whoever writes them: a
confirmed receipt is a site's statement of fact, not an approval, but it
feeds the three-way match; a buyer who both orders and receives is not
stopped here. Projects are closed by whoever may update them, not only by
the closeout workflow, though an update to `closed` is refused while the
closeout checklist has blockers (`tieline.api._closeout.check_closing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

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

# kind -> fields whose value is a decision (any change to them is one).
DECISION_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "commitment": ("retention_released_on",),
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


def changed_decision_fields(
    kind: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> list[str]:
    """The decision fields of a `kind` record that a write sets or changes."""
    return [
        name
        for name in DECISION_FIELDS.get(kind, ())
        if (before or {}).get(name) != after.get(name)
    ]


def owning_system(
    grants: Iterable[Grant],
    scope: RecordScope,
    *,
    service: bool,
    caller: str,
    origin: str,
) -> bool:
    """Whether the caller is the integration of the record's own system.

    A service identity (never a person) named after the record's origin
    system, with the integration operator role where the record lives.
    """
    return (
        service
        and caller == origin
        and any(
            grant.role is Role.INTEGRATION_OPERATOR
            and grant_covers(grant, scope, Action.UPDATE)
            for grant in grants
        )
    )


def decision_path(kind: str, record_id: str, field: str = "status") -> str:
    """Where a person takes a decision on this record, in words."""
    if field == "retention_released_on":
        return (
            "retention is released through the subcontract's retention release "
            "workflow, once its claims are certified: POST /v1/commitments/"
            f"{record_id}/retention/release"
        )
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
