"""Requisition to order, and order to receipt.

A submitted requisition waits for a person the policy names (step
`requisition_approval`). Approved, it becomes an approved commitment in the
same transaction, and the order's own workflow starts, waiting for the ERP
(step `order_dispatch`): the `workflow-erp` consumer pushes the order to the
ERP as a confirmed purchase order and moves it to `dispatched`. Confirmed
goods receipts move the order to `partly_received` or `received` (a receipt
marked final, or every line received in full by the receipts the workflow
has handled), and invoices held on the order for a person are matched again
(`invoices.rematch_held`). A line received past its ordered quantity goes on
the exception queue (log line `order.over_receipt`); the goods still count
as received.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from tieline.errors import RecordNotFound
from tieline.logging import get_logger
from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    GoodsReceipt,
    Origin,
    ReceiptStatus,
    Requisition,
    RequisitionStatus,
)
from tieline.store import Transaction
from tieline.workflows._common import (
    ContractLine,
    commitment_of,
    contract_lines,
    lock_commitment,
    requester,
    route,
    subject,
    submitter,
)
from tieline.workflows._duties import check_decider, party
from tieline.workflows._identity import Actor, system_actor
from tieline.workflows._machine import Hub, Machine, Spec
from tieline.workflows._policy import DocumentType
from tieline.workflows._sla import queue_exception
from tieline.workflows.invoices import rematch_held

# Commitments tieline makes itself carry this origin system; only these are
# pushed to the ERP (the ERP's own orders are there already).
HUB_SYSTEM = "tieline"

log = get_logger(__name__)


class RequisitionState(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ORDERED = "ordered"


class RequisitionFlow(Machine[RequisitionState]):
    """A requisition's life: submitted, approved or rejected, ordered."""

    spec = Spec(
        name="requisition",
        document_kind="requisition",
        initial=RequisitionState.SUBMITTED,
        moves={
            RequisitionState.SUBMITTED: frozenset(
                {RequisitionState.APPROVED, RequisitionState.REJECTED}
            ),
            RequisitionState.APPROVED: frozenset({RequisitionState.ORDERED}),
        },
        waits={RequisitionState.SUBMITTED: "requisition_approval"},
    )

    def approved(self, actor: Actor, comment: str | None) -> None:
        """A person approved the requisition."""
        self.data["approved_by"] = party(actor)
        self._move(RequisitionState.APPROVED, actor, comment=comment)

    def rejected(self, actor: Actor, comment: str | None) -> None:
        """A person rejected the requisition."""
        self._move(RequisitionState.REJECTED, actor, comment=comment)

    def ordered(self, actor: Actor, commitment: Commitment) -> None:
        """The requisition became a commitment."""
        self.data["commitment_id"] = commitment.id
        self._move(RequisitionState.ORDERED, actor, comment=commitment.number)


class OrderState(enum.StrEnum):
    AWAITING_DISPATCH = "awaiting_dispatch"
    DISPATCHED = "dispatched"
    PARTLY_RECEIVED = "partly_received"
    RECEIVED = "received"
    CLOSED = "closed"


_RECEIVING = frozenset({OrderState.PARTLY_RECEIVED, OrderState.RECEIVED})


class OrderFlow(Machine[OrderState]):
    """An order's life from approval to the last delivery.

    A receipt may be recorded before the ERP confirms the push (the events
    travel on different consumers), so receiving is allowed from
    `awaiting_dispatch` too.
    """

    spec = Spec(
        name="order",
        document_kind="commitment",
        initial=OrderState.AWAITING_DISPATCH,
        moves={
            OrderState.AWAITING_DISPATCH: frozenset({OrderState.DISPATCHED})
            | _RECEIVING,
            OrderState.DISPATCHED: _RECEIVING | {OrderState.CLOSED},
            OrderState.PARTLY_RECEIVED: _RECEIVING | {OrderState.CLOSED},
            OrderState.RECEIVED: frozenset({OrderState.CLOSED}),
        },
        waits={OrderState.AWAITING_DISPATCH: "order_dispatch"},
    )

    def dispatched(self, actor: Actor, erp_ref: str) -> None:
        """The ERP holds the order as confirmed, under `erp_ref`."""
        self.data["erp_ref"] = erp_ref
        self._move(OrderState.DISPATCHED, actor, comment=erp_ref)

    def partly_received(self, actor: Actor, receipt: GoodsReceipt) -> None:
        """A delivery arrived; more is to come."""
        self._move(OrderState.PARTLY_RECEIVED, actor, comment=receipt.number)

    def received(self, actor: Actor, receipt: GoodsReceipt) -> None:
        """The last delivery arrived."""
        self._move(OrderState.RECEIVED, actor, comment=receipt.number)

    def closed(self, actor: Actor, comment: str | None) -> None:
        """Nothing more will be received or billed on the order."""
        self._move(OrderState.CLOSED, actor, comment=comment)


