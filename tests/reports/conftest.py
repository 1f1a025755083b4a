"""A small construction estate whose cost report is worked out by hand.

Two legal entities, three projects (two share the code P-100), two currencies.
Every record that should not count (a draft budget, a rejected revision, a
draft order, a change order on it, a draft receipt, an unmatched and a
rejected invoice, a pending payment) carries an amount that would show if it
were wrongly counted. The expected figures are in test_cost.py, worked out
line by line in its comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from tieline.model import (
    Budget,
    BudgetLine,
    BudgetRevision,
    BudgetRevisionLine,
    BudgetStatus,
    CanonicalRecord,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    GoodsReceipt,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    LegalEntity,
    Origin,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Project,
    ReceiptLine,
    ReceiptStatus,
    RevisionStatus,
)
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store

D = Decimal


def origin(key: str) -> Origin:
    """An origin in the test system."""
    return Origin(system="test", key=key)


@dataclass(frozen=True)
class Estate:
    """The ids of the estate's projects, for assertions."""

    harbour: Project  # P-100 / A-1, USD: carries most of the figures
    harbour_two: Project  # P-100 / A-2, USD: no records at all
    depot: Project  # P-200 / B-1, EUR


def _projects() -> list[CanonicalRecord]:
    return [
        LegalEntity(
            origin=origin("US"),
            code="US",
            name="Harbour Civil Inc",
            base_currency="USD",
        ),
        LegalEntity(
            origin=origin("DE"), code="DE", name="Harbour Bau GmbH", base_currency="EUR"
        ),
        Project(
            origin=origin("A-1"),
            code="P-100",
            name="Harbour Wall",
            legal_entity_id="us",
            currency="USD",
            cost_code_system="masterformat",
        ),
        Project(
            origin=origin("A-2"),
            code="P-100",
            name="Harbour Wall phase 2",
            legal_entity_id="us",
            currency="USD",
            cost_code_system="masterformat",
        ),
        Project(
            origin=origin("B-1"),
            code="P-200",
            name="Ringstrasse Depot",
            legal_entity_id="de",
            currency="EUR",
            cost_code_system="depot-wbs",
        ),
    ]


def _cost_codes(harbour: Project) -> list[CanonicalRecord]:
    return [
        CostCode(
            origin=origin("mf-033000"),
            system="masterformat",
            code="03 30 00",
            name="Cast-in-Place Concrete",
        ),
        # A code of the project's own, named differently from the system's.
        CostCode(
            origin=origin("a1-312300"),
            system="harbour-wbs",
            code="31 23 00",
            name="Excavation and Fill",
            project_id=harbour.id,
        ),
        CostCode(
            origin=origin("wbs-a10"),
            system="depot-wbs",
            code="A10",
            name="Substructure",
        ),
    ]


def _budgets(harbour: Project, depot: Project) -> list[CanonicalRecord]:
    def line(key: str, code: str, amount: str) -> BudgetLine:
        return BudgetLine(line_key=key, cost_code=code, amount=D(amount))

    def revision(
        number: str, status: RevisionStatus, *lines: tuple[str, str]
    ) -> BudgetRevision:
        return BudgetRevision(
            origin=origin(number),
            project_id=harbour.id,
            number=number,
            reason="design change",
            currency="USD",
            status=status,
            lines=[BudgetRevisionLine(cost_code=c, amount=D(a)) for c, a in lines],
        )

    return [
        Budget(
            origin=origin("budget-A-1"),
            project_id=harbour.id,
            currency="USD",
            status=BudgetStatus.APPROVED,
            lines=[
                line("1", "03 30 00", "120000.00"),
                line("2", "31 23 00", "45500.50"),
                line("3", "05 12 00", "80000.00"),
            ],
        ),
        Budget(  # a draft: does not count
            origin=origin("budget-A-1-draft"),
            project_id=harbour.id,
            currency="USD",
            lines=[line("1", "03 30 00", "999.99")],
        ),
        revision(
            "BR-1",
            RevisionStatus.APPROVED,
            ("03 30 00", "10000.00"),
            ("31 23 00", "-2500.25"),
        ),
        revision("BR-2", RevisionStatus.SUBMITTED, ("05 12 00", "7250.75")),
        revision("BR-3", RevisionStatus.REJECTED, ("03 30 00", "1000.00")),
        Budget(
            origin=origin("budget-B-1"),
            project_id=depot.id,
            currency="EUR",
            status=BudgetStatus.APPROVED,
            lines=[line("1", "A10", "200000.00"), line("2", "B20", "55555.55")],
        ),
    ]


