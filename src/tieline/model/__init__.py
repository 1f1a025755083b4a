"""The canonical construction model: every system is mapped to these records.

The model knows no system: no Odoo field name, no column of an export.
"""

from tieline.model._base import STAMP_FIELDS, CanonicalRecord, Origin, record_id
from tieline.model.budgets import (
    Budget,
    BudgetLine,
    BudgetRevision,
    BudgetRevisionLine,
    BudgetStatus,
    RevisionStatus,
)
from tieline.model.claims import ClaimLine, ClaimStatus, ProgressClaim
from tieline.model.commitments import (
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
)
from tieline.model.entities import (
    CostCode,
    CostCodeCrosswalk,
    LegalEntity,
    Project,
    ProjectStatus,
)
from tieline.model.invoices import (
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    SupplierInvoice,
)
from tieline.model.payments import Payment, PaymentAllocation, PaymentStatus
from tieline.model.receipts import GoodsReceipt, ReceiptLine, ReceiptStatus
from tieline.model.requisitions import (
    Requisition,
    RequisitionLine,
    RequisitionStatus,
)
from tieline.model.suppliers import Address, BankAccount, Supplier, SupplierStatus

RECORD_TYPES: dict[str, type[CanonicalRecord]] = {
    cls.kind: cls
    for cls in (
        LegalEntity,
        Project,
        CostCode,
        CostCodeCrosswalk,
        Budget,
        BudgetRevision,
        Supplier,
        Requisition,
        Commitment,
        ChangeOrder,
        GoodsReceipt,
        SupplierInvoice,
        ProgressClaim,
        Payment,
    )
}

__all__ = [
    "RECORD_TYPES",
    "STAMP_FIELDS",
    "Address",
    "BankAccount",
    "Budget",
    "BudgetLine",
    "BudgetRevision",
    "BudgetRevisionLine",
    "BudgetStatus",
    "CanonicalRecord",
    "ChangeOrder",
    "ChangeOrderLine",
    "ChangeOrderStatus",
    "ClaimLine",
    "ClaimStatus",
    "Commitment",
    "CommitmentLine",
    "CommitmentStatus",
    "CommitmentType",
    "CostCode",
    "CostCodeCrosswalk",
    "GoodsReceipt",
    "InvoiceLine",
    "InvoiceStatus",
    "InvoiceType",
    "LegalEntity",
    "Origin",
    "Payment",
    "PaymentAllocation",
    "PaymentStatus",
    "ProgressClaim",
    "Project",
    "ProjectStatus",
    "ReceiptLine",
    "ReceiptStatus",
    "Requisition",
    "RequisitionLine",
    "RequisitionStatus",
    "RevisionStatus",
    "Supplier",
    "SupplierInvoice",
    "SupplierStatus",
    "record_id",
]
