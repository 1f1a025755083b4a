"""Matching supplier invoices to the commitments they bill.

An invoice names its commitment by number (a UBL `OrderReference`). Settling
an invoice decides its status from what the store holds:

- `matched`: the number names exactly one approved (or closed) commitment of
  the invoice's currency (and supplier, once both are known). The invoice takes
  the commitment's legal entity and project, and each line the project and cost
  code of the order line it names. Variances found on the way (a unit price
  other than the order's, more quantity invoiced to date than received, more
  invoiced to date on a subcontract line than certified) are written in
  `status_reason` and flagged; the invoice stays matched, for a person to
  approve or dispute.
- `unmatched`: no commitment, or not one it may bill; `status_reason` says
  why in words. Its lines carry no cost code, so it counts nowhere until a
  person settles it.
- A possible duplicate (same supplier, type and reference as another invoice,
  other amounts) is held as `unmatched` with the reason, whichever commitment
  it names; the earliest issued of the group (ties: the smaller identity key)
  stands, so the outcome does not depend on import order.

Credit notes reduce what is invoiced but take no part in the price and
quantity checks: a credit may be for a price difference or for goods sent
back, and the document does not say which.

"To date" means this invoice and every matched invoice of the same
commitment before it in (issue date, reference, id) order, so re-importing
the same invoices gives the same answers.

TODO: an invoice with variances stays `matched`, since the model has no
on-hold status: until the procure-to-pay workflow lands, a person finds them
by their `status_reason` (`tieline demo` lists them) and the cost report
counts them as invoiced before anyone has approved the variance.
TODO: variances are checked when an invoice is imported. A receipt or a
certificate that arrives later does not clear (or raise) the flag on an
invoice already stored until that invoice is imported again, so the list of
variances can be stale after receipts come in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from tieline.model import (
    ChangeOrder,
    ChangeOrderStatus,
    ClaimStatus,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    GoodsReceipt,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    LegalEntity,
    ProgressClaim,
    Project,
    ReceiptStatus,
)
from tieline.model.invoices import SupplierInvoice
from tieline.store import Transaction

# Statuses in which an invoice counts against its commitment.
COUNTED = frozenset(
    {
        InvoiceStatus.MATCHED,
        InvoiceStatus.APPROVED,
        InvoiceStatus.POSTED,
        InvoiceStatus.PAID,
    }
)
T = TypeVar("T")

_BILLABLE = frozenset({CommitmentStatus.APPROVED, CommitmentStatus.CLOSED})
_CERTIFIED = frozenset({ClaimStatus.CERTIFIED, ClaimStatus.PAID})


def supplier_key(tax_id: str | None, name: str) -> str:
    """Who a document is from when no supplier record is linked: tax id, else name."""
    return f"vat:{tax_id}" if tax_id else "name:" + " ".join(name.casefold().split())


def duplicate_key(invoice: SupplierInvoice) -> str:
    """What possible duplicates share: the supplier, the type and the reference."""
    who = (
        f"supplier:{invoice.supplier_id}"
        if invoice.supplier_id
        else supplier_key(invoice.supplier_tax_id, invoice.supplier_name)
    )
    return f"{who}|{invoice.invoice_type.value}|{invoice.supplier_reference}"


def billing_order(invoice: SupplierInvoice) -> tuple[Any, ...]:
    """The order in which invoices are taken when sums run "to date"."""
    return (invoice.issue_date, invoice.supplier_reference, invoice.id)


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A commitment line as billing sees it, change orders included."""

    key: str
    project_id: str
    cost_code: str
    unit_price: Decimal | None