def start_requisition(tx: Transaction, hub: Hub, requisition: Requisition) -> None:
    """Route a submitted requisition to its approvers (idempotent)."""
    actor = submitter(hub, requisition.origin.system, requisition.requested_by)
    # `requested_by` names a person: one the policy does not map is still
    # recorded, so that every decision is refused until it maps them
    # (`_duties.check_decider`), rather than skipping the rule.
    asked = requester(actor) or {
        "person": "",
        "via": f"{requisition.origin.system}:{requisition.requested_by}",
    }
    flow, new = RequisitionFlow.start(
        tx,
        hub,
        document_id=requisition.id,
        document_ref=requisition.number,
        actor=actor,
        legal_entity_id=requisition.legal_entity_id,
        project_id=requisition.project_id,
        data={"requested_by": asked, "amount": str(requisition.total())},
    )
    if not new:
        return
    found = subject(
        tx,
        DocumentType.REQUISITION,
        legal_entity_id=requisition.legal_entity_id,
        project_id=requisition.project_id,
        amount=requisition.total(),
        contract_type=requisition.commitment_type.value,
    )
    rule, assignees = route(flow, hub, found)
    flow.save_data()
    flow.wait(assignees, flow.timer(flow.state, hub.policies.owner(rule)))


def approve_requisition(
    tx: Transaction, hub: Hub, requisition_id: str, actor: Actor, comment: str | None
) -> Commitment:
    """A person approves: the requisition becomes an approved commitment."""
    flow = RequisitionFlow.load(tx, hub, requisition_id)
    check_decider(flow, actor)
    requisition = _requisition(tx, requisition_id)
    flow.approved(actor, comment)
    commitment = _commitment_from(requisition)
    # Raising the order is tieline's step, done on the approval, not a
    # second act of the approver.
    ordering = system_actor(HUB_SYSTEM, "order_from_requisition")
    tx.save(
        requisition.model_copy(update={"status": RequisitionStatus.ORDERED}),
        actor=ordering.id,
    )
    tx.save(commitment, actor=ordering.id)
    flow.ordered(ordering, commitment)
    order, _ = OrderFlow.start(
        tx,
        hub,
        document_id=commitment.id,
        document_ref=commitment.number,
        actor=ordering,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        data={"requisition_id": requisition.id},
    )
    order.wait([], order.timer(order.state, hub.policies.owner(None)))
    return commitment


def reject_requisition(
    tx: Transaction, hub: Hub, requisition_id: str, actor: Actor, comment: str | None
) -> None:
    """A person rejects the requisition; nothing is ordered."""
    flow = RequisitionFlow.load(tx, hub, requisition_id)
    check_decider(flow, actor)
    requisition = _requisition(tx, requisition_id)
    flow.rejected(actor, comment)
    tx.save(
        requisition.model_copy(update={"status": RequisitionStatus.REJECTED}),
        actor=actor.id,
    )


def _requisition(tx: Transaction, requisition_id: str) -> Requisition:
    requisition = tx.get(Requisition, requisition_id)
    if requisition is None:
        raise RecordNotFound("requisition", requisition_id)
    return requisition


