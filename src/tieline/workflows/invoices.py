"""Invoice to payment: duplicates, the three-way match, approval, posting, payment.

A received invoice is first checked for a duplicate: the same supplier (its
canonical id, else its name as written) and the same reference (spaces and
case ignored) already seen stops it as `duplicate` and rejects the record,
the reason naming the supplier and both invoices by number and date.
Then it is matched three ways (`tieline.workflows._match`) with the
tolerances of its legal entity. Within tolerance, the policy itself approves
it (the transition's actor is `policy:three-way-match`, never a person or a
service). Otherwise it waits for a person of the `supplier_invoice` rule
(step `invoice_approval`) with the differences shown in its status reason and
in the workflow's data. An approved invoice is posted to the ERP by the
`workflow-erp` consumer; a person of the `payment_release` rule, never its
approver, releases payment (step `payment_readiness`, from posting); the ERP's
payment state, read back by `sync_payments`, closes the loop: each payment
the ERP made on the bill becomes a payment record, and the invoice is
`partly_paid` until the bill is settled in full, then `paid`. (A subcontract
bill paid at its certificate's amount due stays partly paid, its retention
open on the bill, until the retention is paid at release.)

TODO: releasing payment is recorded in tieline only; Odoo is not told, so a
payment run in Odoo is not held back for bills tieline has not released, and
what Odoo pays before the release is read back only once it is released.

An invoice held for a person is matched again whenever its commitment gets
a confirmed receipt or a certificate (`rematch_held`): billed past receipt
today, matched once the goods are booked. Within tolerance now, the policy
approves it as it would have on arrival (the person's task and any open SLA
exception for it are closed); still out, the differences it shows are
brought up to date.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tieline.errors import RecordNotFound, RetryableError, TielineError
from tieline.logging import get_logger
from tieline.model import (
    ClaimStatus,
    Commitment,
    CommitmentType,
    GoodsReceipt,
    InvoiceStatus,
    InvoiceType,
    Origin,
    Payment,
    PaymentAllocation,
    ProgressClaim,
    ReceiptStatus,
    Supplier,
    SupplierInvoice,
)
from tieline.store import Store, Transaction
from tieline.workflows._common import (
    contract_lines,
    legal_entity_code,
    lock_commitment,
    route,
    subject,
    writer,
)
from tieline.workflows._duties import check_decider, check_releaser, party
from tieline.workflows._identity import Actor, ActorKind, policy_actor, system_actor
from tieline.workflows._machine import Hub, Machine, Spec
from tieline.workflows._match import Difference, Progress, three_way_match
from tieline.workflows._policy import DocumentType
from tieline.workflows._sla import resolve_exception
from tieline.workflows._tables import (
    insert_or_skip,
    invoice_references,
    workflow_exceptions,
    workflow_instances,
)
from tieline.workflows.erp import ErpGateway, ErpPayment

log = get_logger(__name__)

MATCH_POLICY = "three-way-match"
# Invoices whose lines count as billed when matching a later one.
_BILLED = frozenset(
    {
        InvoiceStatus.MATCHED,
        InvoiceStatus.APPROVED,
        InvoiceStatus.POSTED,
        InvoiceStatus.PAID,
    }
)


class InvoiceState(enum.StrEnum):
    RECEIVED = "received"
    DUPLICATE = "duplicate"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    POSTED = "posted"
    RELEASED = "released"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"


class InvoiceFlow(Machine[InvoiceState]):
    """An invoice's life from receipt to payment."""

    spec = Spec(
        name="invoice",
        document_kind="supplier_invoice",
        initial=InvoiceState.RECEIVED,
        moves={
            InvoiceState.RECEIVED: frozenset(
                {
                    InvoiceState.DUPLICATE,
                    InvoiceState.APPROVED,
                    InvoiceState.AWAITING_APPROVAL,
                }
            ),
            InvoiceState.AWAITING_APPROVAL: frozenset(
                {InvoiceState.APPROVED, InvoiceState.REJECTED}
            ),
            InvoiceState.APPROVED: frozenset({InvoiceState.POSTED}),
            InvoiceState.POSTED: frozenset({InvoiceState.RELEASED}),
            InvoiceState.RELEASED: frozenset(
                {InvoiceState.PARTLY_PAID, InvoiceState.PAID}
            ),
            InvoiceState.PARTLY_PAID: frozenset({InvoiceState.PAID}),
        },
        waits={
            InvoiceState.AWAITING_APPROVAL: "invoice_approval",
            InvoiceState.POSTED: "payment_readiness",
        },
    )

    def duplicate(self, actor: Actor, original: SupplierInvoice, reason: str) -> None:
        """The supplier and reference were seen on invoice `original`."""
        self.data["duplicate_of"] = original.id
        self.data["duplicate_of_ref"] = original.supplier_reference
        self._move(InvoiceState.DUPLICATE, actor, comment=reason)

    def awaiting_approval(self, actor: Actor, differences: list[Difference]) -> None:
        """The match found differences; a person decides."""
        self.data["differences"] = [str(d) for d in differences]
        self._move(
            InvoiceState.AWAITING_APPROVAL,
            actor,
            comment="; ".join(self.data["differences"]),
        )

    def approved(self, actor: Actor, comment: str | None) -> None:
        """Approved by a person, or by the match policy within tolerance."""
        self.data["approved_by"] = party(actor)
        self._move(InvoiceState.APPROVED, actor, comment=comment)

    def rejected(self, actor: Actor, comment: str | None) -> None:
        """A person rejected the invoice."""
        self._move(InvoiceState.REJECTED, actor, comment=comment)

    def posted(self, actor: Actor, bill_ref: str) -> None:
        """The ERP holds the invoice as a posted bill."""
        self.data["bill_ref"] = bill_ref
        self._move(InvoiceState.POSTED, actor, comment=bill_ref)

    def released(self, actor: Actor, comment: str | None) -> None:
        """A person released the payment."""
        self.data["released_by"] = party(actor)
        self._move(InvoiceState.RELEASED, actor, comment=comment)

    def partly_paid(self, actor: Actor, comment: str) -> None:
        """The ERP paid part of the bill."""
        self._move(InvoiceState.PARTLY_PAID, actor, comment=comment)

    def paid(self, actor: Actor, comment: str) -> None:
        """The ERP settled the bill in full."""
        self._move(InvoiceState.PAID, actor, comment=comment)