def commitment(
    number: str,
    project: Project,
    status: CommitmentStatus,
    *lines: tuple[str, str, str],
    currency: str | None = None,
    kind: CommitmentType = CommitmentType.PURCHASE_ORDER,
) -> Commitment:
    """A commitment of `project` with lines (key, cost code, amount)."""
    return Commitment(
        origin=origin(number),
        number=number,
        commitment_type=kind,
        legal_entity_id=project.legal_entity_id,
        project_id=project.id,
        supplier_id="supplier-1",
        currency=currency or project.currency,
        status=status,
        lines=[
            CommitmentLine(line_key=k, project_id=project.id, cost_code=c, amount=D(a))
            for k, c, a in lines
        ],
    )


def _commitments(harbour: Project, depot: Project) -> list[CanonicalRecord]:
    approved, closed = CommitmentStatus.APPROVED, CommitmentStatus.CLOSED
    po1 = commitment(
        "PO-1",
        harbour,
        approved,
        ("L1", "03 30 00", "50000.00"),
        ("L2", "31 23 00", "20000.10"),
    )
    po2 = commitment(
        "PO-2", harbour, CommitmentStatus.DRAFT, ("L1", "05 12 00", "30000.00")
    )

    def order(
        number: str,
        of: Commitment,
        status: ChangeOrderStatus,
        *lines: tuple[str, str, str],
    ) -> ChangeOrder:
        return ChangeOrder(
            origin=origin(number),
            commitment_id=of.id,
            number=number,
            reason="extra work",
            currency=of.currency,
            status=status,
            lines=[
                ChangeOrderLine(line_key=k, cost_code=c, amount=D(a))
                for k, c, a in lines
            ],
        )

    return [
        po1,
        po2,
        commitment(
            "SC-1",
            harbour,
            closed,
            ("1", "05 12 00", "60000.00"),
            kind=CommitmentType.SUBCONTRACT,
        ),
        # CO-1 changes line L1 and adds a line L3.
        order(
            "CO-1",
            po1,
            ChangeOrderStatus.APPROVED,
            ("L1", "03 30 00", "1234.56"),
            ("L3", "05 12 00", "500.00"),
        ),
        order("CO-2", po1, ChangeOrderStatus.SUBMITTED, ("L2", "31 23 00", "3000.00")),
        order("CO-3", po2, ChangeOrderStatus.APPROVED, ("L1", "05 12 00", "100.00")),
        commitment(
            "SC-2",
            depot,
            approved,
            ("K1", "A10", "150000.00"),
            kind=CommitmentType.SUBCONTRACT,
        ),
        # An order in dollars on the euro project: left out, and a warning.
        commitment("PO-9", depot, approved, ("1", "B20", "10000.00"), currency="USD"),
    ]


def receipt(
    number: str,
    of: Commitment,
    *lines: tuple[str, str],
    status: ReceiptStatus = ReceiptStatus.CONFIRMED,
) -> GoodsReceipt:
    """A receipt against `of` with lines (commitment line key, amount)."""
    return GoodsReceipt(
        origin=origin(number),
        commitment_id=of.id,
        number=number,
        received_on=date(2024, 5, 2),
        currency=of.currency,
        status=status,
        lines=[
            ReceiptLine(commitment_line_key=k, quantity=D(1), amount=D(a))
            for k, a in lines
        ],
    )


def invoice(
    reference: str,
    status: InvoiceStatus,
    lines: list[InvoiceLine],
    *,
    tax: str,
    currency: str = "USD",
    of: Commitment | None = None,
    project: Project | None = None,
    kind: InvoiceType = InvoiceType.INVOICE,
) -> SupplierInvoice:
    """An invoice with `lines`, its net total their sum and `tax` on top."""
    net = sum((line.net_amount for line in lines), D(0))
    return SupplierInvoice(
        origin=origin(reference),
        invoice_type=kind,
        supplier_reference=reference,
        supplier_name="Harbour Concrete Co",
        project_id=project.id if project else None,
        commitment_id=of.id if of else None,
        issue_date=date(2024, 5, 10),
        currency=currency,
        status=status,
        lines=lines,
        net_total=net,
        tax_total=D(tax),
        gross_total=net + D(tax),
    )