def _commitment_from(requisition: Requisition) -> Commitment:
    return Commitment(
        origin=Origin(system=HUB_SYSTEM, key=f"requisition:{requisition.id}"),
        number=f"PO-{requisition.number}",
        commitment_type=requisition.commitment_type,
        legal_entity_id=requisition.legal_entity_id,
        project_id=requisition.project_id,
        supplier_id=requisition.supplier_id,
        currency=requisition.currency,
        status=CommitmentStatus.APPROVED,
        description=requisition.description,
        retention_percent=requisition.retention_percent,
        retention_cap=requisition.retention_cap,
        retention_terms=requisition.retention_terms,
        lines=[
            CommitmentLine(
                line_key=line.line_key,
                description=line.description,
                project_id=requisition.project_id,
                cost_code=line.cost_code,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in requisition.lines
        ],
    )


def dispatch_order(
    tx: Transaction, hub: Hub, commitment: Commitment, erp_ref: str
) -> None:
    """The ERP confirmed the order: record its ref (idempotent).

    An order tieline made from a requisition has its workflow already; a
    commitment awarded elsewhere (project controls, an import) starts one
    here. A delivery recorded before the ERP answered has moved the order on
    already: then the ref is only noted.
    """
    actor = system_actor("erp", "push_purchase_order")
    order, _ = OrderFlow.start(
        tx,
        hub,
        document_id=commitment.id,
        document_ref=commitment.number,
        actor=actor,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
    )
    if order.data.get("erp_ref") == erp_ref:
        return
    if order.state is OrderState.AWAITING_DISPATCH:
        order.dispatched(actor, erp_ref)
        return
    order.data["erp_ref"] = erp_ref
    order.save_data()


def record_receipt(tx: Transaction, hub: Hub, receipt: GoodsReceipt) -> None:
    """A confirmed delivery moves its order to partly or fully received.

    Only receipts the order's workflow has handled count (`data["receipts"]`),
    never one merely stored: two deliveries imported together move the order
    one at a time, partly received, then received. A receipt handled before
    changes nothing. One that arrives when the order is received already (a
    delivery handled late, or more than was ordered) moves nothing; a line it
    takes past its ordered quantity goes to the exception queue.
    """
    if receipt.status is not ReceiptStatus.CONFIRMED:
        return
    lock_commitment(tx, receipt.commitment_id)
    commitment = commitment_of(tx, receipt.commitment_id)
    order, _ = OrderFlow.start(
        tx,
        hub,
        document_id=commitment.id,
        document_ref=commitment.number,
        actor=system_actor(receipt.origin.system, "receipt"),
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        data={},
    )
    if (
        order.state is OrderState.AWAITING_DISPATCH
        and commitment.origin.system != HUB_SYSTEM
    ):
        # An order the ERP made itself was dispatched there.
        order.dispatched(
            system_actor(commitment.origin.system, "order"), commitment.number
        )
    receipts: list[str] = order.data.setdefault("receipts", [])
    if receipt.id in receipts:
        return
    receipts.append(receipt.id)
    lines = contract_lines(tx, commitment)
    received = _received(tx, receipts)
    over = _over_ordered(lines, received, _quantities([receipt]))
    for key in over:
        flag_over_receipt(tx, hub, order, receipt, key, lines, received)
    actor = system_actor(receipt.origin.system, "receipt")
    if order.state is OrderState.RECEIVED:
        order.save_data()
        log.info(
            "order.late_receipt",
            order=commitment.number,
            receipt=receipt.number,
            over_lines=over,
        )
    elif receipt.final or _fully_received(lines, received):
        order.received(actor, receipt)
    else:
        order.partly_received(actor, receipt)
    rematch_held(tx, hub, commitment, f"receipt {receipt.number}")


def _quantities(receipts: list[GoodsReceipt]) -> dict[str, Decimal]:
    """Quantity received per commitment line key, over `receipts`."""
    sums: dict[str, Decimal] = {}
    for receipt in receipts:
        for line in receipt.lines:
            key = line.commitment_line_key
            sums[key] = sums.get(key, Decimal(0)) + line.quantity
    return sums


def _received(tx: Transaction, receipt_ids: list[str]) -> dict[str, Decimal]:
    """What the handled receipts (still confirmed) add up to, per line key."""
    found = [tx.get(GoodsReceipt, receipt_id) for receipt_id in receipt_ids]
    return _quantities(
        [r for r in found if r is not None and r.status is ReceiptStatus.CONFIRMED]
    )


def _fully_received(
    lines: dict[str, ContractLine], received: dict[str, Decimal]
) -> bool:
    return all(
        line.quantity is not None
        and received.get(line.line_key, Decimal(0)) >= line.quantity
        for line in lines.values()
    )


def _over_ordered(
    lines: dict[str, ContractLine],
    received: dict[str, Decimal],
    delivered: dict[str, Decimal],
) -> list[str]:
    """The line keys this delivery (`delivered`) took past their ordered quantity."""
    over = []
    for key, quantity in delivered.items():
        line = lines.get(key)
        if line is None or line.quantity is None or quantity <= 0:
            continue
        if received.get(key, Decimal(0)) > line.quantity:
            over.append(key)
    return sorted(over)


def flag_over_receipt(
    tx: Transaction,
    hub: Hub,
    order: OrderFlow,
    receipt: GoodsReceipt,
    key: str,
    lines: dict[str, ContractLine],
    received: dict[str, Decimal],
) -> None:
    """Put a line received past its ordered quantity on the exception queue."""
    ordered = lines[key].quantity or Decimal(0)
    total = received[key]
    reason = (
        f"over-receipt on order {order.instance.document_ref}: receipt "
        f"{receipt.number} brings line {key} to {_plain(total)} received of "
        f"{_plain(ordered)} ordered ({_plain(total - ordered)} over)"
    )
    queue_exception(tx, hub, order.instance, reason, hub.policies.owner(None))
    log.warning(
        "order.over_receipt",
        order=order.instance.document_ref,
        receipt=receipt.number,
        line=key,
        received=str(total),
        ordered=str(ordered),
    )


def _plain(quantity: Decimal) -> str:
    """A quantity as people write it: 45, 33.3 (no exponent, no trailing zeros)."""
    text = f"{quantity:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