def start_invoice(tx: Transaction, hub: Hub, invoice: SupplierInvoice) -> None:
    """Check a received invoice for a duplicate, match it, approve or route it."""
    if invoice.status is not InvoiceStatus.RECEIVED:
        return
    actor = system_actor(invoice.origin.system, "intake")
    data: dict[str, Any] = {"amount": str(invoice.gross_total)}
    keyed = writer(hub, invoice)
    if keyed.kind is ActorKind.PERSON:
        # Keyed in by a person over the API: they cannot approve it either.
        data["requested_by"] = party(keyed)
    flow, new = InvoiceFlow.start(
        tx,
        hub,
        document_id=invoice.id,
        document_ref=invoice.supplier_reference,
        actor=actor,
        legal_entity_id=invoice.legal_entity_id,
        project_id=invoice.project_id,
        data=data,
    )
    if not new:
        return
    if invoice.commitment_id:
        lock_commitment(tx, invoice.commitment_id)
    original = _first_seen(tx, hub, invoice)
    if original is not None:
        earlier = _invoice(tx, original)
        reason = _duplicate_reason(tx, invoice, earlier)
        flow.duplicate(actor, earlier, reason)
        _set_status(tx, invoice, InvoiceStatus.REJECTED, actor, reason)
        return
    differences = match_invoice(tx, hub, invoice)
    if not differences:
        _approve_by_policy(tx, flow, invoice, "")
        return
    _route_for_approval(tx, hub, flow, invoice, differences, actor)


