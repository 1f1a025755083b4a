"""Reading UBL 2.1 / Peppol BIS 3 documents: values, decisions and refusals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tieline.intake.ubl import DocumentRejected, read_document, read_tax_id
from tieline.model import InvoiceType

PEPPOL = "peppol-bis-invoice-3"


# file: (type, reference, currency, net, tax, gross, lines incl. allowances)
EXAMPLES = {
    "base-example.xml": (
        "invoice", "Snippet1", "EUR", "1325.00", "331.25", "1656.25", 3
    ),
    "Allowance-example.xml": (
        "invoice", "Snippet1", "EUR", "5900.00", "1225.00", "7125.00", 5
    ),
    "Vat-category-S.xml": (
        "invoice", "Snippet1", "EUR", "7000.00", "1550.00", "8550.00", 5
    ),
    "Norwegian-example-1.xml": (
        "invoice", "TOSL108", "NOK", "1436.50", "365.28", "1801.78", 7
    ),
    "base-creditnote-correction.xml": (
        "credit_note", "Snippet1", "EUR", "1325.00", "331.25", "1656.25", 3
    ),
    "base-negative-inv-correction.xml": (
        "invoice", "Correction1", "EUR", "-1325.00", "-331.25", "-1656.25", 3
    ),
    "vat-category-E.xml": ("invoice", "Vat-Z", "GBP", "1200.00", "0.00", "1200.00", 1),
    "vat-category-O.xml": ("invoice", "Vat-O", "SEK", "3200.00", "0.00", "3200.00", 1),
    "vat-category-Z.xml": ("invoice", "Vat-Z", "GBP", "1200.00", "0.00", "1200.00", 1),
    "GR-base-example-correct.xml": (
        "invoice", "061828591|01/10/2020|0|1.1|0|1", "EUR",
        "1325.00", "331.25", "1656.25", 3,
    ),
}  # fmt: skip


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("file", "kind", "reference", "currency", "net", "tax", "gross", "lines"),
    [(file, *expected) for file, expected in EXAMPLES.items()],
)
def test_the_peppol_examples_read_with_exact_totals(
    shared_data: Path,
    file: str,
    kind: str,
    reference: str,
    currency: str,
    net: str,
    tax: str,
    gross: str,
    lines: int,
) -> None:
    invoice = read_document(shared_data / PEPPOL / file).invoice

    assert invoice.invoice_type.value == kind
    assert invoice.supplier_reference == reference
    assert invoice.currency == currency
    assert (
        str(invoice.net_total),
        str(invoice.tax_total),
        str(invoice.gross_total),
    ) == (
        net,
        tax,
        gross,
    )
    assert len(invoice.lines) == lines
    # Lines, document-level allowances and charges included, add up to the net.
    assert sum(line.net_amount for line in invoice.lines) == invoice.net_total


@pytest.mark.shared_data
def test_document_allowances_and_charges_become_signed_lines(shared_data: Path) -> None:
    invoice = read_document(shared_data / PEPPOL / "Allowance-example.xml").invoice

    extra = {
        line.line_key: line for line in invoice.lines if line.line_key[:4] == "doc-"
    }
    assert extra["doc-charge-1"].net_amount == Decimal("200.00")
    assert extra["doc-charge-1"].description == "Charge: Cleaning"
    assert extra["doc-allowance-1"].net_amount == Decimal("-200.00")
    assert extra["doc-allowance-1"].description == "Allowance: Discount"
    assert extra["doc-allowance-1"].tax_category == "S"
    assert extra["doc-allowance-1"].tax_percent == Decimal(25)


@pytest.mark.shared_data
def test_a_line_priced_per_base_quantity_has_the_unit_price(shared_data: Path) -> None:
    # Line 2 of the example: 10 units at 200.00 per 2 units is 1000.00.
    invoice = read_document(shared_data / PEPPOL / "Allowance-example.xml").invoice

    line = invoice.lines[1]
    assert (line.quantity, line.unit_price, line.net_amount) == (
        Decimal(10),
        Decimal(100),
        Decimal("1000.00"),
    )
    assert line.commitment_line_key == "124"
    assert (line.tax_category, line.tax_percent) == ("E", Decimal(0))


@pytest.mark.shared_data
def test_a_credit_note_keeps_its_amounts_and_turns_the_sign(shared_data: Path) -> None:
    document = read_document(shared_data / PEPPOL / "base-creditnote-correction.xml")

    assert document.invoice.invoice_type is InvoiceType.CREDIT_NOTE
    assert document.invoice.sign == Decimal(-1)
    assert document.corrects == "Snippet1"
    assert document.invoice.lines[0].quantity == Decimal(7)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("file", "category", "percent"),
    [
        ("vat-category-E.xml", "E", Decimal(0)),
        ("vat-category-O.xml", "O", None),
        ("vat-category-Z.xml", "Z", Decimal(0)),
        ("Vat-category-S.xml", "S", Decimal(25)),
    ],
)
def test_each_vat_category_is_kept_on_its_line(
    shared_data: Path, file: str, category: str, percent: Decimal | None
) -> None:
    line = read_document(shared_data / PEPPOL / file).invoice.lines[0]

    assert (line.tax_category, line.tax_percent) == (category, percent)


@pytest.mark.shared_data
def test_the_supplier_is_the_seller_not_its_tax_representative(
    shared_data: Path,
) -> None:
    path = shared_data / PEPPOL / "GR-base-example-TaxRepresentative.xml"
    document = read_document(path)

    # The seller gives only a trading name and no VAT number; the tax
    # representative's VAT number (EL061828591) is not the seller's.
    assert document.supplier.name == "SupplierTradingName Ltd."
    assert document.invoice.supplier_tax_id is None
    assert document.supplier.address is not None
    assert document.supplier.address.city == "Athens"


@pytest.mark.shared_data
def test_the_supplier_is_named_by_registration_and_tax_id(shared_data: Path) -> None:
    document = read_document(shared_data / PEPPOL / "base-example.xml")

    assert document.invoice.supplier_name == "SupplierOfficialName Ltd"
    assert document.supplier.trading_name == "SupplierTradingName Ltd."
    assert document.invoice.supplier_tax_id == "GB1232434"
    assert document.supplier.address is not None
    assert document.supplier.address.street == "Main street 1, Postbox 123"
    assert document.buyer_tax_id == "SE4598375937"


@pytest.mark.shared_data
def test_a_sales_order_only_reference_is_no_order(shared_data: Path) -> None:
    document = read_document(shared_data / PEPPOL / "sales-order-example.xml")

    assert document.invoice.commitment_reference is None
    assert document.sales_order == "123456"


@pytest.mark.shared_data
def test_the_order_reference_is_the_commitment_reference(shared_data: Path) -> None:
    invoice = read_document(shared_data / PEPPOL / "Norwegian-example-1.xml").invoice

    assert invoice.commitment_reference == "123"
    assert [line.commitment_line_key for line in invoice.lines[:5]] == [
        "1",
        "5",
        "3",
        "2",
        "4",
    ]


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("GB 274 5531 90", None, "GB274553190"),
        ("gb274-553-190", None, "GB274553190"),
        ("274553190", "GB", "GB274553190"),
        ("061828591", "GR", "EL061828591"),
        ("NO123456785MVA", "NO", "NO123456785MVA"),
        ("IE 6388047V", "GB", "IE6388047V"),
        (" ", None, None),
    ],
)
def test_tax_ids_are_normalised(
    raw: str, country: str | None, expected: str | None
) -> None:
    assert read_tax_id(raw, country) == expected


def _reject(path: Path) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        read_document(path)
    return caught.value


def test_a_file_that_is_not_xml_is_refused(ubl: SimpleNamespace) -> None:
    err = _reject(ubl.write("page", "<html><body>Invoice attached</body>"))

    assert err.element == "document"
    assert "not a well-formed XML document" in err.reason


def test_an_order_is_not_an_invoice(ubl: SimpleNamespace) -> None:
    order = (
        "<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2' "
        "xmlns:cbc='urn:oasis:names:specification:ubl:schema:xsd:"
        "CommonBasicComponents-2'><cbc:ID>PO-1</cbc:ID></Order>"
    )
    err = _reject(ubl.write("order", order))

    assert err.element == "Order"
    assert "not a UBL 2.1 Invoice or CreditNote" in err.reason
    assert "Order-2}Order" in err.reason


def _invoice(ubl: SimpleNamespace, **changes: object) -> object:
    base = {
        "number": "INV-1",
        "lines": [ubl.Line("1", "10", "12.50", order_line="1")],
        "order": "PO-1",
    }
    return ubl.Doc(**{**base, **changes})


def test_a_missing_required_element_is_named(ubl: SimpleNamespace) -> None:
    text = ubl.xml(_invoice(ubl)).replace(
        "<cbc:IssueDate>2024-03-01</cbc:IssueDate>", ""
    )
    err = _reject(ubl.write("no-date", text))

    assert (err.element, err.field) == ("Invoice/cbc:IssueDate", "issue_date")
    assert err.reason == "is required but missing or empty"


def test_totals_that_do_not_add_up_are_refused(ubl: SimpleNamespace) -> None:
    # 10 x 12.50 = 125.00 net, 25.00 VAT: the gross must be 150.00.
    text = ubl.xml(_invoice(ubl))
    text = text.replace(
        "<cbc:TaxInclusiveAmount currencyID='GBP'>150.00",
        "<cbc:TaxInclusiveAmount currencyID='GBP'>151.00",
    )
    err = _reject(ubl.write("bad-total", text))

    assert err.element == "Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"
    assert err.field == "gross_total"
    assert err.reason == "is 151.00 but net + tax comes to 150.00"


def test_lines_that_do_not_add_up_to_the_line_total_are_refused(
    ubl: SimpleNamespace,
) -> None:
    text = ubl.xml(_invoice(ubl)).replace(
        "<cbc:LineExtensionAmount currencyID='GBP'>125.00</cbc:LineExtensionAmount>"
        "<cac:OrderLineReference>",
        "<cbc:LineExtensionAmount currencyID='GBP'>120.00</cbc:LineExtensionAmount>"
        "<cac:OrderLineReference>",
    )
    err = _reject(ubl.write("bad-lines", text))

    assert err.element == "Invoice/cac:LegalMonetaryTotal/cbc:LineExtensionAmount"
    assert err.reason == "is 125.00 but the lines add to 120.00"


def test_a_vat_breakdown_that_does_not_add_up_is_refused(ubl: SimpleNamespace) -> None:
    text = ubl.xml(_invoice(ubl)).replace(
        "<cbc:TaxableAmount currencyID='GBP'>125.00</cbc:TaxableAmount>"
        "<cbc:TaxAmount currencyID='GBP'>25.00",
        "<cbc:TaxableAmount currencyID='GBP'>125.00</cbc:TaxableAmount>"
        "<cbc:TaxAmount currencyID='GBP'>24.00",
    )
    err = _reject(ubl.write("bad-vat", text))

    assert err.element == "Invoice/cac:TaxTotal/cbc:TaxAmount"
    assert err.reason == "is 25.00 but the VAT breakdown adds up to 24.00"


def test_an_amount_in_another_currency_is_refused(ubl: SimpleNamespace) -> None:
    text = ubl.xml(_invoice(ubl)).replace(
        "<cbc:TaxExclusiveAmount currencyID='GBP'>",
        "<cbc:TaxExclusiveAmount currencyID='EUR'>",
    )
    err = _reject(ubl.write("mixed", text))

    assert err.element == "Invoice/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"
    assert err.reason == "is in EUR, not the document currency GBP"


def test_an_amount_finer_than_the_currency_is_refused(ubl: SimpleNamespace) -> None:
    doc = _invoice(ubl, lines=[ubl.Line("1", "1", "12.505", net="12.505")])
    err = _reject(ubl.write("fine", ubl.xml(doc)))

    assert err.element == "Invoice/cac:InvoiceLine[1]/cbc:LineExtensionAmount"
    assert err.reason == "12.505 has more decimals than GBP allows (2)"


def test_a_line_whose_arithmetic_is_off_is_kept_and_flagged(
    ubl: SimpleNamespace,
) -> None:
    # 3 x 33.30 is 99.90; the supplier wrote 100.00 and the totals agree with it.
    doc = _invoice(ubl, lines=[ubl.Line("1", "3", "33.30", net="100.00")])
    document = read_document(ubl.write("rounding", ubl.xml(doc)))

    assert document.invoice.lines[0].net_amount == Decimal("100.00")
    (flag,) = document.flags
    assert flag.element == "Invoice/cac:InvoiceLine[1]/cbc:LineExtensionAmount"
    assert "is 99.90, not 100.00" in flag.reason
