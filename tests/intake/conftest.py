"""Fixtures for intake tests: Peppol-shaped UBL documents written on demand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape

import pytest


@dataclass
class Line:
    """One line of a test document; the net is quantity x price unless given."""

    id: str
    quantity: str
    price: str
    order_line: str | None = None
    name: str = "Item"
    tax: str = "S"
    percent: str | None = "20"
    net: str | None = None

    def net_amount(self) -> Decimal:
        if self.net is not None:
            return Decimal(self.net)
        return _cents(Decimal(self.quantity) * Decimal(self.price))


@dataclass
class Adjustment:
    """A document-level allowance (charge=False) or charge."""

    charge: bool
    amount: str
    reason: str
    tax: str = "S"
    percent: str | None = "20"


@dataclass
class Doc:
    """A UBL invoice or credit note to write; totals are computed."""

    number: str
    lines: list[Line]
    kind: str = "Invoice"
    issued: str = "2024-03-01"
    currency: str = "GBP"
    supplier: str = "Castlegate Concrete Ltd"
    supplier_vat: str | None = "GB274553190"
    supplier_country: str = "GB"
    buyer_vat: str | None = "GB812345678"
    order: str | None = None
    project: str | None = None
    corrects: str | None = None
    adjustments: list[Adjustment] = field(default_factory=list)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _tax(category: str, percent: str | None) -> str:
    pct = f"<cbc:Percent>{percent}</cbc:Percent>" if percent is not None else ""
    return (
        f"<cbc:ID>{category}</cbc:ID>{pct}"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>"
    )


def _party(name: str, vat: str | None, country: str) -> str:
    scheme = (
        f"<cac:PartyTaxScheme><cbc:CompanyID>{vat}</cbc:CompanyID>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        if vat
        else ""
    )
    return (
        f"<cac:Party><cbc:EndpointID schemeID='0088'>1</cbc:EndpointID>"
        f"<cac:PostalAddress><cbc:StreetName>1 Quay Street</cbc:StreetName>"
        f"<cbc:CityName>Leeds</cbc:CityName><cbc:PostalZone>LS1 4AB</cbc:PostalZone>"
        f"<cac:Country><cbc:IdentificationCode>{country}</cbc:IdentificationCode>"
        f"</cac:Country></cac:PostalAddress>{scheme}"
        f"<cac:PartyLegalEntity><cbc:RegistrationName>{escape(name)}"
        "</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party>"
    )


_NS = "urn:oasis:names:specification:ubl:schema:xsd:"


def ubl_xml(doc: Doc) -> str:
    """The document as UBL 2.1 text, shaped as Peppol BIS Billing 3.0 wants."""
    cur = doc.currency
    credit = doc.kind == "CreditNote"

    def amount(tag: str, value: Decimal | str) -> str:
        return f"<cbc:{tag} currencyID='{cur}'>{value}</cbc:{tag}>"

    groups: dict[tuple[str, str | None], Decimal] = {}
    for line in doc.lines:
        key = (line.tax, line.percent)
        groups[key] = groups.get(key, Decimal(0)) + line.net_amount()
    for adj in doc.adjustments:
        key = (adj.tax, adj.percent)
        signed = Decimal(adj.amount) if adj.charge else -Decimal(adj.amount)
        groups[key] = groups.get(key, Decimal(0)) + signed
    line_total = sum((line.net_amount() for line in doc.lines), Decimal(0))
    allowances = sum(
        (Decimal(a.amount) for a in doc.adjustments if not a.charge), Decimal(0)
    )
    charges = sum((Decimal(a.amount) for a in doc.adjustments if a.charge), Decimal(0))
    net = line_total - allowances + charges
    subtotals = []
    tax_total = Decimal(0)
    for (category, percent), taxable in groups.items():
        tax = _cents(taxable * Decimal(percent or "0") / 100)
        tax_total += tax
        subtotals.append(
            "<cac:TaxSubtotal>"
            + amount("TaxableAmount", taxable)
            + amount("TaxAmount", tax)
            + f"<cac:TaxCategory>{_tax(category, percent)}</cac:TaxCategory>"
            "</cac:TaxSubtotal>"
        )
    gross = net + tax_total
    type_tag = "CreditNoteTypeCode" if credit else "InvoiceTypeCode"
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f"<{doc.kind} xmlns='{_NS}{doc.kind}-2' "
        f"xmlns:cac='{_NS}CommonAggregateComponents-2' "
        f"xmlns:cbc='{_NS}CommonBasicComponents-2'>",
        "<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#"
        "urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>",
        "<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>",
        f"<cbc:ID>{escape(doc.number)}</cbc:ID>",
        f"<cbc:IssueDate>{doc.issued}</cbc:IssueDate>",
        f"<cbc:{type_tag}>{'381' if credit else '380'}</cbc:{type_tag}>",
        f"<cbc:DocumentCurrencyCode>{cur}</cbc:DocumentCurrencyCode>",
    ]
    if doc.order:
        parts.append(f"<cac:OrderReference><cbc:ID>{doc.order}</cbc:ID>")
        parts.append("</cac:OrderReference>")
    if doc.corrects:
        parts.append(
            "<cac:BillingReference><cac:InvoiceDocumentReference>"
            f"<cbc:ID>{doc.corrects}</cbc:ID></cac:InvoiceDocumentReference>"
            "</cac:BillingReference>"
        )
    if doc.project and not credit:
        parts.append(f"<cac:ProjectReference><cbc:ID>{doc.project}</cbc:ID>")
        parts.append("</cac:ProjectReference>")
    supplier = _party(doc.supplier, doc.supplier_vat, doc.supplier_country)
    buyer = _party("Larkfield Construction Ltd", doc.buyer_vat, "GB")
    parts.append(f"<cac:AccountingSupplierParty>{supplier}")
    parts.append("</cac:AccountingSupplierParty>")
    parts.append(f"<cac:AccountingCustomerParty>{buyer}")
    parts.append("</cac:AccountingCustomerParty>")
    for adj in doc.adjustments:
        indicator = "true" if adj.charge else "false"
        parts.append(
            f"<cac:AllowanceCharge><cbc:ChargeIndicator>{indicator}"
            "</cbc:ChargeIndicator>"
            f"<cbc:AllowanceChargeReason>{adj.reason}</cbc:AllowanceChargeReason>"
            + amount("Amount", adj.amount)
            + f"<cac:TaxCategory>{_tax(adj.tax, adj.percent)}</cac:TaxCategory>"
            "</cac:AllowanceCharge>"
        )
    parts.append(
        "<cac:TaxTotal>"
        + amount("TaxAmount", tax_total)
        + "".join(subtotals)
        + "</cac:TaxTotal><cac:LegalMonetaryTotal>"
        + amount("LineExtensionAmount", line_total)
        + amount("TaxExclusiveAmount", net)
        + amount("TaxInclusiveAmount", gross)
        + amount("AllowanceTotalAmount", allowances)
        + amount("ChargeTotalAmount", charges)
        + amount("PayableAmount", gross)
        + "</cac:LegalMonetaryTotal>"
    )
    parts.extend(_line_xml(line, credit, amount) for line in doc.lines)
    parts.append(f"</{doc.kind}>")
    return "\n".join(parts) + "\n"


def _line_xml(line: Line, credit: bool, amount: Callable[[str, Any], str]) -> str:
    tag = "CreditNoteLine" if credit else "InvoiceLine"
    qty = "CreditedQuantity" if credit else "InvoicedQuantity"
    order_line = (
        f"<cac:OrderLineReference><cbc:LineID>{line.order_line}</cbc:LineID>"
        "</cac:OrderLineReference>"
        if line.order_line
        else ""
    )
    return (
        f"<cac:{tag}><cbc:ID>{line.id}</cbc:ID>"
        f"<cbc:{qty} unitCode='C62'>{line.quantity}</cbc:{qty}>"
        + amount("LineExtensionAmount", line.net_amount())
        + order_line
        + f"<cac:Item><cbc:Name>{escape(line.name)}</cbc:Name>"
        f"<cac:ClassifiedTaxCategory>{_tax(line.tax, line.percent)}"
        "</cac:ClassifiedTaxCategory></cac:Item>"
        "<cac:Price>" + amount("PriceAmount", line.price) + f"</cac:Price></cac:{tag}>"
    )


@pytest.fixture
def ubl(tmp_path: Path) -> SimpleNamespace:
    """The document kit: `Doc`, `Line`, `Adjustment`, `xml(doc)` and `write`.

    `write(name, doc_or_text)` writes `<name>.xml` into the test's own inbox
    folder (`ubl.inbox`) and returns its path.
    """
    folder = tmp_path / "inbox"
    folder.mkdir()

    def write(name: str, doc: Doc | str) -> Path:
        path = folder / f"{name}.xml"
        text = doc if isinstance(doc, str) else ubl_xml(doc)
        path.write_text(text, encoding="utf-8")
        return path

    return SimpleNamespace(
        Doc=Doc,
        Line=Line,
        Adjustment=Adjustment,
        xml=ubl_xml,
        write=write,
        inbox=folder,
    )
