"""The estate's documents: orders, change orders, receipts, claims, payments.

- A commitment is a `commitments` header row with its `commitment_lines`; a
  line whose quantity x unit price differs from its amount by more than a
  cent is flagged and kept as written (the amount is what was agreed).
- A receipt line is valued at its order line's unit price, rounded once.
- A progress claim takes its retention rate and cap from the subcontract, and
  its previously certified work and retention held from the claim of the
  period before (in this export or the store); the first period has none.
- A payment's allocations name invoices by the supplier's reference. Among
  the invoices of that supplier with that reference, the one that counts
  (matched or later) is taken; none, or several, reject the payment.
"""

from __future__ import annotations

from decimal import Decimal

from tieline.intake.builders._estate import (
    Estate,
    RowProblem,
    differs_by_more_than_a_cent,
    grouped,
    header,
)
from tieline.intake.matching import COUNTED
from tieline.intake.readers import Row, Table
from tieline.model import (
    ChangeOrder,
    ChangeOrderLine,
    ClaimLine,
    Commitment,
    CommitmentLine,
    GoodsReceipt,
    InvoiceType,
    Payment,
    PaymentAllocation,
    ProgressClaim,
    ReceiptLine,
)
from tieline.model.invoices import SupplierInvoice
from tieline.money import round_money

_COMMITMENT_HEADER = (
    "type",
    "entity_code",
    "project_code",
    "vendor_code",
    "currency",
    "status",
    "retention_percent",
    "order_date",
    "description",
)


def build_commitments(estate: Estate, table: Table) -> None:
    """One commitment per order number: its header row and its lines."""
    lines = dict(grouped(estate.context.tables.get("commitment_lines"), "number"))
    for number, rows in grouped(table, "number"):
        order_lines = lines.get(number, [])

        def build(
            number: str = number,
            rows: list[Row] = rows,
            order_lines: list[Row] = order_lines,
        ) -> Commitment:
            head = header(rows, _COMMITMENT_HEADER)
            if not order_lines:
                raise RowProblem("number", f"order {number} has no lines")
            return Commitment(
                origin=estate.origin(number),
                number=number,
                commitment_type=head["type"],
                legal_entity_id=estate.entity(head["entity_code"]).id,
                project_id=estate.project(head["project_code"]).id,
                supplier_id=estate.supplier_id(head["vendor_code"]),
                currency=head["currency"],
                status=head["status"],
                retention_percent=head["retention_percent"] or Decimal(0),
                order_date=head["order_date"],
                description=head["description"] or "",
                lines=[_commitment_line(estate, row) for row in order_lines],
            )

        if estate.save([*rows, *order_lines], build, line_rows=order_lines) is not None:
            _flag_line_arithmetic(estate, order_lines)


def _commitment_line(estate: Estate, row: Row) -> CommitmentLine:
    values = row.values
    estate.check_cost_code(values["cost_code"])
    return CommitmentLine(
        line_key=str(values["line"]),
        description=values.get("description") or "",
        project_id=estate.project(values["project_code"]).id,
        cost_code=values["cost_code"],
        quantity=values.get("quantity"),
        unit=values.get("unit"),
        unit_price=values.get("unit_price"),
        amount=values["amount"],
    )


def _flag_line_arithmetic(estate: Estate, rows: list[Row]) -> None:
    for row in rows:
        values = row.values
        quantity, price = values.get("quantity"), values.get("unit_price")
        if differs_by_more_than_a_cent(quantity, price, values["amount"]):
            estate.context.flag_row(
                row,
                "amount",
                f"quantity {quantity} x unit price {price} is not the amount "
                f"{values['amount']}; taken as written",
            )


def build_change_orders(estate: Estate, table: Table) -> None:
    """One change order per number, its lines changing or adding order lines."""
    for number, rows in grouped(table, "number"):

        def build(number: str = number, rows: list[Row] = rows) -> ChangeOrder:
            head = header(rows, ("commitment", "reason", "status"))
            commitment = estate.commitment(head["commitment"])
            for row in rows:
                estate.check_cost_code(row.values["cost_code"])
            return ChangeOrder(
                origin=estate.origin(number),
                commitment_id=commitment.id,
                number=number,
                reason=head["reason"],
                currency=commitment.currency,
                status=head["status"],
                lines=[
                    ChangeOrderLine(
                        line_key=str(row.values["line"]),
                        cost_code=row.values["cost_code"],
                        description=row.values.get("description") or "",
                        quantity=row.values.get("quantity"),
                        amount=row.values["amount"],
                    )
                    for row in rows
                ],
            )

        estate.save(rows, build)


def build_receipts(estate: Estate, table: Table) -> None:
    """One goods receipt per number, valued at the order's unit prices."""
    for number, rows in grouped(table, "grn"):

        def build(number: str = number, rows: list[Row] = rows) -> GoodsReceipt:
            head = header(rows, ("commitment", "received_on", "final"))
            commitment = estate.commitment(head["commitment"])
            return GoodsReceipt(
                origin=estate.origin(number),
                commitment_id=commitment.id,
                number=number,
                received_on=head["received_on"],
                currency=commitment.currency,
                final=bool(head["final"]),
                lines=[_receipt_line(commitment, row) for row in rows],
            )

        estate.save(rows, build)