def _approve_by_policy(
    tx: Transaction, flow: InvoiceFlow, invoice: SupplierInvoice, after: str
) -> None:
    """The match policy approves (never a person, never a service)."""
    code = legal_entity_code(tx, invoice.legal_entity_id) or "default"
    note = f"matched within the tolerances of {code}{after}"
    flow.approved(policy_actor(MATCH_POLICY), note)
    _set_status(tx, invoice, InvoiceStatus.APPROVED, policy_actor(MATCH_POLICY), note)


def rematch_held(
    tx: Transaction, hub: Hub, commitment: Commitment, cause: str
) -> list[SupplierInvoice]:
    """Match again the commitment's invoices waiting for a person.

    Called when a receipt or certificate adds to what the commitment has
    received, under `lock_commitment`. An invoice now within tolerance is
    approved by the policy (its comment names `cause`, "receipt GR-7") and
    returned; one still out keeps waiting with its differences brought up
    to date.
    """
    approved = []
    for flow, invoice in _held(tx, hub, commitment.id):
        differences = match_invoice(tx, hub, invoice)
        if not differences:
            # Closed first, so that their note says why (the policy approved).
            _close_exceptions(tx, hub, flow, cause)
            _approve_by_policy(tx, flow, invoice, f" after {cause}")
            approved.append(invoice)
            log.info(
                "invoice.rematched",
                invoice=invoice.supplier_reference,
                cause=cause,
                approved=True,
            )
            continue
        shown = [str(d) for d in differences]
        if shown != flow.data.get("differences"):
            flow.data["differences"] = shown
            flow.save_data()
            reason = "waiting for a person: " + "; ".join(shown)
            _set_status(
                tx,
                invoice,
                InvoiceStatus.RECEIVED,
                system_actor("tieline", "rematch"),
                reason,
            )
    return approved


def _held(
    tx: Transaction, hub: Hub, commitment_id: str
) -> list[tuple[InvoiceFlow, SupplierInvoice]]:
    rows = tx.connection.execute(
        select(workflow_instances.c.document_id)
        .where(
            workflow_instances.c.workflow == InvoiceFlow.spec.name,
            workflow_instances.c.state == InvoiceState.AWAITING_APPROVAL.value,
        )
        .order_by(workflow_instances.c.created_at)
    )
    held = []
    for row in rows:
        invoice = tx.get(SupplierInvoice, row.document_id)
        if invoice is not None and invoice.commitment_id == commitment_id:
            held.append((InvoiceFlow.load(tx, hub, invoice.id), invoice))
    return held


def _close_exceptions(tx: Transaction, hub: Hub, flow: InvoiceFlow, cause: str) -> None:
    """Resolve the open SLA exceptions of an invoice the policy has now approved."""
    rows = tx.connection.execute(
        select(workflow_exceptions.c.id).where(
            workflow_exceptions.c.instance_id == flow.instance.id,
            workflow_exceptions.c.status == "open",
        )
    )
    for row in rows.all():
        resolve_exception(
            tx,
            hub,
            row.id,
            by=policy_actor(MATCH_POLICY).id,
            note=f"matched after {cause}; approved by the policy",
        )


def _route_for_approval(
    tx: Transaction,
    hub: Hub,
    flow: InvoiceFlow,
    invoice: SupplierInvoice,
    differences: list[Difference],
    actor: Actor,
) -> None:
    commitment = (
        tx.get(Commitment, invoice.commitment_id) if invoice.commitment_id else None
    )
    found = subject(
        tx,
        DocumentType.SUPPLIER_INVOICE,
        legal_entity_id=invoice.legal_entity_id
        or (commitment.legal_entity_id if commitment else None),
        project_id=invoice.project_id
        or (commitment.project_id if commitment else None),
        amount=invoice.gross_total,
        contract_type=commitment.commitment_type.value if commitment else "",
    )
    rule, assignees = route(flow, hub, found)
    flow.awaiting_approval(actor, differences)
    flow.wait(assignees, flow.timer(flow.state, hub.policies.owner(rule)))
    reason = "waiting for a person: " + "; ".join(flow.data["differences"])
    _set_status(tx, invoice, InvoiceStatus.RECEIVED, actor, reason)


