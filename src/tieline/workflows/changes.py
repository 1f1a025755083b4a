"""Budget revisions and change orders: approved before they change anything.

A submitted budget revision or change order waits for a person of its rule
(step `change_approval`); until approved it changes neither the revised
budget nor the committed value (the cost report shows it apart, as pending).
Approved, the record's status becomes `approved` and the report counts it;
rejected, it never counts.

TODO: an approved change order is not pushed to the ERP's order yet (the
`ErpGateway` has no call for it), so Odoo's purchase order keeps its old value
until someone amends it there.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from tieline.errors import RecordNotFound
from tieline.model import (
    BudgetRevision,
    ChangeOrder,
    ChangeOrderStatus,
    RevisionStatus,
)
from tieline.store import Transaction
from tieline.workflows._common import (
    commitment_of,
    requester,
    route,
    subject,
    writer,
)
from tieline.workflows._duties import check_decider, party
from tieline.workflows._identity import Actor
from tieline.workflows._machine import Hub, Machine, Spec
from tieline.workflows._policy import DocumentType

ChangeDocument = BudgetRevision | ChangeOrder


class ChangeState(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


_MOVES = {
    ChangeState.SUBMITTED: frozenset({ChangeState.APPROVED, ChangeState.REJECTED}),
}


class _ChangeFlow(Machine[ChangeState]):
    def approved(self, actor: Actor, comment: str | None) -> None:
        """A person approved the change."""
        self.data["approved_by"] = party(actor)
        self._move(ChangeState.APPROVED, actor, comment=comment)

    def rejected(self, actor: Actor, comment: str | None) -> None:
        """A person rejected the change."""
        self._move(ChangeState.REJECTED, actor, comment=comment)


class BudgetRevisionFlow(_ChangeFlow):
    """A budget revision awaiting approval."""

    spec = Spec(
        name="budget_revision",
        document_kind="budget_revision",
        initial=ChangeState.SUBMITTED,
        moves=_MOVES,
        waits={ChangeState.SUBMITTED: "change_approval"},
    )


class ChangeOrderFlow(_ChangeFlow):
    """A commitment change order awaiting approval."""

    spec = Spec(
        name="change_order",
        document_kind="change_order",
        initial=ChangeState.SUBMITTED,
        moves=_MOVES,
        waits={ChangeState.SUBMITTED: "change_approval"},
    )


def _amount(document: ChangeDocument) -> Decimal:
    # The band is chosen on the size of the change, increases and decreases
    # alike: a large cut needs the same approver as a large addition.
    return sum((abs(line.amount) for line in document.lines), Decimal(0))


def start_change(tx: Transaction, hub: Hub, document: ChangeDocument) -> None:
    """Route a submitted revision or change order to its approvers (idempotent)."""
    if document.status_value != ChangeState.SUBMITTED.value:
        return
    flow_type, doc_type, entity, project, contract = _context(tx, document)
    actor = writer(hub, document)
    flow, new = flow_type.start(
        tx,
        hub,
        document_id=document.id,
        document_ref=document.number,
        actor=actor,
        legal_entity_id=entity,
        project_id=project,
        data={"requested_by": requester(actor), "amount": str(_amount(document))},
    )
    if not new:
        return
    found = subject(
        tx,
        doc_type,
        legal_entity_id=entity,
        project_id=project,
        amount=_amount(document),
        contract_type=contract,
    )
    rule, assignees = route(flow, hub, found)
    flow.save_data()
    flow.wait(assignees, flow.timer(flow.state, hub.policies.owner(rule)))


def _context(
    tx: Transaction, document: ChangeDocument
) -> tuple[type[_ChangeFlow], DocumentType, str | None, str | None, str]:
    if isinstance(document, BudgetRevision):
        return (
            BudgetRevisionFlow,
            DocumentType.BUDGET_REVISION,
            None,
            document.project_id,
            "",
        )
    commitment = commitment_of(tx, document.commitment_id)
    return (
        ChangeOrderFlow,
        DocumentType.CHANGE_ORDER,
        commitment.legal_entity_id,
        commitment.project_id,
        commitment.commitment_type.value,
    )


def decide_change(
    tx: Transaction,
    hub: Hub,
    document_id: str,
    actor: Actor,
    comment: str | None,
    *,
    approve: bool,
) -> None:
    """A person approves or rejects a revision or change order."""
    document: ChangeDocument | None = tx.get(BudgetRevision, document_id)
    if document is None:
        document = tx.get(ChangeOrder, document_id)
    if document is None:
        raise RecordNotFound("budget revision or change order", document_id)
    flow_type = _context(tx, document)[0]
    flow = flow_type.load(tx, hub, document_id)
    check_decider(flow, actor)
    if approve:
        flow.approved(actor, comment)
    else:
        flow.rejected(actor, comment)
    status = (
        (RevisionStatus.APPROVED if approve else RevisionStatus.REJECTED)
        if isinstance(document, BudgetRevision)
        else (ChangeOrderStatus.APPROVED if approve else ChangeOrderStatus.REJECTED)
    )
    tx.save(document.model_copy(update={"status": status}), actor=actor.id)
