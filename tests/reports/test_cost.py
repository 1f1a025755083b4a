"""The cost report's figures, worked out by hand from the estate in conftest.py."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal

from tieline.model import (
    Budget,
    BudgetLine,
    BudgetStatus,
    CommitmentStatus,
    CostCode,
    InvoiceStatus,
    InvoiceType,
    Payment,
    PaymentAllocation,
    Project,
)
from tieline.reports import (
    AMOUNT_KEYS,
    CostAmounts,
    CostRecords,
    CostReport,
    Figure,
    ProjectCost,
    build_cost_report,
    load_cost_report,
)
from tieline.store import Store

from .conftest import (
    Estate,
    billing,
    commitment,
    invoice,
    origin,
    payment,
    receipt,
)

D = Decimal


def amounts(*values: str) -> dict[str, Decimal]:
    """The twelve amounts, in AMOUNT_KEYS order, as Decimals."""
    assert len(values) == len(AMOUNT_KEYS)
    return dict(zip(AMOUNT_KEYS, map(D, values), strict=True))


# Harbour Wall (P-100 / A-1, USD), worked by hand:
#
# 03 30 00  original 120,000.00; BR-1 +10,000.00 (BR-3 rejected) -> 130,000.00.
#           committed PO-1 L1 50,000.00 + CO-1 L1 1,234.56 = 51,234.56.
#           received GR-1 20,000.00 + GR-2 10,617.28 = 30,617.28 (GR-3 draft).
#           invoiced INV-1 30,000.00 - CN-1 1,000.00 = 29,000.00.
#           remaining 130,000.00 - 51,234.56 = 78,765.44.
# 31 23 00  original 45,500.50; BR-1 -2,500.25 -> 43,000.25.
#           committed PO-1 L2 20,000.10; CO-2 3,000.00 is pending.
#           received GR-1 5,000.05; invoiced INV-1 5,000.05.
#           remaining 43,000.25 - 20,000.10 = 23,000.15.
# 05 12 00  original 80,000.00; BR-2 7,250.75 is pending.
#           committed SC-1 (closed) 60,000.00 + CO-1 new line L3 500.00
#           = 60,500.00 (PO-2 is a draft, so neither it nor CO-3 counts).
#           received GR-2 on L3 250.00; invoiced INV-1 line 3 1,500.00.
#           remaining 80,000.00 - 60,500.00 = 19,500.00.
#
# Paid: PAY-1 settles 20,000.00 of INV-1 (gross 43,800.06, net 36,500.05).
#   net paid = 20,000.00 * 36,500.05 / 43,800.06 = 16,666.666... -> 16,666.67.
#   Spread over the lines' net amounts 30,000.00 / 5,000.05 / 1,500.00:
#     line 1: 16,666.67 * 30,000.00 / 36,500.05 = 13,698.6141... -> 13,698.61
#     line 2: 16,666.67 *  5,000.05 / 36,500.05 =  2,283.1251... -> 2,283.12
#     line 3: 16,666.67 *  1,500.00 / 36,500.05 =    684.9307... ->   684.93
#   Rounded down they add up to 16,666.66; the cent left over goes to the
#   largest remainder (line 2, .51 of a cent): 2,283.13.
#   PAY-2 is pending and does not count.
#
# Received not invoiced and open commitment, per commitment line (invoiced
# here is what bills the line: INV-1 line 3 bills no line, so it changes
# neither; INV-3 is rejected):
#   PO-1 L1 (03 30 00): received 30,617.28, invoiced 30,000.00 - 1,000.00
#        = 29,000.00 -> accrual 1,617.28; open 51,234.56 - 29,000.00
#        = 22,234.56.
#   PO-1 L2 (31 23 00): received 5,000.05, invoiced 5,000.05 -> accrual 0;
#        open 20,000.10 - 5,000.05 = 15,000.05.
#   PO-1 L3 (05 12 00, added by CO-1): received 250.00 -> accrual 250.00;
#        open 500.00.
#   SC-1 1 (05 12 00): nothing received or billed -> open 60,000.00.
#   So 05 12 00: accrual 250.00, open 500.00 + 60,000.00 = 60,500.00.
#   Totals: accrual 1,867.28; open 22,234.56 + 60,500.00 + 15,000.05
#   = 97,734.61 (= committed 131,734.66 - 34,000.05 billed on lines).
HARBOUR_LINES = {
    "03 30 00": amounts(
        "120000.00",
        "10000.00",
        "130000.00",
        "51234.56",
        "30617.28",
        "29000.00",
        "13698.61",
        "78765.44",
        "0",
        "0",
        "1617.28",
        "22234.56",
    ),
    "05 12 00": amounts(
        "80000.00",
        "0",
        "80000.00",
        "60500.00",
        "250.00",
        "1500.00",
        "684.93",
        "19500.00",
        "7250.75",
        "0",
        "250.00",
        "60500.00",
    ),
    "31 23 00": amounts(
        "45500.50",
        "-2500.25",
        "43000.25",
        "20000.10",
        "5000.05",
        "5000.05",
        "2283.13",
        "23000.15",
        "0",
        "3000.00",
        "0",
        "15000.05",
    ),
}
HARBOUR_TOTALS = amounts(
    "245500.50",
    "7499.75",
    "253000.25",
    "131734.66",
    "35867.33",
    "35500.05",
    "16666.67",
    "121265.59",
    "7250.75",
    "3000.00",
    "1867.28",
    "97734.61",
)

# Ringstrasse Depot (P-200 / B-1, EUR): SC-2 150,000.00 on A10; B-PAY-1 pays
# B-INV-1 in full (44,625.00 gross), so paid = invoiced = 37,500.00. PO-9 is
# in USD: left out, with a warning. K1 is received and billed 37,500.00:
# nothing accrues, and 150,000.00 - 37,500.00 = 112,500.00 is open.
DEPOT_LINES = {
    "A10": amounts(
        "200000.00",
        "0",
        "200000.00",
        "150000.00",
        "37500.00",
        "37500.00",
        "37500.00",
        "50000.00",
        "0",
        "0",
        "0",
        "112500.00",
    ),
    "B20": amounts(
        "55555.55", "0", "55555.55", "0", "0", "0", "0", "55555.55", "0", "0", "0", "0"
    ),
}
DEPOT_TOTALS = amounts(
    "255555.55",
    "0",
    "255555.55",
    "150000.00",
    "37500.00",
    "37500.00",
    "37500.00",
    "105555.55",
    "0",
    "0",
    "0",
    "112500.00",
)


def project_named(report: CostReport, source_key: str) -> ProjectCost:
    """The project of `report` with `source_key`."""
    (found,) = (p for p in report.projects if p.source_key == source_key)
    return found


def test_every_figure_of_the_harbour_project_is_exact(
    store: Store, estate: Estate
) -> None:
    harbour = project_named(load_cost_report(store), "A-1")

    assert {line.cost_code: line.amounts.as_dict() for line in harbour.lines} == (
        HARBOUR_LINES
    )
    assert harbour.totals.as_dict() == HARBOUR_TOTALS
    assert [line.cost_code for line in harbour.lines] == [
        "03 30 00",
        "05 12 00",
        "31 23 00",
    ]
    assert (harbour.code, harbour.name, harbour.currency) == (
        "P-100",
        "Harbour Wall",
        "USD",
    )
    assert harbour.warnings == ()


def test_every_figure_of_the_euro_project_is_exact(
    store: Store, estate: Estate
) -> None:
    depot = project_named(load_cost_report(store), "B-1")

    assert {line.cost_code: line.amounts.as_dict() for line in depot.lines} == (
        DEPOT_LINES
    )
    assert depot.totals.as_dict() == DEPOT_TOTALS
    assert depot.currency == "EUR"


def test_a_record_in_another_currency_is_left_out_and_named(
    store: Store, estate: Estate
) -> None:
    depot = project_named(load_cost_report(store), "B-1")

    (warning,) = depot.warnings
    assert warning.record == "commitment PO-9"
    assert warning.subject.startswith("commitment/")
    assert warning.reason == "is in USD, not the project's EUR; left out"
    assert str(warning) == "commitment PO-9: is in USD, not the project's EUR; left out"


def test_cost_codes_are_named_from_the_project_then_its_code_system(
    store: Store, estate: Estate
) -> None:
    report = load_cost_report(store)

    names = {
        (p.source_key, line.cost_code): line.cost_code_name
        for p in report.projects
        for line in p.lines
    }
    assert names == {
        ("A-1", "03 30 00"): "Cast-in-Place Concrete",
        ("A-1", "05 12 00"): None,
        ("A-1", "31 23 00"): "Excavation and Fill",
        ("B-1", "A10"): "Substructure",
        ("B-1", "B20"): None,
    }


def test_projects_sort_by_code_then_source_key_and_a_shared_code_shows_both(
    store: Store, estate: Estate
) -> None:
    everything = load_cost_report(store)
    harbour_only = load_cost_report(store, project_code="P-100")

    assert [(p.code, p.source_key) for p in everything.projects] == [
        ("P-100", "A-1"),
        ("P-100", "A-2"),
        ("P-200", "B-1"),
    ]
    assert [p.source_key for p in harbour_only.projects] == ["A-1", "A-2"]
    empty = harbour_only.projects[1]
    assert (empty.lines, empty.totals) == ((), CostAmounts())
    assert load_cost_report(store, project_code="P-999").projects == ()


def test_the_filter_does_not_change_a_projects_figures(
    store: Store, estate: Estate
) -> None:
    depot_only = load_cost_report(store, project_code="P-200")

    (depot,) = depot_only.projects
    assert depot.totals.as_dict() == DEPOT_TOTALS


def test_a_clean_estate_has_no_unplaced_records(store: Store, estate: Estate) -> None:
    assert load_cost_report(store).warnings == ()


def test_the_amounts_hold_exactly_the_figures() -> None:
    assert {f.name for f in fields(CostAmounts)} == {figure.value for figure in Figure}
    assert set(AMOUNT_KEYS) == {f.value for f in Figure} | {
        "revised_budget",
        "remaining",
    }


# -- records the report cannot place (pure, without a store) -----------------


def _usd_project() -> Project:
    return Project(
        origin=origin("X-1"),
        code="X",
        name="Quay",
        legal_entity_id="us",
        currency="USD",
        cost_code_system="masterformat",
    )


def test_an_invoice_line_with_no_place_is_left_out_of_invoiced_and_paid() -> None:
    # Given an approved invoice of the project whose second line has no cost
    # code of its own and bills no commitment line
    project = _usd_project()
    bill = invoice(
        "INV-9",
        InvoiceStatus.APPROVED,
        [
            billing("1", "100.00", project_id=project.id, cost_code="03 30 00"),
            billing("2", "50.00"),
        ],
        tax="0.00",
        project=project,
    )
    paid = payment("PAY-9", "USD", (bill, "150.00"))

    # When the report is built
    report = build_cost_report(
        CostRecords(projects=[project], invoices=[bill], payments=[paid])
    )

    # Then the first line counts, in full, and the second is named
    (cost,) = report.projects
    assert cost.totals.invoiced == D("100.00")
    assert cost.totals.paid == D("100.00")
    assert [str(w) for w in cost.warnings] == [
        "invoice INV-9: line 2 has no project and cost code, of its own or from a "
        "commitment line; left out of invoiced and paid"
    ]


def test_a_payment_in_another_currency_than_its_invoice_is_left_out() -> None:
    project = _usd_project()
    bill = invoice(
        "INV-8",
        InvoiceStatus.POSTED,
        [billing("1", "100.00", project_id=project.id, cost_code="03 30 00")],
        tax="0.00",
        project=project,
    )
    euro_payment = payment("PAY-8", "EUR", (bill, "100.00"))

    report = build_cost_report(
        CostRecords(projects=[project], invoices=[bill], payments=[euro_payment])
    )

    (cost,) = report.projects
    assert cost.totals.paid == D(0)
    assert [str(w) for w in cost.warnings] == [
        "payment PAY-8: is in EUR, but invoice INV-8 is in USD; left out of paid"
    ]


def test_payments_to_an_unknown_or_uncounted_invoice_are_named() -> None:
    project = _usd_project()
    unmatched = invoice(
        "INV-7",
        InvoiceStatus.UNMATCHED,
        [billing("1", "70.00")],
        tax="0.00",
        project=project,
    )
    stray = Payment(
        origin=origin("PAY-6"),
        legal_entity_id="us",
        supplier_id="s",
        reference="PAY-6",
        paid_on=date(2024, 6, 1),
        currency="USD",
        amount=D("10.00"),
        allocations=[PaymentAllocation(invoice_id="nowhere", amount=D("10.00"))],
    )
    paid = payment("PAY-7", "USD", (unmatched, "70.00"))

    report = build_cost_report(
        CostRecords(projects=[project], invoices=[unmatched], payments=[stray, paid])
    )

    (cost,) = report.projects
    assert cost.lines == ()
    assert [str(w) for w in cost.warnings] == [
        "payment PAY-7: settles invoice INV-7, which is unmatched and does not "
        "count; left out of paid"
    ]
    assert [str(w) for w in report.warnings] == [
        "payment PAY-6: settles invoice nowhere, not in the store; left out"
    ]


def test_records_naming_an_unknown_project_or_commitment_are_named() -> None:
    # Given an order of a project the store lacks, a receipt against it, a
    # receipt against an order the store lacks, and one against a line that
    # a known order does not have
    project = _usd_project()
    elsewhere = project.model_copy(update={"id": "gone"})
    line = ("1", "03 30 00", "10.00")
    stray_order = commitment("PO-5", elsewhere, CommitmentStatus.APPROVED, line)
    absent_order = commitment("PO-3", project, CommitmentStatus.APPROVED, line)
    known = commitment("PO-4", project, CommitmentStatus.APPROVED, line)
    receipts = [
        receipt("GR-5", stray_order, ("1", "10.00")),
        receipt("GR-3", absent_order, ("1", "10.00")),
        receipt("GR-4", known, ("9", "10.00")),
    ]

    # When the report is built
    report = build_cost_report(
        CostRecords(
            projects=[project],
            commitments=[stray_order, known],
            receipts=receipts,
        )
    )

    # Then what names no known project is in the report's own warnings
    assert [str(w) for w in report.warnings] == [
        "commitment PO-5: names project gone, not in the store; left out",
        "goods receipt GR-5: names project gone, not in the store; left out",
        f"goods receipt GR-3: names commitment {absent_order.id}, not in the "
        "store; left out",
    ]
    # And what the project can place counts, the rest is in its warnings
    (cost,) = report.projects
    assert cost.totals.committed == D("10.00")
    assert cost.totals.received == D(0)
    assert [str(w) for w in cost.warnings] == [
        "goods receipt GR-4: receives against line 9, which commitment PO-4 does "
        "not have; left out"
    ]


def test_a_credit_note_paid_back_reduces_paid() -> None:
    project = _usd_project()
    place = {"project_id": project.id, "cost_code": "03 30 00"}
    bill = invoice(
        "INV-6", InvoiceStatus.PAID, [billing("1", "300.00", **place)], tax="60.00"
    )
    credit = invoice(
        "CN-6",
        InvoiceStatus.POSTED,
        [billing("1", "100.00", **place)],
        tax="20.00",
        kind=InvoiceType.CREDIT_NOTE,
    )
    # The supplier pays the credit note's 120.00 back; the invoice is paid in full.
    paid = payment("PAY-5", "USD", (bill, "360.00"), (credit, "120.00"))

    report = build_cost_report(
        CostRecords(projects=[project], invoices=[bill, credit], payments=[paid])
    )

    (cost,) = report.projects
    assert (cost.totals.invoiced, cost.totals.paid) == (D("200.00"), D("200.00"))


def test_a_second_approved_budget_is_summed_and_flagged() -> None:
    project = _usd_project()
    budgets = [
        Budget(
            origin=origin(key),
            project_id=project.id,
            currency="USD",
            status=BudgetStatus.APPROVED,
            lines=[BudgetLine(line_key="1", cost_code="03 30 00", amount=D("5.00"))],
        )
        for key in ("budget-1", "budget-2")
    ]

    report = build_cost_report(CostRecords(projects=[project], budgets=budgets))

    (cost,) = report.projects
    assert cost.totals.original_budget == D("10.00")
    assert [w.record for w in cost.warnings] == ["budget budget-2"]


def test_an_unused_cost_code_record_adds_no_line() -> None:
    project = _usd_project()
    code = CostCode(origin=origin("c"), system="masterformat", code="01", name="Gen")

    report = build_cost_report(CostRecords(projects=[project], cost_codes=[code]))

    assert report.projects[0].lines == ()


def test_an_invoice_whose_lines_miss_its_net_total_is_named() -> None:
    project = _usd_project()
    place = {"project_id": project.id, "cost_code": "03 30 00"}
    bill = invoice(
        "INV-5", InvoiceStatus.MATCHED, [billing("1", "90.00", **place)], tax="0.00"
    ).model_copy(update={"net_total": D("100.00"), "gross_total": D("100.00")})
    paid = payment("PAY-4", "USD", (bill, "100.00"))

    report = build_cost_report(
        CostRecords(projects=[project], invoices=[bill], payments=[paid])
    )

    (cost,) = report.projects
    assert (cost.totals.invoiced, cost.totals.paid) == (D("90.00"), D("100.00"))
    assert [str(w) for w in cost.warnings] == [
        "invoice INV-5: lines add up to 90.00 net, but its net total is 100.00; "
        "the lines are reported"
    ]


def test_a_payment_of_an_invoice_with_no_gross_total_is_named() -> None:
    project = _usd_project()
    place = {"project_id": project.id, "cost_code": "03 30 00"}
    bill = invoice(
        "INV-4", InvoiceStatus.POSTED, [billing("1", "0.00", **place)], tax="0.00"
    )
    paid = payment("PAY-3", "USD", (bill, "5.00"))

    report = build_cost_report(
        CostRecords(projects=[project], invoices=[bill], payments=[paid])
    )

    (cost,) = report.projects
    assert cost.totals.paid == D(0)
    assert [str(w) for w in cost.warnings] == [
        "invoice INV-4: is paid but its gross total is zero; left out of paid"
    ]