def match_invoice(
    tx: Transaction, hub: Hub, invoice: SupplierInvoice
) -> list[Difference]:
    """The differences of `invoice` from its order and receipts (or certificates)."""
    if invoice.invoice_type is InvoiceType.CREDIT_NOTE:
        return [
            Difference(
                "*", "credit note", "an invoice", "a credit note", "a person's decision"
            )
        ]
    commitment = (
        tx.get(Commitment, invoice.commitment_id) if invoice.commitment_id else None
    )
    if commitment is None:
        return [
            Difference(
                "*", "order", "a known order", str(invoice.commitment_reference), "none"
            )
        ]
    tolerance = hub.policies.tolerance(
        legal_entity_code(tx, commitment.legal_entity_id)
    )
    return three_way_match(
        invoice,
        contract_lines(tx, commitment),
        _received(tx, commitment),
        _billed_before(tx, commitment, invoice),
        tolerance,
    )


def _received(tx: Transaction, commitment: Commitment) -> dict[str, Progress]:
    progress: dict[str, Progress] = {}
    if commitment.commitment_type is CommitmentType.SUBCONTRACT:
        latest = latest_certificate(tx, commitment.id)
        for claim_line in latest.lines if latest else []:
            certified = claim_line.certified_to_date or Decimal(0)
            progress[claim_line.commitment_line_key] = Progress(Decimal(0), certified)
        return progress
    for receipt in tx.list(GoodsReceipt, status=ReceiptStatus.CONFIRMED.value):
        if receipt.commitment_id == commitment.id:
            for line in receipt.lines:
                key = line.commitment_line_key
                progress[key] = progress.get(key, Progress()).plus(
                    line.quantity, line.amount
                )
    return progress


def _billed_before(
    tx: Transaction, commitment: Commitment, invoice: SupplierInvoice
) -> dict[str, Progress]:
    progress: dict[str, Progress] = {}
    for other in tx.list(SupplierInvoice):
        if other.id == invoice.id or other.commitment_id != commitment.id:
            continue
        if other.status not in _BILLED:
            continue
        for line in other.lines:
            if line.commitment_line_key:
                key = line.commitment_line_key
                amount = other.sign * line.net_amount
                quantity = None if line.quantity is None else other.sign * line.quantity
                progress[key] = progress.get(key, Progress()).plus(quantity, amount)
    return progress


def latest_certificate(tx: Transaction, commitment_id: str) -> ProgressClaim | None:
    """The certified (or paid) claim of the latest period of a subcontract."""
    certified = [
        claim
        for claim in tx.list(ProgressClaim)
        if claim.commitment_id == commitment_id
        and claim.status in (ClaimStatus.CERTIFIED, ClaimStatus.PAID)
    ]
    return max(certified, key=lambda c: c.period, default=None)


def _first_seen(tx: Transaction, hub: Hub, invoice: SupplierInvoice) -> str | None:
    """The id of an earlier invoice with this supplier and reference, if any."""
    supplier = invoice.supplier_id or "name:" + " ".join(
        invoice.supplier_name.casefold().split()
    )
    reference = "".join(invoice.supplier_reference.casefold().split())
    key = {"supplier_key": supplier[:200], "reference": reference[:200]}
    statement = insert_or_skip(
        tx.connection,
        invoice_references,
        **key,
        invoice_id=invoice.id,
        seen_at=hub.clock(),
    )
    claimed = tx.connection.execute(
        statement.returning(invoice_references.c.invoice_id)
    ).first()
    if claimed is not None:
        return None
    first: str = tx.connection.execute(
        select(invoice_references.c.invoice_id).filter_by(**key)
    ).scalar_one()
    return None if first == invoice.id else first


