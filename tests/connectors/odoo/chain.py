"""A procure-to-pay chain of canonical records for the Odoo tests.

Names carry the test's run tag, so the chain can be created in a real Odoo
next to earlier runs; the legal entity is bound to the test user's company
and costed in that company's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tieline.connectors.odoo import OdooClient, OdooSync
from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    GoodsReceipt,
    InvoiceLine,
    InvoiceStatus,
    LegalEntity,
    Origin,
    Project,
    ReceiptLine,
    Supplier,
)
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store


@dataclass
class Chain:
    """The canonical records of one procure-to-pay run."""

    entity: LegalEntity
    supplier: Supplier
    project: Project
    codes: list[CostCode]
    commitment: Commitment

    def receipt(
        self, number: str, quantities: dict[str, str], *, final: bool
    ) -> GoodsReceipt:
        """A receipt of `quantities` (line key -> quantity) against the order."""
        prices = {
            line.line_key: line.unit_price or Decimal(0)
            for line in self.commitment.lines
        }
        return GoodsReceipt(
            origin=Origin(system="test", key=f"{self.commitment.number}/{number}"),
            commitment_id=self.commitment.id,
            number=number,
            received_on=date(2026, 12, 3),
            currency=self.commitment.currency,
            final=final,
            lines=[
                ReceiptLine(
                    commitment_line_key=key,
                    quantity=Decimal(qty),
                    amount=Decimal(qty) * prices[key],
                )
                for key, qty in quantities.items()
            ],
        )

    def invoice(self, reference: str) -> SupplierInvoice:
        """An approved invoice billing every order line in full, without tax."""
        lines = [
            InvoiceLine(
                line_key=line.line_key,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                net_amount=line.amount,
                commitment_line_key=line.line_key,
            )
            for line in self.commitment.lines
        ]
        net = sum((line.net_amount for line in lines), Decimal(0))
        return SupplierInvoice(
            origin=Origin(system="test", key=reference),
            supplier_reference=reference,
            supplier_id=self.supplier.id,
            supplier_name=self.supplier.legal_name,
            legal_entity_id=self.entity.id,
            commitment_id=self.commitment.id,
            issue_date=date(2026, 12, 3),
            currency=self.commitment.currency,
            status=InvoiceStatus.APPROVED,
            lines=lines,
            net_total=net,
            tax_total=Decimal(0),
            gross_total=net,
        )


def user_company(client: OdooClient) -> tuple[int, str]:
    """The test user's company and its currency code."""
    (user,) = client.read("res.users", [client.uid], ["company_id"])
    company = user["company_id"][0]
    (row,) = client.read("res.company", [company], ["currency_id"])
    return company, row["currency_id"][1]


def build_chain(
    store: Store,
    client: OdooClient,
    sync: OdooSync | None,
    tag: str,
    *,
    status: CommitmentStatus = CommitmentStatus.APPROVED,
) -> Chain:
    """Save the chain's records; with `sync`, bind the legal entity to the
    user's company on its instance (without, the hub's company map does)."""
    company, currency = user_company(client)
    entity = LegalEntity(
        origin=Origin(system="test", key=f"E-{tag}"),
        code=f"E{tag}",
        name=f"Builder {tag}",
        base_currency=currency,
    )
    supplier = Supplier(
        origin=Origin(system="test", key=f"S-{tag}"),
        legal_name=f"Northwind Concrete {tag}",
    )
    project = Project(
        origin=Origin(system="test", key=f"P-{tag}"),
        code=f"P{tag}",
        name=f"Riverside Tower {tag}",
        legal_entity_id=entity.id,
        currency=currency,
        cost_code_system="masterformat",
    )
    codes = [
        CostCode(
            origin=Origin(system="test", key=f"{tag}-{code}"),
            system="masterformat",
            code=f"{code} {tag}",
            name=name,
        )
        for code, name in (
            ("03 30 00", "Cast-in-place concrete"),
            ("05 12 00", "Structural steel"),
        )
    ]
    commitment = Commitment(
        origin=Origin(system="test", key=f"PO-{tag}"),
        number=f"PO-{tag}",
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id=entity.id,
        project_id=project.id,
        supplier_id=supplier.id,
        currency=currency,
        status=status,
        lines=[
            CommitmentLine(
                line_key="1",
                description="Ready-mix C30/37",
                project_id=project.id,
                cost_code=codes[0].code,
                quantity=Decimal(10),
                unit="m3",
                unit_price=Decimal("118.50"),
                amount=Decimal("1185.00"),
            ),
            CommitmentLine(
                line_key="2",
                description="Rebar B500B 12mm",
                project_id=project.id,
                cost_code=codes[1].code,
                quantity=Decimal(5),
                unit="t",
                unit_price=Decimal("42.00"),
                amount=Decimal("210.00"),
            ),
        ],
    )
    with store.transaction() as tx:
        for record in (entity, supplier, project, *codes, commitment):
            tx.save(record, actor="test")
        if sync is not None:
            sync.bind_legal_entity(tx, entity, company)
    return Chain(entity, supplier, project, codes, commitment)
