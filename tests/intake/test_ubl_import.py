"""Importing UBL invoices: matching, unmatched, duplicates, conflicts, re-runs."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tieline.intake import ExitCode, RunReport, run_import
from tieline.intake.matching import unmatched_invoices
from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    GoodsReceipt,
    InvoiceStatus,
    LegalEntity,
    Origin,
    Project,
    ReceiptLine,
    Supplier,
)
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store
from tieline.suppliers import SupplierResolver

PEPPOL = "peppol-bis-invoice-3"


def _seed(
    store: Store, *, status: CommitmentStatus = CommitmentStatus.APPROVED
) -> None:
    """One company, one project, one order for concrete (2 lines), 60 m3 received."""
    origin = Origin(system="erp", key="x")
    entity = LegalEntity(
        origin=origin.model_copy(update={"key": "LCL"}),
        code="LCL",
        name="Larkfield Construction Ltd",
        base_currency="GBP",
        tax_id="GB812345678",
    )
    project = Project(
        origin=origin.model_copy(update={"key": "RIV"}),
        code="RIV",
        name="Riverside Depot",
        legal_entity_id=entity.id,
        currency="GBP",
        cost_code_system="wbs",
    )

    with store.transaction() as tx:
        resolver = SupplierResolver(tx, system="erp", actor="test")
        supplier_id = resolver.resolve(
            "Castlegate Concrete Ltd", tax_id="GB 274 5531 90"
        ).supplier.id

    def line(key: str, code: str, qty: str, price: str, amount: str) -> CommitmentLine:
        return CommitmentLine(
            line_key=key,
            project_id=project.id,
            cost_code=code,
            quantity=Decimal(qty),
            unit_price=Decimal(price),
            amount=Decimal(amount),
        )

    order = Commitment(
        origin=origin.model_copy(update={"key": "PO-1"}),
        number="PO-1",
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id=entity.id,
        project_id=project.id,
        supplier_id=supplier_id,
        currency="GBP",
        status=status,
        lines=[
            line("1", "02.20", "100", "120.00", "12000.00"),
            line("2", "02.30", "20", "950.00", "19000.00"),
        ],
    )
    receipt = GoodsReceipt(
        origin=origin.model_copy(update={"key": "GRN-1"}),
        commitment_id=order.id,
        number="GRN-1",
        received_on=date(2024, 2, 10),
        currency="GBP",
        lines=[ReceiptLine(commitment_line_key="1", quantity=60, amount=7200)],
    )
    with store.transaction() as tx:
        for record in (entity, project, order, receipt):
            tx.save(record, actor="test")


def _import(store: Store, folder: Path, tmp_path: Path) -> RunReport:
    return run_import(store, "ubl", [folder], runs_dir=tmp_path / "runs")


def _invoices(store: Store) -> dict[str, SupplierInvoice]:
    with store.transaction() as tx:
        return {
            f"{i.supplier_reference}/{i.gross_total}": i
            for i in tx.list(SupplierInvoice)
        }


def _issues(report: RunReport, name: str) -> list[dict[str, str]]:
    with (report.run_dir / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_an_invoice_naming_a_known_order_is_matched_and_coded(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    # Given an approved order with 60 m3 received
    _seed(store)
    # When an invoice for 50 m3 at the order price arrives
    doc = ubl.Doc("CC-1", [ubl.Line("1", "50", "120.00", order_line="1")], order="PO-1")
    ubl.write("cc-1", doc)
    report = _import(store, ubl.inbox, tmp_path)

    # Then it is matched, coded to the order line's project and cost code
    assert report.exit_code is ExitCode.OK
    invoice = _invoices(store)["CC-1/7200.00"]
    with store.transaction() as tx:
        (order,) = tx.list(Commitment)
    assert invoice.status is InvoiceStatus.MATCHED
    assert invoice.status_reason is None
    assert invoice.commitment_id == order.id
    assert invoice.project_id == order.project_id
    assert invoice.legal_entity_id == order.legal_entity_id
    assert [(line.project_id, line.cost_code) for line in invoice.lines] == [
        (order.project_id, "02.20")
    ]
    assert (invoice.net_total, invoice.tax_total, invoice.gross_total) == (
        Decimal("6000.00"),
        Decimal("1200.00"),
        Decimal("7200.00"),
    )
    # And the supplier is the one the order names, found by its tax id, with the
    # address the invoice gives added
    assert invoice.supplier_id == order.supplier_id
    with store.transaction() as tx:
        supplier = tx.get(Supplier, order.supplier_id)
    assert supplier is not None
    assert [a.city for a in supplier.addresses] == ["Leeds"]


def test_a_placeholder_for_a_supplier_name_is_refused(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    doc = ubl.Doc("X-1", [ubl.Line("1", "1", "10.00")], supplier="NAME OF CONTRACTOR 3")
    doc.supplier_vat = None
    ubl.write("template", doc)

    report = _import(store, ubl.inbox, tmp_path)

    (reject,) = _issues(report, "rejects.csv")
    assert (reject["file"], reject["field"]) == ("template.xml", "supplier_name")
    assert "placeholder" in reject["reason"]
    assert _invoices(store) == {}


def test_an_invoice_naming_no_known_order_waits_unmatched_with_its_reason(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    ubl.write("x", ubl.Doc("CC-9", [ubl.Line("1", "1", "10.00")], order="PO-404"))
    ubl.write("y", ubl.Doc("CC-10", [ubl.Line("1", "1", "20.00")]))

    report = _import(store, ubl.inbox, tmp_path)

    with store.transaction() as tx:
        waiting = unmatched_invoices(tx)
    assert [(i.supplier_reference, i.status_reason) for i in waiting] == [
        ("CC-10", "names no purchase order or subcontract"),
        ("CC-9", "names order PO-404, which is no known commitment"),
    ]
    assert all(line.cost_code is None for i in waiting for line in i.lines)
    # The buyer's VAT number still tells which company the invoice is for.
    with store.transaction() as tx:
        (entity,) = tx.list(LegalEntity)
    assert {i.legal_entity_id for i in waiting} == {entity.id}
    assert report.exit_code is ExitCode.OK
    assert len(_issues(report, "flags.csv")) == 2


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (CommitmentStatus.DRAFT, "order PO-1 is draft, not approved"),
        (CommitmentStatus.CANCELLED, "order PO-1 is cancelled, not approved"),
    ],
)
def test_an_order_not_approved_cannot_be_billed(
    store: Store,
    ubl: SimpleNamespace,
    tmp_path: Path,
    status: CommitmentStatus,
    reason: str,
) -> None:
    _seed(store, status=status)
    ubl.write("x", ubl.Doc("CC-1", [ubl.Line("1", "1", "120.00", "1")], order="PO-1"))

    _import(store, ubl.inbox, tmp_path)

    invoice = _invoices(store)["CC-1/144.00"]
    assert (invoice.status, invoice.status_reason) == (InvoiceStatus.UNMATCHED, reason)


def test_an_invoice_in_another_currency_than_its_order_is_unmatched(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    doc = ubl.Doc("CC-1", [ubl.Line("1", "1", "120.00", "1")], order="PO-1")
    doc.currency = "EUR"
    ubl.write("x", doc)

    _import(store, ubl.inbox, tmp_path)

    assert _invoices(store)["CC-1/144.00"].status_reason == (
        "the invoice is in EUR but order PO-1 is in GBP"
    )


def test_a_price_above_the_order_is_matched_and_flagged(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    doc = ubl.Doc("CC-2", [ubl.Line("1", "10", "124.00", order_line="1")], order="PO-1")
    ubl.write("cc-2", doc)

    report = _import(store, ubl.inbox, tmp_path)

    invoice = _invoices(store)["CC-2/1488.00"]
    assert invoice.status is InvoiceStatus.MATCHED
    assert invoice.status_reason == (
        "line 1: unit price 124.00 is above the order's 120.00 (order line 1 of PO-1)"
    )
    (flag,) = _issues(report, "flags.csv")
    assert flag["file"] == "cc-2.xml"
    assert flag["field"] == "lines[0].unit_price"


def test_invoicing_more_than_received_is_flagged_on_the_invoice_that_crosses(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    # Given 60 m3 received, invoiced as 50 m3 then 20 m3 (issued a day later)
    _seed(store)
    first = ubl.Doc("CC-3", [ubl.Line("1", "50", "120.00", "1")], order="PO-1")
    second = ubl.Doc("CC-4", [ubl.Line("1", "20", "120.00", "1")], order="PO-1")
    second.issued = "2024-03-02"
    ubl.write("b-first", first)
    ubl.write("a-second", second)

    _import(store, ubl.inbox, tmp_path)

    # Then the second, whatever the file order, crosses what was received
    invoices = _invoices(store)
    assert invoices["CC-3/7200.00"].status_reason is None
    assert invoices["CC-4/2880.00"].status_reason == (
        "order line 1 of PO-1: 70 invoiced to date but 60 received"
    )


def test_a_line_with_nothing_received_is_flagged(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    ubl.write("x", ubl.Doc("CC-5", [ubl.Line("1", "2", "950.00", "2")], order="PO-1"))

    _import(store, ubl.inbox, tmp_path)

    assert _invoices(store)["CC-5/2280.00"].status_reason == (
        "order line 2 of PO-1: 2 invoiced to date but 0 received"
    )


def test_a_document_charge_takes_the_cost_code_its_lines_share(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    doc = ubl.Doc(
        "CC-6",
        [ubl.Line("1", "10", "120.00", "1")],
        order="PO-1",
        adjustments=[ubl.Adjustment(True, "50.00", "Delivery")],
    )
    ubl.write("x", doc)

    _import(store, ubl.inbox, tmp_path)

    invoice = _invoices(store)["CC-6/1500.00"]
    assert [
        (line.line_key, line.cost_code, line.net_amount) for line in invoice.lines
    ] == [
        ("1", "02.20", Decimal("1200.00")),
        ("doc-charge-1", "02.20", Decimal("50.00")),
    ]


def test_a_document_allowance_over_several_cost_codes_is_left_uncoded(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    doc = ubl.Doc(
        "CC-7",
        [ubl.Line("1", "10", "120.00", "1"), ubl.Line("2", "1", "950.00", "2")],
        order="PO-1",
        adjustments=[ubl.Adjustment(False, "100.00", "Early payment")],
    )
    ubl.write("x", doc)

    _import(store, ubl.inbox, tmp_path)

    invoice = _invoices(store)["CC-7/2460.00"]
    assert invoice.lines[2].cost_code is None
    assert invoice.status_reason is not None
    assert "Allowance: Early payment applies to lines of several cost codes" in (
        invoice.status_reason
    )


def test_a_repeated_reference_with_other_amounts_is_held_as_a_possible_duplicate(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    # Given invoice CC-1 imported and matched
    _seed(store)
    original = ubl.Doc("CC-1", [ubl.Line("1", "10", "120.00", "1")], order="PO-1")
    ubl.write("cc-1", original)
    _import(store, ubl.inbox, tmp_path)

    # When the supplier sends CC-1 again, later, with a delivery charge added
    again = ubl.Doc(
        "CC-1",
        [ubl.Line("1", "10", "120.00", "1")],
        order="PO-1",
        issued="2024-03-05",
        adjustments=[ubl.Adjustment(True, "25.00", "Delivery")],
    )
    ubl.write("cc-1-again", again)
    report = _import(store, ubl.inbox, tmp_path)

    # Then both are kept: the first stands, the second waits for a person
    invoices = _invoices(store)
    assert invoices["CC-1/1440.00"].status is InvoiceStatus.MATCHED
    held = invoices["CC-1/1470.00"]
    assert held.status is InvoiceStatus.UNMATCHED
    assert held.commitment_id is None
    assert held.status_reason == (
        "possible duplicate of invoice CC-1 issued 2024-03-01 for 1440.00 GBP "
        "(this one: 1470.00 GBP): same supplier and reference, other amounts; "
        "held until a person decides which stands"
    )
    assert (report.counts["created"], report.counts["unchanged"]) == (1, 1)
    assert [f["file"] for f in _issues(report, "flags.csv")] == ["cc-1-again.xml"]


def test_which_duplicate_stands_does_not_depend_on_import_order(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    # Given the later copy of CC-1 imported first, alone
    _seed(store)
    later = ubl.Doc(
        "CC-1", [ubl.Line("1", "11", "120.00", "1")], order="PO-1", issued="2024-03-09"
    )
    path = ubl.write("later", later)
    _import(store, ubl.inbox, tmp_path)
    assert _invoices(store)["CC-1/1584.00"].status is InvoiceStatus.MATCHED

    # When the earlier copy arrives
    path.unlink()
    ubl.write(
        "earlier", ubl.Doc("CC-1", [ubl.Line("1", "10", "120.00", "1")], order="PO-1")
    )
    report = _import(store, ubl.inbox, tmp_path)

    # Then the earlier one stands and the stored later one is now held
    invoices = _invoices(store)
    assert invoices["CC-1/1440.00"].status is InvoiceStatus.MATCHED
    assert invoices["CC-1/1584.00"].status is InvoiceStatus.UNMATCHED
    assert (report.counts["created"], report.counts["updated"]) == (1, 1)


def test_the_same_document_twice_is_one_invoice_and_a_rerun_changes_nothing(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    doc = ubl.Doc("CC-1", [ubl.Line("1", "10", "120.00", "1")], order="PO-1")
    ubl.write("cc-1", doc)
    ubl.write("cc-1-copy", doc)

    first = _import(store, ubl.inbox, tmp_path)
    second = _import(store, ubl.inbox, tmp_path)

    assert (first.counts["created"], first.counts["unchanged"]) == (1, 1)
    assert (second.counts["created"], second.counts["updated"]) == (0, 0)
    assert second.counts["unchanged"] == 2
    assert len(_invoices(store)) == 1


def test_differing_copies_of_one_document_are_all_refused(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    one = ubl.Doc("CC-1", [ubl.Line("1", "10", "120.00", "1", tax="S")], order="PO-1")
    other = ubl.Doc(
        "CC-1", [ubl.Line("1", "10", "120.00", "1", name="Ready-mix")], order="PO-1"
    )
    ubl.write("one", one)
    ubl.write("other", other)

    report = _import(store, ubl.inbox, tmp_path)

    assert report.exit_code is ExitCode.REJECTED
    rejects = _issues(report, "rejects.csv")
    assert [(r["file"], r["row"]) for r in rejects] == [
        ("one.xml", "Invoice/cac:InvoiceLine/cac:Item/cbc:Name"),
        ("other.xml", "Invoice/cac:InvoiceLine/cac:Item/cbc:Name"),
    ]
    assert (
        "comes in 2 documents that differ (one.xml, other.xml)" in rejects[0]["reason"]
    )
    assert _invoices(store) == {}


def test_a_credit_note_bills_the_order_of_the_invoice_it_corrects(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    ubl.write("a", ubl.Doc("CC-2", [ubl.Line("1", "10", "124.00", "1")], order="PO-1"))
    credit = ubl.Doc(
        "CN-1",
        [ubl.Line("1", "10", "4.00")],
        kind="CreditNote",
        corrects="CC-2",
        issued="2024-03-04",
    )
    ubl.write("b", credit)

    _import(store, ubl.inbox, tmp_path)

    note = _invoices(store)["CN-1/48.00"]
    assert note.status is InvoiceStatus.MATCHED
    assert note.commitment_reference == "PO-1"
    # A one-line credit on a two-line order names no line: left uncoded, flagged.
    assert note.lines[0].cost_code is None
    assert note.sign == Decimal(-1)


def test_a_bad_document_is_reported_by_file_and_element_and_the_rest_go_in(
    store: Store, ubl: SimpleNamespace, tmp_path: Path
) -> None:
    _seed(store)
    good = ubl.Doc("CC-1", [ubl.Line("1", "10", "120.00", "1")], order="PO-1")
    ubl.write("good", good)
    ubl.write("broken", ubl.xml(good).replace("<cbc:ID>CC-1</cbc:ID>", ""))
    ubl.write("notes", "these are not the invoices you are looking for")

    report = _import(store, ubl.inbox, tmp_path)

    assert report.exit_code is ExitCode.REJECTED
    assert [
        (r["file"], r["row"], r["field"]) for r in _issues(report, "rejects.csv")
    ] == [
        ("broken.xml", "Invoice/cbc:ID", "supplier_reference"),
        ("notes.xml", "document", ""),
    ]
    assert list(_invoices(store)) == ["CC-1/1440.00"]
    assert report.read == 3


@pytest.mark.shared_data
def test_the_peppol_examples_import_with_conflicts_refused_and_duplicates_held(
    store: Store, shared_data: Path, tmp_path: Path
) -> None:
    # Given the official examples, none of which names an order this store has
    first = _import(store, shared_data / PEPPOL, tmp_path)
    second = _import(store, shared_data / PEPPOL, tmp_path)

    # Then every document that can be read goes in, unmatched, with its reason;
    # the two pairs that share one identity with differing content are refused
    rejected = sorted(r["file"] for r in _issues(first, "rejects.csv"))
    assert rejected == [
        "base-example.xml",
        "sales-order-example.xml",
        "vat-category-E.xml",
        "vat-category-Z.xml",
    ]
    sales_order = next(
        r
        for r in _issues(first, "rejects.csv")
        if r["file"] == "sales-order-example.xml"
    )
    assert "only the supplier's sales order 123456" in sales_order["reason"]
    with store.transaction() as tx:
        stored = tx.list(SupplierInvoice)
    assert len(stored) == 8
    assert {i.status for i in stored} == {InvoiceStatus.UNMATCHED}
    invoices = _invoices(store)
    # Snippet1 came at 7125.00 and at 8550.00: the second is held as a duplicate
    assert "possible duplicate of invoice Snippet1" in str(
        invoices["Snippet1/8550.00"].status_reason
    )
    assert invoices["TOSL108/1801.78"].status_reason == (
        "names order 123, which is no known commitment"
    )
    # And a second run changes nothing
    assert (second.counts["created"], second.counts["updated"]) == (0, 0)
    assert second.counts["unchanged"] == 8