def _duplicate_reason(
    tx: Transaction, invoice: SupplierInvoice, original: SupplierInvoice
) -> str:
    """Why `invoice` is stopped, in the words on the supplier's paper.

    Names the supplier, the invoice's own number and date, and the earlier
    invoice's number and date (never tieline's ids, which nobody has on file).
    """
    supplier = tx.get(Supplier, invoice.supplier_id) if invoice.supplier_id else None
    name = supplier.legal_name if supplier is not None else invoice.supplier_name
    label = invoice.invoice_type.value.replace("_", " ")
    return (
        f"{name.strip()} {label} {invoice.supplier_reference.strip()} of "
        f"{invoice.issue_date.isoformat()} duplicates "
        f"{original.invoice_type.value.replace('_', ' ')} "
        f"{original.supplier_reference.strip()} of "
        f"{original.issue_date.isoformat()} (same supplier and reference)"
    )


def _set_status(
    tx: Transaction,
    invoice: SupplierInvoice,
    status: InvoiceStatus,
    actor: Actor,
    reason: str | None,
) -> SupplierInvoice:
    current = tx.get(SupplierInvoice, invoice.id) or invoice
    updated = current.model_copy(update={"status": status, "status_reason": reason})
    tx.save(updated, actor=actor.id)
    return updated


def approve_invoice(
    tx: Transaction, hub: Hub, invoice_id: str, actor: Actor, comment: str | None
) -> None:
    """A person approves an invoice the match sent to them."""
    flow = InvoiceFlow.load(tx, hub, invoice_id)
    check_decider(flow, actor)
    flow.approved(actor, comment)
    _set_status(tx, _invoice(tx, invoice_id), InvoiceStatus.APPROVED, actor, comment)


def reject_invoice(
    tx: Transaction, hub: Hub, invoice_id: str, actor: Actor, comment: str | None
) -> None:
    """A person rejects an invoice; it is not posted or paid."""
    flow = InvoiceFlow.load(tx, hub, invoice_id)
    check_decider(flow, actor)
    flow.rejected(actor, comment)
    _set_status(tx, _invoice(tx, invoice_id), InvoiceStatus.REJECTED, actor, comment)


def post_invoice(
    tx: Transaction, hub: Hub, invoice: SupplierInvoice, gateway: ErpGateway
) -> None:
    """Post an approved invoice to the ERP, then wait for payment release."""
    flow = InvoiceFlow.load(tx, hub, invoice.id)
    if flow.state is not InvoiceState.APPROVED:
        return
    bill_ref = gateway.post_vendor_bill(tx, invoice)
    actor = system_actor("erp", "post_vendor_bill")
    commitment = (
        tx.get(Commitment, invoice.commitment_id) if invoice.commitment_id else None
    )
    found = subject(
        tx,
        DocumentType.PAYMENT_RELEASE,
        legal_entity_id=invoice.legal_entity_id
        or (commitment.legal_entity_id if commitment else None),
        project_id=invoice.project_id
        or (commitment.project_id if commitment else None),
        amount=invoice.gross_total,
        contract_type=commitment.commitment_type.value if commitment else "",
    )
    rule = hub.policies.rule_for(found)
    assignees = hub.policies.assignees(rule, hub.clock().date())
    flow.posted(actor, bill_ref)
    flow.wait(assignees, flow.timer(flow.state, hub.policies.owner(rule)))
    _set_status(tx, invoice, InvoiceStatus.POSTED, actor, bill_ref)


def release_payment(
    tx: Transaction, hub: Hub, invoice_id: str, actor: Actor, comment: str | None
) -> None:
    """A person (never the invoice's approver) releases its payment."""
    flow = InvoiceFlow.load(tx, hub, invoice_id)
    check_releaser(flow, actor)
    flow.released(actor, comment)