def _receipt_line(commitment: Commitment, row: Row) -> ReceiptLine:
    key = str(row.values["line"])
    line = next((x for x in commitment.lines if x.line_key == key), None)
    if line is None:
        raise RowProblem("line", f"order {commitment.number} has no line {key}")
    if line.unit_price is None:
        raise RowProblem(
            "line", f"line {key} of {commitment.number} has no unit price to value"
        )
    quantity: Decimal = row.values["quantity"]
    return ReceiptLine(
        commitment_line_key=key,
        quantity=quantity,
        amount=round_money(quantity * line.unit_price, commitment.currency),
    )


def build_claims(estate: Estate, table: Table) -> None:
    """Progress claims, period by period, each carrying on from the one before."""
    built: dict[tuple[str, int], ProgressClaim] = {}
    groups = sorted(grouped(table, "claim"), key=lambda group: _claim_order(group[1]))
    for reference, rows in groups:
        claim = estate.save(
            rows,
            lambda reference=reference, rows=rows: _claim(
                estate, built, reference, rows
            ),
        )
        if isinstance(claim, ProgressClaim):
            built[(claim.commitment_id, claim.period)] = claim


def _claim(
    estate: Estate,
    built: dict[tuple[str, int], ProgressClaim],
    reference: str,
    rows: list[Row],
) -> ProgressClaim:
    head = header(rows, ("subcontract", "period", "period_end", "status"))
    commitment = estate.commitment(head["subcontract"], "subcontract")
    previous = _previous_claim(estate, built, commitment, head["period"])
    certified = _certified_by_line(previous)
    return ProgressClaim(
        origin=estate.origin(reference),
        commitment_id=commitment.id,
        period=head["period"],
        period_end=head["period_end"],
        currency=commitment.currency,
        status=head["status"],
        retention_percent=commitment.retention_percent,
        retention_cap=commitment.retention_cap,
        previous_retention_held=previous.retention_held() if previous else Decimal(0),
        lines=[
            ClaimLine(
                commitment_line_key=str(row.values["line"]),
                claimed_to_date=row.values["claimed_to_date"],
                certified_to_date=row.values.get("certified_to_date"),
                previously_certified=certified.get(str(row.values["line"]), Decimal(0)),
            )
            for row in rows
        ],
    )


def _claim_order(rows: list[Row]) -> tuple[str, int]:
    return (str(rows[0].values["subcontract"]), int(rows[0].values["period"]))


def _previous_claim(
    estate: Estate,
    built: dict[tuple[str, int], ProgressClaim],
    commitment: Commitment,
    period: int,
) -> ProgressClaim | None:
    if period == 1:
        return None
    found = built.get((commitment.id, period - 1))
    if found is not None:
        return found
    stored = [
        claim
        for claim in estate.context.tx.list(ProgressClaim)
        if claim.commitment_id == commitment.id and claim.period == period - 1
    ]
    if len(stored) != 1:
        raise RowProblem(
            "period",
            f"period {period} of {commitment.number} needs the claim of period "
            f"{period - 1}, found {len(stored)}",
        )
    return stored[0]


def _certified_by_line(claim: ProgressClaim | None) -> dict[str, Decimal]:
    if claim is None:
        return {}
    return {
        line.commitment_line_key: line.certified_to_date
        if line.certified_to_date is not None
        else line.claimed_to_date
        for line in claim.lines
    }


_PAYMENT_HEADER = (
    "entity_code",
    "vendor_name",
    "vat_number",
    "paid_on",
    "currency",
    "amount",
)


def build_payments(estate: Estate, table: Table) -> None:
    """Payments, each allocated to the invoices its rows name."""
    invoices = estate.context.tx.list(SupplierInvoice)
    for reference, rows in grouped(table, "payment"):

        def build(reference: str = reference, rows: list[Row] = rows) -> Payment:
            head = header(rows, _PAYMENT_HEADER)
            supplier = estate.linker.link(
                head["vendor_name"], tax_id=head["vat_number"]
            )
            return Payment(
                origin=estate.origin(reference),
                legal_entity_id=estate.entity(head["entity_code"]).id,
                supplier_id=supplier.id,
                reference=reference,
                paid_on=head["paid_on"],
                currency=head["currency"],
                amount=head["amount"],
                allocations=[
                    PaymentAllocation(
                        invoice_id=_invoice_paid(invoices, supplier.id, row).id,
                        amount=row.values["allocated"],
                    )
                    for row in rows
                ],
            )

        estate.save(rows, build)


def _invoice_paid(
    invoices: list[SupplierInvoice], supplier_id: str, row: Row
) -> SupplierInvoice:
    reference = row.values["invoice"]
    named = [
        i
        for i in invoices
        if i.supplier_id == supplier_id
        and i.supplier_reference == reference
        and i.invoice_type is InvoiceType.INVOICE
    ]
    counted = [i for i in named if i.status in COUNTED]
    if len(counted) == 1:
        return counted[0]
    reason = (
        f"invoice {reference} of this supplier is not in the store"
        if not named
        else f"invoice {reference} names {len(named)} invoices, "
        f"{len(counted)} of them matched"
    )
    raise RowProblem("invoice", reason)