@dataclass(frozen=True, slots=True)
class Settlement:
    """An invoice with its status decided, and the flags found on the way."""

    invoice: SupplierInvoice
    flags: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class InvoiceBook:
    """What matching reads from the store, loaded once per import run."""

    commitments: dict[str, list[Commitment]] = field(default_factory=dict)
    change_orders: dict[str, list[ChangeOrder]] = field(default_factory=dict)
    receipts: dict[str, list[GoodsReceipt]] = field(default_factory=dict)
    claims: dict[str, list[ProgressClaim]] = field(default_factory=dict)
    invoices: dict[str, SupplierInvoice] = field(default_factory=dict)
    entities_by_tax_id: dict[str, LegalEntity] = field(default_factory=dict)
    projects_by_code: dict[str, list[Project]] = field(default_factory=dict)
    # Indexes over `invoices`, kept by `put`: by duplicate key, by commitment.
    _groups: dict[str, dict[str, SupplierInvoice]] = field(default_factory=dict)
    _billing: dict[str, dict[str, SupplierInvoice]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for invoice in list(self.invoices.values()):
            self.put(invoice)

    def put(self, invoice: SupplierInvoice) -> None:
        """Hold `invoice` (a new one, or a new version of one held)."""
        previous = self.invoices.get(invoice.id)
        if previous is not None:
            self._groups.get(duplicate_key(previous), {}).pop(previous.id, None)
            self._billing.get(previous.commitment_id or "", {}).pop(previous.id, None)
        self.invoices[invoice.id] = invoice
        self._groups.setdefault(duplicate_key(invoice), {})[invoice.id] = invoice
        if invoice.commitment_id:
            self._billing.setdefault(invoice.commitment_id, {})[invoice.id] = invoice

    def billing(self, commitment_id: str) -> list[SupplierInvoice]:
        """The invoices held that bill `commitment_id`."""
        return list(self._billing.get(commitment_id, {}).values())

    # TODO: the book holds every commitment, receipt, claim and invoice of the
    # store in memory for one run; fine for a group's live documents, but a
    # store with years of history needs indexed queries by commitment instead.
    @classmethod
    def load(cls, tx: Transaction) -> InvoiceBook:
        """Read commitments, their documents and every invoice from the store."""
        return cls(
            commitments=_group(tx.list(Commitment), lambda c: c.number),
            change_orders=_group(
                (
                    c
                    for c in tx.list(ChangeOrder)
                    if c.status is ChangeOrderStatus.APPROVED
                ),
                lambda c: c.commitment_id,
            ),
            receipts=_group(
                (
                    r
                    for r in tx.list(GoodsReceipt)
                    if r.status is ReceiptStatus.CONFIRMED
                ),
                lambda r: r.commitment_id,
            ),
            claims=_group(
                (c for c in tx.list(ProgressClaim) if c.status in _CERTIFIED),
                lambda c: c.commitment_id,
            ),
            invoices={i.id: i for i in tx.list(SupplierInvoice)},
            entities_by_tax_id={
                e.tax_id: e for e in tx.list(LegalEntity) if e.tax_id is not None
            },
            projects_by_code=_group(tx.list(Project), lambda p: p.code),
        )

    def duplicates_of(self, invoice: SupplierInvoice) -> list[SupplierInvoice]:
        """Every invoice sharing `invoice`'s duplicate key, itself included."""
        group = dict(self._groups.get(duplicate_key(invoice), {}))
        group[invoice.id] = invoice
        return list(group.values())

    def standing(self, invoice: SupplierInvoice) -> SupplierInvoice | None:
        """The invoice that `invoice` possibly duplicates, or None if it stands."""
        group = self.duplicates_of(invoice)
        first = min(group, key=lambda i: (i.issue_date, i.origin.key))
        return None if first.id == invoice.id else first


def _group(items: Iterable[T], key: Any) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return dict(groups)


def settle(
    invoice: SupplierInvoice, book: InvoiceBook, *, no_order_hint: str = ""
) -> Settlement:
    """Decide `invoice`'s status, commitment and coding from the book."""
    base = _uncoded(invoice)
    standing = book.standing(base)
    if standing is not None:
        return _hold(base, standing)
    commitment, reason = _find_commitment(base, book, no_order_hint)
    if commitment is None:
        unmatched = _with(base, status=InvoiceStatus.UNMATCHED, status_reason=reason)
        return Settlement(unmatched, [("commitment_reference", reason)])
    return _match(base, commitment, book)


def _with(invoice: SupplierInvoice, **changes: Any) -> SupplierInvoice:
    return SupplierInvoice.model_validate({**invoice.model_dump(), **changes})


def _uncoded(invoice: SupplierInvoice) -> SupplierInvoice:
    lines = [
        line.model_copy(update={"project_id": None, "cost_code": None})
        for line in invoice.lines
    ]
    return invoice.model_copy(
        update={
            "status": InvoiceStatus.RECEIVED,
            "status_reason": None,
            "commitment_id": None,
            "lines": lines,
        }
    )


def _hold(invoice: SupplierInvoice, standing: SupplierInvoice) -> Settlement:
    reason = (
        f"possible duplicate of {standing.invoice_type.value.replace('_', ' ')} "
        f"{standing.supplier_reference} issued {standing.issue_date} for "
        f"{standing.gross_total} {standing.currency} (this one: "
        f"{invoice.gross_total} {invoice.currency}): same supplier and reference, "
        "other amounts; held until a person decides which stands"
    )
    held = _with(invoice, status=InvoiceStatus.UNMATCHED, status_reason=reason)
    return Settlement(held, [("supplier_reference", reason)])


def _find_commitment(
    invoice: SupplierInvoice, book: InvoiceBook, no_order_hint: str
) -> tuple[Commitment | None, str]:
    number = invoice.commitment_reference
    if number is None:
        return None, "names no purchase order or subcontract" + no_order_hint
    candidates = book.commitments.get(number, [])
    if invoice.supplier_id is not None:
        candidates = [c for c in candidates if c.supplier_id == invoice.supplier_id]
        if not candidates and book.commitments.get(number):
            return None, f"order {number} is with another supplier"
    if not candidates:
        return None, f"names order {number}, which is no known commitment"
    if len(candidates) > 1:
        return None, f"order number {number} names {len(candidates)} commitments"
    commitment = candidates[0]
    if commitment.status not in _BILLABLE:
        return None, f"order {number} is {commitment.status.value}, not approved"
    if commitment.currency != invoice.currency:
        return None, (
            f"the invoice is in {invoice.currency} but order {number} is in "
            f"{commitment.currency}"
        )
    return commitment, ""


def order_lines(commitment: Commitment, book: InvoiceBook) -> dict[str, OrderLine]:
    """The commitment's lines by key, with lines its approved change orders add."""
    lines = {
        line.line_key: OrderLine(
            line.line_key, line.project_id, line.cost_code, line.unit_price
        )
        for line in commitment.lines
    }
    for change in book.change_orders.get(commitment.id, []):
        for added in change.lines:
            lines.setdefault(
                added.line_key,
                OrderLine(added.line_key, commitment.project_id, added.cost_code, None),
            )
    return lines


def _match(
    invoice: SupplierInvoice, commitment: Commitment, book: InvoiceBook
) -> Settlement:
    flags: list[tuple[str, str]] = []
    lines = _code_lines(invoice, order_lines(commitment, book), flags)
    matched = _with(
        invoice,
        status=InvoiceStatus.MATCHED,
        commitment_id=commitment.id,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        lines=lines,
    )
    if invoice.invoice_type is InvoiceType.INVOICE:
        flags.extend(_variances(matched, commitment, book))
    reasons = [reason for _, reason in flags]
    settled = _with(matched, status_reason="; ".join(reasons) or None)
    return Settlement(settled, flags)


def _code_lines(
    invoice: SupplierInvoice,
    order: dict[str, OrderLine],
    flags: list[tuple[str, str]],
) -> list[InvoiceLine]:
    coded: list[InvoiceLine] = []
    for index, line in enumerate(invoice.lines):
        if line.line_key.startswith("doc-"):
            coded.append(line)
            continue
        key = line.commitment_line_key
        if key is None and len(order) == 1:
            key = next(iter(order))  # a one-line order leaves no doubt
        target = order.get(key) if key is not None else None
        if target is None:
            named = f"order line {key}, which" if key else "no order line and"
            flags.append(
                (
                    f"lines[{index}].commitment_line_key",
                    f"line {line.line_key} names {named} the order does not "
                    "have; not coded to a cost code",
                )
            )
            coded.append(line)
        else:
            coded.append(_coded(line, target))
    return _code_document_lines(coded, flags)


def _coded(line: InvoiceLine, target: OrderLine) -> InvoiceLine:
    return line.model_copy(
        update={
            "commitment_line_key": target.key,
            "project_id": target.project_id,
            "cost_code": target.cost_code,
        }
    )


def _code_document_lines(
    lines: list[InvoiceLine], flags: list[tuple[str, str]]
) -> list[InvoiceLine]:
    # A document-level allowance or charge takes the cost code of the item
    # lines when they all share one; spread over several, it is left for a
    # person to code rather than apportioned by a rule nobody agreed.
    codes = {
        (line.project_id, line.cost_code)
        for line in lines
        if not line.line_key.startswith("doc-")
    }
    single = next(iter(codes)) if len(codes) == 1 else None
    coded: list[InvoiceLine] = []
    for index, line in enumerate(lines):
        if not line.line_key.startswith("doc-"):
            coded.append(line)
        elif single is not None and single[1] is not None:
            coded.append(
                line.model_copy(
                    update={"project_id": single[0], "cost_code": single[1]}
                )
            )
        else:
            flags.append(
                (
                    f"lines[{index}].cost_code",
                    f"{line.description or line.line_key} applies to lines of "
                    "several cost codes; not coded to a cost code",
                )
            )
            coded.append(line)
    return coded


def _variances(
    invoice: SupplierInvoice, commitment: Commitment, book: InvoiceBook
) -> list[tuple[str, str]]:
    order = order_lines(commitment, book)
    flags = _price_variances(invoice, order, commitment)
    earlier = [
        other
        for other in book.billing(commitment.id)
        if other.id != invoice.id
        and other.status in COUNTED
        and other.invoice_type is InvoiceType.INVOICE
        and billing_order(other) < billing_order(invoice)
    ]
    if commitment.commitment_type is CommitmentType.PURCHASE_ORDER:
        flags.extend(_quantity_variances(invoice, earlier, commitment, book))
    else:
        flags.extend(_certified_variances(invoice, earlier, commitment, book))
    return flags


def _price_variances(
    invoice: SupplierInvoice, order: dict[str, OrderLine], commitment: Commitment
) -> list[tuple[str, str]]:
    # Subcontract lines are valued in stages, so a line's price is the value
    # of the stage, not the contract's rate: only order prices are compared.
    if commitment.commitment_type is not CommitmentType.PURCHASE_ORDER:
        return []
    flags: list[tuple[str, str]] = []
    for index, line in enumerate(invoice.lines):
        target = order.get(line.commitment_line_key or "")
        if target is None or target.unit_price is None or line.unit_price is None:
            continue
        if line.unit_price != target.unit_price:
            side = "above" if line.unit_price > target.unit_price else "below"
            flags.append(
                (
                    f"lines[{index}].unit_price",
                    f"line {line.line_key}: unit price {line.unit_price} is {side} "
                    f"the order's {target.unit_price} (order line "
                    f"{target.key} of {commitment.number})",
                )
            )
    return flags


def _by_order_line(
    invoices: Iterable[SupplierInvoice], value: Any
) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        for line in invoice.lines:
            if line.commitment_line_key and not line.line_key.startswith("doc-"):
                totals[line.commitment_line_key] += value(line) or Decimal(0)
    return totals


def _quantity_variances(
    invoice: SupplierInvoice,
    earlier: list[SupplierInvoice],
    commitment: Commitment,
    book: InvoiceBook,
) -> list[tuple[str, str]]:
    received: dict[str, Decimal] = defaultdict(Decimal)
    for receipt in book.receipts.get(commitment.id, []):
        for line in receipt.lines:
            received[line.commitment_line_key] += line.quantity
    before = _by_order_line(earlier, lambda line: line.quantity)
    now = _by_order_line([invoice], lambda line: line.quantity)
    flags: list[tuple[str, str]] = []
    for key, quantity in sorted(now.items()):
        to_date = before[key] + quantity
        if to_date > received[key]:
            flags.append(
                (
                    "lines.quantity",
                    f"order line {key} of {commitment.number}: {to_date} invoiced "
                    f"to date but {received[key]} received",
                )
            )
    return flags


def _certified_variances(
    invoice: SupplierInvoice,
    earlier: list[SupplierInvoice],
    commitment: Commitment,
    book: InvoiceBook,
) -> list[tuple[str, str]]:
    certified: dict[str, Decimal] = defaultdict(Decimal)
    for claim in sorted(book.claims.get(commitment.id, []), key=lambda c: c.period):
        for line in claim.lines:
            value = line.certified_to_date
            certified[line.commitment_line_key] = (
                value if value is not None else line.claimed_to_date
            )
    before = _by_order_line(earlier, lambda line: line.net_amount)
    now = _by_order_line([invoice], lambda line: line.net_amount)
    flags: list[tuple[str, str]] = []
    for key, amount in sorted(now.items()):
        to_date = before[key] + amount
        if to_date > certified[key]:
            flags.append(
                (
                    "lines.net_amount",
                    f"subcontract line {key} of {commitment.number}: {to_date} "
                    f"invoiced to date but {certified[key]} certified",
                )
            )
    return flags


def unmatched_invoices(tx: Transaction) -> list[SupplierInvoice]:
    """Invoices waiting for a person: no commitment found, or held as duplicates."""
    return sorted(
        tx.list(SupplierInvoice, status=InvoiceStatus.UNMATCHED.value),
        key=lambda i: (i.supplier_name.casefold(), i.issue_date, i.supplier_reference),
    )


def invoices_with_variances(tx: Transaction) -> list[SupplierInvoice]:
    """Matched invoices whose reason names a variance a person should approve."""
    return sorted(
        (
            invoice
            for invoice in tx.list(SupplierInvoice, status=InvoiceStatus.MATCHED.value)
            if invoice.status_reason
        ),
        key=lambda i: (i.supplier_name.casefold(), i.issue_date, i.supplier_reference),
    )