def sync_payments(store: Store, hub: Hub, gateway: ErpGateway) -> list[Payment]:
    """Read the ERP's payments on released invoices; returns the new ones.

    One transaction per invoice, so one bill the ERP cannot read does not
    hold back the others' payments (its error is raised after them). Run it
    again and again: a payment already recorded is not recorded twice.
    """
    with store.transaction() as tx:
        waiting = [row.document_id for row in _unpaid_rows(tx)]
    payments: list[Payment] = []
    failed: list[TielineError] = []
    for invoice_id in waiting:
        try:
            with store.transaction() as tx:
                payments.extend(_sync_one(tx, hub, gateway, invoice_id))
        except RetryableError as err:
            log.info("payments.sync_deferred", invoice_id=invoice_id, error=str(err))
            failed.append(err)
        except TielineError as err:
            log.warning("payments.sync_failed", invoice_id=invoice_id, error=str(err))
            failed.append(err)
    if failed:
        raise failed[0]
    return payments


def _unpaid_rows(tx: Transaction) -> list[Any]:
    return list(
        tx.connection.execute(
            select(workflow_instances).where(
                workflow_instances.c.workflow == InvoiceFlow.spec.name,
                workflow_instances.c.state.in_(
                    [InvoiceState.RELEASED.value, InvoiceState.PARTLY_PAID.value]
                ),
            )
        )
    )


def _sync_one(
    tx: Transaction, hub: Hub, gateway: ErpGateway, invoice_id: str
) -> list[Payment]:
    flow = InvoiceFlow.load(tx, hub, invoice_id)
    if flow.state not in (InvoiceState.RELEASED, InvoiceState.PARTLY_PAID):
        return []  # another sweep moved it meanwhile
    invoice = _invoice(tx, invoice_id)
    state = gateway.read_payment_state(tx, invoice)
    actor = system_actor("erp", "read_payment_state")
    recorded = [
        payment
        for erp_payment in state.payments
        if (payment := _record_payment(tx, invoice, erp_payment, actor)) is not None
    ]
    settled = f"{state.amount_paid} of {invoice.gross_total} paid"
    if state.paid:
        flow.data["amount_paid"] = str(state.amount_paid)
        flow.paid(actor, settled)
        _set_status(tx, invoice, InvoiceStatus.PAID, actor, settled)
    elif state.amount_paid > _paid_so_far(flow):
        flow.data["amount_paid"] = str(state.amount_paid)
        if flow.state is InvoiceState.RELEASED:
            flow.partly_paid(actor, settled)
        else:
            flow.save_data()
        _set_status(tx, invoice, InvoiceStatus.POSTED, actor, settled)
    return recorded


def _paid_so_far(flow: InvoiceFlow) -> Decimal:
    """What the ERP had paid on the invoice when it was last read."""
    return Decimal(flow.data.get("amount_paid", "0"))


def _record_payment(
    tx: Transaction, invoice: SupplierInvoice, paid: ErpPayment, actor: Actor
) -> Payment | None:
    """The ERP payment as a payment record, or None when it is recorded already.

    A payment that settled several bills is recorded once per invoice, each
    record carrying the part that settled that invoice, under the ERP's own
    reference (the records' ids differ by the invoice's).
    """
    commitment = (
        tx.get(Commitment, invoice.commitment_id) if invoice.commitment_id else None
    )
    payment = Payment(
        origin=Origin(system="erp", key=f"{paid.reference}/{invoice.id}"),
        legal_entity_id=invoice.legal_entity_id
        or (commitment.legal_entity_id if commitment else ""),
        supplier_id=invoice.supplier_id
        or (commitment.supplier_id if commitment else ""),
        reference=paid.reference,
        paid_on=paid.paid_on,
        currency=invoice.currency,
        amount=paid.amount,
        allocations=[PaymentAllocation(invoice_id=invoice.id, amount=paid.amount)],
    )
    if tx.get(Payment, payment.id) is not None:
        return None
    tx.save(payment, actor=actor.id)
    return payment


def _invoice(tx: Transaction, invoice_id: str) -> SupplierInvoice:
    invoice = tx.get(SupplierInvoice, invoice_id)
    if invoice is None:
        raise RecordNotFound("supplier invoice", invoice_id)
    return invoice
