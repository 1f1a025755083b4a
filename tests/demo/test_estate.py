"""The shipped example estate: it imports cleanly, and its figures are the hand's.

The expected figures below are worked out by hand from the estate's files
(src/tieline/demo/estate/), not by the project's code; each sum says where its
parts come from.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tieline.demo import ESTATE_RUNS, import_estate
from tieline.intake import ExitCode, RunReport
from tieline.model import (
    Commitment,
    CostCodeCrosswalk,
    GoodsReceipt,
    InvoiceStatus,
    LegalEntity,
    Payment,
    ProgressClaim,
    Project,
    Supplier,
)
from tieline.model.invoices import SupplierInvoice
from tieline.reports import load_cost_report, render_json
from tieline.store import Store

RIV = {
    # budgets.csv: 40,000 + 120,000 + 180,000 + 250,000
    "original_budget": "590000.00",
    # BR-RIV-01 (approved): +15,000 on 02.20, -5,000 on 01.10
    "approved_changes": "10000.00",
    "revised_budget": "600000.00",
    # PO-RIV-001 48,000 + 19,000; PO-RIV-002 18,000; SC-RIV-001 120,000 +
    # 80,000; approved CO-SC-RIV-001-01 12,000 (CO -02 is only submitted)
    "committed": "297000.00",
    # GRN-RIV-0001 150 x 120 + 12 x 950 = 29,400; GRN-RIV-0002 250 x 120 +
    # 8 x 950 = 37,600; GRN-RIV-0003 8 x 1,500 = 12,000; and on the
    # subcontract, work certified to date counts as received: SC-RIV-001/02
    # certifies 120,000 + 20,000 + 6,000 = 146,000. 79,000 + 146,000.
    "received": "225000.00",
    # CC-5001 29,400; CC-5002 250 x 124 + 8 x 950 = 38,600; credit note
    # CN-0412 -1,000; FPH-2201 15,000; NSF-V01 60,000 - 3,000 retention;
    # NSF-V02 86,000 - 4,300 retention. The re-sent CC-5001 (29,650) is held
    # as a possible duplicate and does not count.
    "invoiced": "220700.00",
    # PAY-LCL-0101 pays CC-5001 in full (29,400 net); PAY-LCL-0103 NSF-V01
    # (57,000, reverse-charged: no VAT)
    "paid": "86400.00",
    # 600,000 - 297,000
    "remaining": "303000.00",
    "pending_budget_changes": "0.00",
    # CO-SC-RIV-001-02, submitted
    "pending_change_orders": "5000.00",
    # Per line, what arrived (or is certified) is billed: PO-RIV-001 L1
    # 48,000 in and 18,000 + 31,000 - 1,000 billed, L2 19,000 and 19,000;
    # PO-RIV-002 12,000 in, 15,000 billed (ahead: accrues nothing);
    # SC-RIV-001 certified 120,000 / 20,000 / 6,000, billed the same (the
    # retention deductions bill no line)
    "received_not_invoiced": "0.00",
    # 297,000 committed less 228,000 billed on lines: PO-RIV-002 18,000 -
    # 15,000; SC-RIV-001 line 2 80,000 - 20,000; line 3 (CO-01) 12,000 - 6,000
    "open_commitment": "69000.00",
}
MIL = {
    # 30,000 + 85,000 + 60,000
    "original_budget": "175000.00",
    "approved_changes": "0.00",
    "revised_budget": "175000.00",
    # PO-MIL-001 22,000 + 4 x 1,250; PO-MIL-002 (9,500) is a draft
    "committed": "27000.00",
    "received": "27000.00",
    "invoiced": "27000.00",
    # PAY-LCL-0102 pays BW-0098's 32,400 gross: 27,000 net
    "paid": "27000.00",
    "remaining": "148000.00",
    "pending_budget_changes": "0.00",
    "pending_change_orders": "0.00",
    # Both lines received and billed in full
    "received_not_invoiced": "0.00",
    "open_commitment": "0.00",
}
DCK = {
    # 55,000 + 400,000 + 220,000
    "original_budget": "675000.00",
    "approved_changes": "0.00",
    "revised_budget": "675000.00",
    # PO-DCK-001 20,000 x 2.10 + 500 x 8.40 = 46,200; SC-DCK-001 150,000 + 90,000
    "committed": "286200.00",
    # GRN-DCK-0001 8,000 x 2.10 + 200 x 8.40
    "received": "18480.00",
    # LBB-301 as received; LBB-317 names an order the group never placed
    "invoiced": "18480.00",
    # PAY-LCI-0201 pays LBB-301's 22,730.40 gross (VAT 23%): 18,480 net
    "paid": "18480.00",
    "remaining": "388800.00",
    # BR-DCK-01 is submitted, not approved
    "pending_budget_changes": "20000.00",
    "pending_change_orders": "0.00",
    # LBB-301 bills exactly what GRN-DCK-0001 received
    "received_not_invoiced": "0.00",
    # PO-DCK-001 42,000 - 16,800 + 4,200 - 1,680; SC-DCK-001 240,000 untouched
    "open_commitment": "267720.00",
}

# Riverside by cost code: (original, approved changes, committed, received,
# invoiced, paid).
RIV_LINES = {
    "01.10": ("40000.00", "-5000.00", "0.00", "0.00", "0.00", "0.00"),
    # PO-RIV-002; GRN-RIV-0003 8 weeks; FPH-2201 10 weeks at 1,500
    "02.10": ("120000.00", "0.00", "18000.00", "12000.00", "15000.00", "0.00"),
    # PO-RIV-001; both GRNs; CC-5001 + CC-5002 - CN-0412; CC-5001 paid
    "02.20": ("180000.00", "15000.00", "67000.00", "67000.00", "67000.00", "29400.00"),
    # SC-RIV-001 + CO -01; certified to date; valuations less retention;
    # NSF-V01 paid
    "03.10": ("250000.00", "0.00", "212000.00", "146000.00", "138700.00", "57000.00"),
}  # fmt: skip


def _report(store: Store, project: str | None = None) -> Any:
    """The cost report as its JSON reader sees it."""
    return json.loads(render_json(load_cost_report(store, project_code=project)))


def _import(store: Store, tmp_path: Path) -> list[RunReport]:
    return import_estate(store, runs_dir=tmp_path / "runs")


@pytest.fixture
def imported(store: Store, tmp_path: Path) -> list[RunReport]:
    """The estate imported once into an empty store."""
    return _import(store, tmp_path)


def test_the_estate_imports_without_a_reject(imported: list[RunReport]) -> None:
    assert [r.profile for r in imported] == list(ESTATE_RUNS)
    assert [r.exit_code for r in imported] == [ExitCode.OK] * 3
    assert [r.read for r in imported] == [77, 10, 4]
    # What the invoices run flags: the duplicate, the price, the quantity, and
    # the invoice naming an unknown order.
    flagged = sorted((f.file, f.field) for f in imported[1].flags)
    assert flagged == [
        ("CC-5001-resent.xml", "supplier_reference"),
        ("CC-5002.xml", "lines[0].unit_price"),
        ("FPH-2201.xml", "lines.quantity"),
        ("LBB-317.xml", "commitment_reference"),
    ]


def test_the_cost_report_has_the_hand_worked_totals(
    store: Store, imported: list[RunReport]
) -> None:
    report = _report(store)

    totals = {p["code"]: p["totals"] for p in report["projects"]}
    assert totals == {"DCK": DCK, "MIL": MIL, "RIV": RIV}
    currencies = {p["code"]: p["currency"] for p in report["projects"]}
    assert currencies == {"DCK": "EUR", "MIL": "GBP", "RIV": "GBP"}
    assert report["warnings"] == []
    assert all(p["warnings"] == [] for p in report["projects"])


def test_riverside_lands_on_the_right_cost_codes(
    store: Store, imported: list[RunReport]
) -> None:
    report = _report(store, "RIV")

    (riverside,) = report["projects"]
    figures = (
        "original_budget",
        "approved_changes",
        "committed",
        "received",
        "invoiced",
        "paid",
    )
    lines = {
        line["cost_code"]: tuple(line[name] for name in figures)
        for line in riverside["lines"]
    }
    assert lines == RIV_LINES


def test_importing_the_estate_again_changes_nothing(
    store: Store, imported: list[RunReport], tmp_path: Path
) -> None:
    again = _import(store, tmp_path)

    assert [(r.counts["created"], r.counts["updated"]) for r in again] == [(0, 0)] * 3
    assert [r.counts["unchanged"] for r in again] == [44, 10, 4]
    assert _report(store)["projects"][2]["totals"] == RIV


def test_two_vendor_accounts_of_one_company_are_one_supplier(
    store: Store, imported: list[RunReport]
) -> None:
    with store.transaction() as tx:
        suppliers = {s.tax_id: s for s in tx.list(Supplier)}
        orders = {c.number: c for c in tx.list(Commitment)}
    # V1001 and V1004: "Castlegate Concrete Ltd" and "CASTLEGATE CONCRETE
    # LIMITED", VAT "GB 274 5531 90" and "GB274553190"
    castlegate = suppliers["GB274553190"]
    assert castlegate.aliases == [
        "Castlegate Concrete Ltd",
        "CASTLEGATE CONCRETE LIMITED",
    ]
    assert len(suppliers) == 6
    assert [a.city for a in castlegate.addresses] == ["Leeds"]
    assert [b.account_number for b in castlegate.bank_accounts] == [
        "GB12LARK40001200345671"
    ]
    assert orders["PO-RIV-001"].supplier_id == castlegate.id


def test_invoices_are_matched_held_or_waiting_as_the_estate_intends(
    store: Store, imported: list[RunReport]
) -> None:
    with store.transaction() as tx:
        invoices = {
            (i.supplier_reference, str(i.gross_total)): i
            for i in tx.list(SupplierInvoice)
        }
    statuses = {key: i.status for key, i in invoices.items()}
    assert statuses == {
        ("CC-5001", "35280.00"): InvoiceStatus.MATCHED,
        ("CC-5001", "35580.00"): InvoiceStatus.UNMATCHED,
        ("CC-5002", "46320.00"): InvoiceStatus.MATCHED,
        ("CN-0412", "1200.00"): InvoiceStatus.MATCHED,
        ("FPH-2201", "18000.00"): InvoiceStatus.MATCHED,
        ("NSF-V01", "57000.00"): InvoiceStatus.MATCHED,
        ("NSF-V02", "81700.00"): InvoiceStatus.MATCHED,
        ("BW-0098", "32400.00"): InvoiceStatus.MATCHED,
        ("LBB-301", "22730.40"): InvoiceStatus.MATCHED,
        ("LBB-317", "1230.00"): InvoiceStatus.UNMATCHED,
    }
    # The valuation's retention is a document allowance, coded with its lines.
    valuation = invoices[("NSF-V02", "81700.00")]
    assert [(x.line_key, x.cost_code, str(x.net_amount)) for x in valuation.lines] == [
        ("1", "03.10", "60000.00"),
        ("2", "03.10", "20000.00"),
        ("3", "03.10", "6000.00"),
        ("doc-allowance-1", "03.10", "-4300.00"),
    ]
    assert valuation.status_reason is None  # within what was certified
    # The resent copy was spelt otherwise, but is the same supplier.
    resent = invoices[("CC-5001", "35580.00")]
    assert resent.supplier_name == "CASTLEGATE CONCRETE LIMITED"
    assert resent.supplier_id == invoices[("CC-5001", "35280.00")].supplier_id


def test_the_second_valuation_carries_on_from_the_first(
    store: Store, imported: list[RunReport]
) -> None:
    with store.transaction() as tx:
        claims = {c.period: c for c in tx.list(ProgressClaim)}
    first, second = claims[1], claims[2]
    # Period 1: 60,000 certified, 5% retention 3,000, due 57,000.
    assert (first.retention_held(), first.amount_due()) == (
        Decimal("3000.00"),
        Decimal("57000.00"),
    )
    # Period 2: 120,000 + 20,000 (22,000 claimed) + 6,000 = 146,000 to date;
    # retention 7,300 less 3,000 held; due 86,000 - 4,300 = 81,700.
    assert second.previous_retention_held == Decimal("3000.00")
    assert [line.previously_certified for line in second.lines] == [
        Decimal("60000.00"),
        Decimal(0),
        Decimal(0),
    ]
    assert (second.retention_held(), second.amount_due()) == (
        Decimal("7300.00"),
        Decimal("81700.00"),
    )


def test_receipts_are_valued_at_the_order_price_and_payments_allocated(
    store: Store, imported: list[RunReport]
) -> None:
    with store.transaction() as tx:
        receipts = {r.number: r for r in tx.list(GoodsReceipt)}
        payments = {p.reference: p for p in tx.list(Payment)}
        invoices = {i.id: i for i in tx.list(SupplierInvoice)}
        entities = {e.code: e for e in tx.list(LegalEntity)}
        projects = {p.code: p for p in tx.list(Project)}
        crosswalk = {c.from_code: c.to_code for c in tx.list(CostCodeCrosswalk)}
    assert [str(x.amount) for x in receipts["GRN-DCK-0001"].lines] == [
        "16800.00",
        "1680.00",
    ]
    assert receipts["GRN-RIV-0002"].final is True
    (allocation,) = payments["PAY-LCL-0101"].allocations
    assert invoices[allocation.invoice_id].gross_total == Decimal("35280.00")
    assert invoices[allocation.invoice_id].status is InvoiceStatus.MATCHED
    assert entities["LCI"].tax_id == "IE6388047V"
    assert projects["DCK"].legal_entity_id == entities["LCI"].id
    assert crosswalk["02.20"] == "03 31 00"