def billing(
    key: str, amount: str, commitment_line: str | None = None, **place: str
) -> InvoiceLine:
    """An invoice line of `amount` net, billing a commitment line or placed itself."""
    return InvoiceLine(
        line_key=key, net_amount=D(amount), commitment_line_key=commitment_line, **place
    )


def payment(
    reference: str,
    currency: str,
    *allocations: tuple[SupplierInvoice, str],
    status: PaymentStatus = PaymentStatus.PAID,
) -> Payment:
    """A payment settling (invoice, amount) pairs."""
    return Payment(
        origin=origin(reference),
        legal_entity_id="us",
        supplier_id="supplier-1",
        reference=reference,
        paid_on=date(2024, 6, 1),
        currency=currency,
        amount=sum((D(a) for _, a in allocations), D(0)),
        status=status,
        allocations=[
            PaymentAllocation(invoice_id=i.id, amount=D(a)) for i, a in allocations
        ],
    )


def _actuals(
    harbour: Project, depot: Project, commitments: dict[str, Commitment]
) -> list[CanonicalRecord]:
    po1, sc2 = commitments["PO-1"], commitments["SC-2"]
    # INV-1: 36,500.05 net, 20 % tax 7,300.01, gross 43,800.06.
    inv1 = invoice(
        "INV-1",
        InvoiceStatus.APPROVED,
        [
            billing("1", "30000.00", "L1"),
            billing("2", "5000.05", "L2"),
            billing("3", "1500.00", project_id=harbour.id, cost_code="05 12 00"),
        ],
        tax="7300.01",
        of=po1,
    )
    cn1 = invoice(
        "CN-1",
        InvoiceStatus.POSTED,
        [billing("1", "1000.00", "L1")],
        tax="200.00",
        of=po1,
        kind=InvoiceType.CREDIT_NOTE,
    )
    inv2 = invoice(
        "INV-2",
        InvoiceStatus.UNMATCHED,
        [billing("1", "999.00", project_id=harbour.id, cost_code="03 30 00")],
        tax="0.00",
    )
    inv3 = invoice(
        "INV-3",
        InvoiceStatus.REJECTED,
        [billing("1", "888.00", "L1")],
        tax="0.00",
        of=po1,
    )
    # B-INV-1: 37,500.00 net, 19 % tax 7,125.00, gross 44,625.00.
    binv = invoice(
        "B-INV-1",
        InvoiceStatus.MATCHED,
        [billing("1", "37500.00", "K1")],
        tax="7125.00",
        currency="EUR",
        of=sc2,
    )
    return [
        receipt("GR-1", po1, ("L1", "20000.00"), ("L2", "5000.05")),
        receipt("GR-2", po1, ("L1", "10617.28"), ("L3", "250.00")),
        receipt("GR-3", po1, ("L1", "1000.00"), status=ReceiptStatus.DRAFT),
        receipt("GR-B1", sc2, ("K1", "37500.00")),
        inv1,
        cn1,
        inv2,
        inv3,
        binv,
        payment("PAY-1", "USD", (inv1, "20000.00")),
        payment("PAY-2", "USD", (inv1, "5000.00"), status=PaymentStatus.PENDING),
        payment("B-PAY-1", "EUR", (binv, "44625.00")),
    ]


def build_estate(store: Store) -> Estate:
    """Save the estate into `store` and return its projects."""
    projects = _projects()
    harbour, harbour_two, depot = (p for p in projects if isinstance(p, Project))
    commitments = _commitments(harbour, depot)
    by_number = {c.number: c for c in commitments if isinstance(c, Commitment)}
    records = [
        *projects,
        *_cost_codes(harbour),
        *_budgets(harbour, depot),
        *commitments,
        *_actuals(harbour, depot, by_number),
    ]
    with store.transaction() as tx:
        for record in records:
            tx.save(record, actor="test")
    return Estate(harbour=harbour, harbour_two=harbour_two, depot=depot)


@pytest.fixture
def estate(store: Store) -> Estate:
    """The hand-worked estate, saved in the store under test."""
    return build_estate(store)
