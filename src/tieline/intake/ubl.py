"""Reading UBL 2.1 invoices and credit notes (Peppol BIS Billing 3.0) with lxml.

`read_document(path)` turns one file into a `UblDocument`: a canonical
`SupplierInvoice` (status `received`, not yet matched to any commitment) plus
what matching needs that the canonical record does not hold (the supplier's
party, the buyer's tax id, the project reference, the invoice a credit note
corrects). A document that cannot be read raises `DocumentRejected`, naming the
element path and the reason.

Decisions, with the rules of EN 16931 / Peppol BIS 3 they follow:

- The root element decides the type: `Invoice` is an invoice, `CreditNote` a
  credit note; anything else (an `Order`, an HTML page) is refused. A negative
  invoice (a correction sent as an invoice with negative amounts) stays an
  invoice with negative amounts, so it reduces what is invoiced.
- Amounts are read as `Decimal` from the element text, in the document
  currency (an amount in another currency is refused, except the tax total
  given in the tax currency, which is ignored), with no more decimals than the
  currency allows. Unit prices and quantities keep the decimals they have.
- Totals: net = `TaxExclusiveAmount`, tax = the `TaxTotal/TaxAmount` in the
  document currency, gross = `TaxInclusiveAmount`. They must add up, and so
  must the lines, the allowances and charges, the VAT breakdown and the amount
  payable (BR-CO-10 to BR-CO-16); a document where they do not is refused.
- Document-level allowances and charges become lines of their own
  (`doc-allowance-1`, `doc-charge-1`, ... in document order): a charge is a
  positive net amount, an allowance a negative one, each with its own VAT
  category. The lines then add up to the net total exactly, so a report that
  sums lines and one that sums totals agree.
- A line whose quantity times price (per base quantity), plus its own charges
  less its own allowances, differs from its net amount by more than a cent is
  taken as written and flagged, not changed.
- `OrderReference/ID` "NA" is Peppol's mark for "no purchase order" (only the
  supplier's sales order is known): it is read as no order reference.
- XML is parsed without DTDs, entities or network access, so a hostile file
  cannot read local files or call out (XXE).

TODO: the invoice type code is not read, so a prepayment invoice (386) or a
corrected invoice (384) counts as an ordinary invoice; a user must spot them
by hand. Units of measure (`unitCode`) and embedded attachments are dropped:
the canonical invoice line has no unit, and there is no document store yet.
TODO: the VAT breakdown is checked to add up to the tax total, not
recomputed per category (taxable amount x rate), so a wrong rate whose sum
still agrees goes through unflagged.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree
from pydantic import ValidationError

from tieline.errors import ValidationFailed
from tieline.intake.matching import supplier_key
from tieline.model import Address, InvoiceLine, InvoiceType, Origin
from tieline.model.invoices import SupplierInvoice
from tieline.money import check_currency, minor_unit, round_money
from tieline.suppliers import normalise_tax_id

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {"cac": CAC, "cbc": CBC}

# Origin system of every record read from a UBL document, whichever profile
# carried it: the document's identity is the supplier's, not the channel's.
UBL_SYSTEM = "ubl"

_MAX_KEY = 200  # the store's source_key column
_ONE_CENT = Decimal("0.01")
_NO_ORDER = "NA"  # Peppol: "NA" when there is no purchase order reference

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


class DocumentRejected(Exception):
    """A document that cannot be taken in: where in it, which field, and why."""

    def __init__(self, element: str, field: str, reason: str) -> None:
        super().__init__(f"{element}: {reason}")
        self.element = element
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Party:
    """The supplier as the document names it."""

    name: str
    trading_name: str | None
    tax_id: str | None
    country: str | None
    address: Address | None


@dataclass(frozen=True, slots=True)
class LineFlag:
    """Something on a line that went in but needs a person's eye."""

    element: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class UblDocument:
    """One document read: its canonical invoice and what matching needs."""

    invoice: SupplierInvoice
    supplier: Party
    buyer_tax_id: str | None
    project_reference: str | None
    corrects: str | None
    sales_order: str | None
    flags: list[LineFlag] = field(default_factory=list)


def read_tax_id(raw: str | None, country: str | None = None) -> str | None:
    """A VAT number in the one spelling `tieline.suppliers` gives tax ids.

    The party's country adds a missing prefix. A number whose prefix is not
    its party's country (a UK firm registered for Irish VAT) is kept as
    written rather than refused: the invoice is still the supplier's.
    """
    if raw is None or not raw.strip():
        return None
    for where in (country, None):
        try:
            return normalise_tax_id(raw, country=where)
        except ValidationFailed:
            continue
    return re.sub(r"[^0-9A-Za-z]", "", raw).upper() or None


def _origin_key(who: str, kind: InvoiceType, reference: str, gross: Decimal) -> str:
    # The gross total is part of the identity: the same supplier reference with
    # other amounts is another document (a possible duplicate, kept and
    # flagged), while the same document imported again lands on one record.
    key = f"{who}|{kind.value}|{reference}|{gross}"
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return f"{key[: _MAX_KEY - 21]}#{digest}"


class _Reader:
    """Typed access to one document's elements, with paths for error messages."""

    def __init__(self, root: etree._Element, root_name: str, currency: str) -> None:
        self.root = root
        self.root_name = root_name
        self.currency = currency

    def path(self, xpath: str, base: str | None = None) -> str:
        return f"{base or self.root_name}/{xpath}"

    def text(self, node: etree._Element, xpath: str) -> str | None:
        found = node.find(xpath, NS)
        if found is None or found.text is None or not found.text.strip():
            return None
        return " ".join(found.text.split())

    def required(
        self, node: etree._Element, xpath: str, field: str, base: str | None = None
    ) -> str:
        value = self.text(node, xpath)
        if value is None:
            raise DocumentRejected(
                self.path(xpath, base), field, "is required but missing or empty"
            )
        return value

    def amount(
        self,
        node: etree._Element,
        xpath: str,
        field: str,
        *,
        base: str | None = None,
        default: Decimal | None = None,
    ) -> Decimal:
        element = node.find(xpath, NS)
        where = self.path(xpath, base)
        if element is None or not (element.text or "").strip():
            if default is not None:
                return default
            raise DocumentRejected(where, field, "is required but missing or empty")
        currency = element.get("currencyID")
        if currency is not None and currency.strip().upper() != self.currency:
            raise DocumentRejected(
                where,
                field,
                f"is in {currency.strip()}, not the document currency {self.currency}",
            )
        value = _decimal(element.text or "", where, field)
        rounded = round_money(value, self.currency)
        if rounded != value:
            raise DocumentRejected(
                where,
                field,
                f"{value} has more decimals than {self.currency} allows "
                f"({minor_unit(self.currency)})",
            )
        return rounded

    def number(
        self, node: etree._Element, xpath: str, field: str, base: str | None = None
    ) -> Decimal | None:
        value = self.text(node, xpath)
        return None if value is None else _decimal(value, self.path(xpath, base), field)


def plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros and never in exponent form (25.0 -> 25)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _decimal(text: str, where: str, field: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise DocumentRejected(
            where, field, f"{text.strip()!r} is not a number"
        ) from None
    if not value.is_finite():
        raise DocumentRejected(where, field, f"{text.strip()!r} is not a finite number")
    return value


def _date(reader: _Reader, xpath: str, field: str) -> date:
    text = reader.required(reader.root, xpath, field)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DocumentRejected(
            reader.path(xpath), field, f"{text!r} is not a date (YYYY-MM-DD)"
        ) from None


def _optional_date(reader: _Reader, xpath: str, field: str) -> date | None:
    return (
        None if reader.text(reader.root, xpath) is None else _date(reader, xpath, field)
    )


def read_document(path: Path) -> UblDocument:
    """Read one UBL invoice or credit note; raises `DocumentRejected`."""
    try:
        tree = etree.parse(str(path), _PARSER)
    except (etree.XMLSyntaxError, OSError) as err:
        raise DocumentRejected(
            "document", "", f"not a well-formed XML document ({err})"
        ) from None
    root = tree.getroot()
    kind, root_name = _document_type(root)
    currency_text = _Reader(root, root_name, "").required(
        root, "cbc:DocumentCurrencyCode", "currency"
    )
    try:
        currency = check_currency(currency_text)
    except ValidationFailed as err:
        raise DocumentRejected(
            f"{root_name}/cbc:DocumentCurrencyCode", "currency", err.reason
        ) from None
    return _read(_Reader(root, root_name, currency), kind)


def _document_type(root: etree._Element) -> tuple[InvoiceType, str]:
    qname = etree.QName(root)
    if qname.namespace == INVOICE_NS and qname.localname == "Invoice":
        return InvoiceType.INVOICE, "Invoice"
    if qname.namespace == CREDIT_NOTE_NS and qname.localname == "CreditNote":
        return InvoiceType.CREDIT_NOTE, "CreditNote"
    found = (
        f"{{{qname.namespace}}}{qname.localname}"
        if qname.namespace
        else qname.localname
    )
    raise DocumentRejected(
        qname.localname,
        "",
        f"the root element is {found}, not a UBL 2.1 Invoice or CreditNote "
        "(Peppol BIS Billing 3.0)",
    )


def _read(reader: _Reader, kind: InvoiceType) -> UblDocument:
    root = reader.root
    party = _supplier(reader)
    flags: list[LineFlag] = []
    return UblDocument(
        invoice=_invoice(reader, kind, party, flags),
        supplier=party,
        buyer_tax_id=_buyer_tax_id(reader),
        project_reference=_project_reference(reader),
        corrects=reader.text(
            root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
        ),
        sales_order=reader.text(root, "cac:OrderReference/cbc:SalesOrderID"),
        flags=flags,
    )


def _invoice(
    reader: _Reader, kind: InvoiceType, party: Party, flags: list[LineFlag]
) -> SupplierInvoice:
    reference = reader.required(reader.root, "cbc:ID", "supplier_reference")
    issued = _date(reader, "cbc:IssueDate", "issue_date")
    lines = [*_item_lines(reader, kind, flags), *_allowance_charge_lines(reader)]
    net, tax, gross = _totals(reader, lines)
    order = reader.text(reader.root, "cac:OrderReference/cbc:ID")
    who = supplier_key(party.tax_id, party.name)
    try:
        return SupplierInvoice(
            origin=Origin(
                system=UBL_SYSTEM, key=_origin_key(who, kind, reference, gross)
            ),
            invoice_type=kind,
            supplier_reference=reference,
            supplier_name=party.name,
            supplier_tax_id=party.tax_id,
            commitment_reference=None if order in (None, _NO_ORDER) else order,
            issue_date=issued,
            due_date=_optional_date(reader, "cbc:DueDate", "due_date"),
            currency=reader.currency,
            lines=lines,
            net_total=net,
            tax_total=tax,
            gross_total=gross,
        )
    except (ValidationError, ValidationFailed) as err:
        raise _invalid(reader, err) from None


def read_content(path: Path) -> dict[str, str]:
    """Every element's text and attributes by path: what two copies compare on.

    Read only when two files carry one document identity, to say where they
    differ.
    """
    root = etree.parse(str(path), _PARSER).getroot()
    return _content(root, etree.QName(root).localname)


def _content(root: etree._Element, root_name: str) -> dict[str, str]:
    """The element paths of `root` with their text and attributes.

    Whitespace between elements and comments do not count, so the same
    document indented differently is the same document.
    """
    leaves: dict[str, str] = {}

    def walk(node: etree._Element, path: str) -> None:
        text = " ".join((node.text or "").split())
        attributes = ";".join(f"{k!s}={v!s}" for k, v in sorted(node.attrib.items()))
        if text or attributes:
            leaves[path] = f"{text}|{attributes}"
        children = [
            (_short_name(child), child)
            for child in node
            if isinstance(child.tag, str)  # not a comment or processing instruction
        ]
        totals = Counter(name for name, _ in children)
        seen: Counter[str] = Counter()
        for name, child in children:
            seen[name] += 1
            step = f"{name}[{seen[name]}]" if totals[name] > 1 else name
            walk(child, f"{path}/{step}")

    walk(root, root_name)
    return leaves


def _short_name(node: etree._Element) -> str:
    qname = etree.QName(node)
    prefix = {CAC: "cac:", CBC: "cbc:"}.get(qname.namespace or "", "")
    return prefix + qname.localname


def _invalid(
    reader: _Reader, err: ValidationError | ValidationFailed
) -> DocumentRejected:
    if isinstance(err, ValidationFailed):
        return DocumentRejected(reader.root_name, err.field or "", err.reason)
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    return DocumentRejected(reader.root_name, where, first["msg"])


def _vat_company_id(reader: _Reader, party: etree._Element) -> str | None:
    for scheme in party.findall("cac:PartyTaxScheme", NS):
        if reader.text(scheme, "cac:TaxScheme/cbc:ID") == "VAT":
            return reader.text(scheme, "cbc:CompanyID")
    return None


def _supplier(reader: _Reader) -> Party:
    base = "cac:AccountingSupplierParty/cac:Party"
    party = reader.root.find(base, NS)
    if party is None:
        raise DocumentRejected(reader.path(base), "supplier", "is required but missing")
    registration = reader.text(party, "cac:PartyLegalEntity/cbc:RegistrationName")
    trading = reader.text(party, "cac:PartyName/cbc:Name")
    name = registration or trading
    if name is None:
        raise DocumentRejected(
            reader.path(f"{base}/cac:PartyLegalEntity/cbc:RegistrationName"),
            "supplier_name",
            "the supplier has neither a registration name nor a trading name",
        )
    country = reader.text(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")
    return Party(
        name=name,
        trading_name=trading if trading != name else None,
        tax_id=read_tax_id(_vat_company_id(reader, party), country),
        country=country,
        address=_address(reader, party, country),
    )


def _address(
    reader: _Reader, party: etree._Element, country: str | None
) -> Address | None:
    postal = party.find("cac:PostalAddress", NS)
    if postal is None:
        return None
    streets = [
        reader.text(postal, "cbc:StreetName"),
        reader.text(postal, "cbc:AdditionalStreetName"),
    ]
    return Address(
        street=", ".join(s for s in streets if s) or None,
        city=reader.text(postal, "cbc:CityName"),
        postal_code=reader.text(postal, "cbc:PostalZone"),
        region=reader.text(postal, "cbc:CountrySubentity"),
        country=country.upper() if country and len(country) == 2 else None,
    )


def _buyer_tax_id(reader: _Reader) -> str | None:
    party = reader.root.find("cac:AccountingCustomerParty/cac:Party", NS)
    if party is None:
        return None
    country = reader.text(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")
    return read_tax_id(_vat_company_id(reader, party), country)


def _project_reference(reader: _Reader) -> str | None:
    # Invoices carry the project in ProjectReference (BT-11); credit notes, which
    # have no such element in UBL, in a document reference with type code 50.
    direct = reader.text(reader.root, "cac:ProjectReference/cbc:ID")
    if direct is not None:
        return direct
    for ref in reader.root.findall("cac:AdditionalDocumentReference", NS):
        if reader.text(ref, "cbc:DocumentTypeCode") == "50":
            return reader.text(ref, "cbc:ID")
    return None


def _line_names(reader: _Reader, kind: InvoiceType) -> tuple[str, str]:
    if kind is InvoiceType.CREDIT_NOTE:
        return "cac:CreditNoteLine", "cbc:CreditedQuantity"
    return "cac:InvoiceLine", "cbc:InvoicedQuantity"


def _item_lines(
    reader: _Reader, kind: InvoiceType, flags: list[LineFlag]
) -> Iterator[InvoiceLine]:
    tag, quantity_tag = _line_names(reader, kind)
    nodes = reader.root.findall(tag, NS)
    if not nodes:
        raise DocumentRejected(reader.path(tag), "lines", "the document has no lines")
    for position, node in enumerate(nodes, start=1):
        base = reader.path(f"{tag}[{position}]")
        yield _item_line(reader, node, base, quantity_tag, flags)


def _item_line(
    reader: _Reader,
    node: etree._Element,
    base: str,
    quantity_tag: str,
    flags: list[LineFlag],
) -> InvoiceLine:
    key = reader.required(node, "cbc:ID", "line_key", base)
    quantity = reader.number(node, quantity_tag, "quantity", base)
    if quantity is None:
        raise DocumentRejected(
            f"{base}/{quantity_tag}", "quantity", "is required but missing or empty"
        )
    net = reader.amount(node, "cbc:LineExtensionAmount", "net_amount", base=base)
    unit_price = _unit_price(reader, node, base)
    adjustment = _adjustments(reader, node, base)
    expected = round_money(quantity * unit_price + adjustment, reader.currency)
    if abs(expected - net) > _ONE_CENT:
        flags.append(
            LineFlag(
                f"{base}/cbc:LineExtensionAmount",
                "net_amount",
                f"quantity {quantity} x price {unit_price} with the line's "
                f"allowances and charges is {expected}, not {net}; taken as written",
            )
        )
    category = "cac:Item/cac:ClassifiedTaxCategory"
    return InvoiceLine(
        line_key=key,
        description=_description(reader, node),
        quantity=quantity,
        unit_price=unit_price,
        net_amount=net,
        tax_category=reader.required(node, f"{category}/cbc:ID", "tax_category", base),
        tax_percent=_percent(reader, node, f"{category}/cbc:Percent", base),
        commitment_line_key=reader.text(node, "cac:OrderLineReference/cbc:LineID"),
    )


def _percent(
    reader: _Reader, node: etree._Element, xpath: str, base: str
) -> Decimal | None:
    # "25.0" and "25" are one rate; kept plain so that two copies compare equal.
    value = reader.number(node, xpath, "tax_percent", base)
    return None if value is None else plain(value)


def _description(reader: _Reader, node: etree._Element) -> str:
    name = reader.text(node, "cac:Item/cbc:Name")
    detail = reader.text(node, "cac:Item/cbc:Description")
    if name and detail and detail != name:
        return f"{name}: {detail}"
    return name or detail or ""


def _unit_price(reader: _Reader, node: etree._Element, base: str) -> Decimal:
    # The price is per base quantity (BT-149); the unit price is per one unit.
    price = reader.number(node, "cac:Price/cbc:PriceAmount", "unit_price", base)
    if price is None:
        raise DocumentRejected(
            f"{base}/cac:Price/cbc:PriceAmount",
            "unit_price",
            "is required but missing or empty",
        )
    per = reader.number(node, "cac:Price/cbc:BaseQuantity", "unit_price", base)
    if per is None or per == 1:
        return price
    if per == 0:
        raise DocumentRejected(
            f"{base}/cac:Price/cbc:BaseQuantity", "unit_price", "is zero"
        )
    return plain(price / per)


def _adjustments(reader: _Reader, node: etree._Element, base: str) -> Decimal:
    """A line's own charges less its own allowances."""
    total = Decimal(0)
    for index, charge in enumerate(node.findall("cac:AllowanceCharge", NS), start=1):
        where = f"{base}/cac:AllowanceCharge[{index}]"
        amount = reader.amount(charge, "cbc:Amount", "net_amount", base=where)
        total += amount if _is_charge(reader, charge, where) else -amount
    return total


def _is_charge(reader: _Reader, node: etree._Element, where: str) -> bool:
    indicator = reader.required(node, "cbc:ChargeIndicator", "charge_indicator", where)
    if indicator.lower() not in ("true", "false"):
        raise DocumentRejected(
            f"{where}/cbc:ChargeIndicator",
            "charge_indicator",
            f"{indicator!r} is neither true nor false",
        )
    return indicator.lower() == "true"


def _allowance_charge_lines(reader: _Reader) -> Iterator[InvoiceLine]:
    counts = {True: 0, False: 0}
    nodes = reader.root.findall("cac:AllowanceCharge", NS)
    for position, node in enumerate(nodes, start=1):
        where = reader.path(f"cac:AllowanceCharge[{position}]")
        charge = _is_charge(reader, node, where)
        counts[charge] += 1
        amount = reader.amount(node, "cbc:Amount", "net_amount", base=where)
        reason = reader.text(node, "cbc:AllowanceChargeReason") or reader.text(
            node, "cbc:AllowanceChargeReasonCode"
        )
        label = "charge" if charge else "allowance"
        yield InvoiceLine(
            line_key=f"doc-{label}-{counts[charge]}",
            description=f"{label.capitalize()}: {reason}" if reason else label,
            net_amount=amount if charge else -amount,
            tax_category=reader.required(
                node, "cac:TaxCategory/cbc:ID", "tax_category", where
            ),
            tax_percent=_percent(reader, node, "cac:TaxCategory/cbc:Percent", where),
        )


def _tax_total(reader: _Reader) -> Decimal:
    """The VAT total in the document currency, checked against its breakdown.

    A document may give its VAT a second time in the tax currency (BT-111);
    only the total in the document currency counts.
    """
    totals = reader.root.findall("cac:TaxTotal", NS)
    for position, node in enumerate(totals, start=1):
        amount = node.find("cbc:TaxAmount", NS)
        currency = None if amount is None else amount.get("currencyID")
        if amount is None or (currency or reader.currency) != reader.currency:
            continue
        step = f"cac:TaxTotal[{position}]" if len(totals) > 1 else "cac:TaxTotal"
        where = reader.path(step)
        tax = reader.amount(node, "cbc:TaxAmount", "tax_total", base=where)
        _check_breakdown(reader, node, where, tax)
        return tax
    raise DocumentRejected(
        reader.path("cac:TaxTotal/cbc:TaxAmount"),
        "tax_total",
        f"no tax total in the document currency {reader.currency}",
    )


class _MonetaryTotal:
    """The document's `LegalMonetaryTotal`, read and checked amount by amount."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.base = reader.path("cac:LegalMonetaryTotal")
        node = reader.root.find("cac:LegalMonetaryTotal", NS)
        if node is None:
            raise DocumentRejected(self.base, "net_total", "is required but missing")
        self.node = node

    def get(self, name: str, field: str, default: Decimal | None = None) -> Decimal:
        return self.reader.amount(
            self.node, f"cbc:{name}", field, base=self.base, default=default
        )

    def check(
        self,
        name: str,
        field: str,
        computed: Decimal,
        how: str,
        default: Decimal | None = None,
    ) -> Decimal:
        """The stated amount, refused unless it is what its parts add up to."""
        stated = self.get(name, field, default)
        if stated != computed:
            raise DocumentRejected(
                f"{self.base}/cbc:{name}", field, f"is {stated} but {how} to {computed}"
            )
        return stated


def _totals(
    reader: _Reader, lines: list[InvoiceLine]
) -> tuple[Decimal, Decimal, Decimal]:
    """Net, tax and gross, after checking every total adds up (BR-CO-10 to 16)."""
    total = _MonetaryTotal(reader)
    items = _sum([line for line in lines if not line.line_key.startswith("doc-")])
    allowances = -_sum([x for x in lines if x.line_key.startswith("doc-allowance")])
    charges = _sum([x for x in lines if x.line_key.startswith("doc-charge")])
    line_total = total.check("LineExtensionAmount", "net_total", items, "the lines add")
    # Left out, the allowance and charge totals are taken as their lines' sums.
    allowance_total = total.check(
        "AllowanceTotalAmount",
        "net_total",
        allowances,
        "the document-level allowances add",
        default=allowances,
    )
    charge_total = total.check(
        "ChargeTotalAmount",
        "net_total",
        charges,
        "the document-level charges add",
        default=charges,
    )
    net = total.check(
        "TaxExclusiveAmount",
        "net_total",
        line_total - allowance_total + charge_total,
        "line total - allowances + charges comes",
    )
    tax = _tax_total(reader)
    gross = total.check(
        "TaxInclusiveAmount", "gross_total", net + tax, "net + tax comes"
    )
    prepaid = total.get("PrepaidAmount", "gross_total", Decimal(0))
    rounding = total.get("PayableRoundingAmount", "gross_total", Decimal(0))
    payable = gross - prepaid + rounding
    total.check(
        "PayableAmount", "gross_total", payable, "gross - prepaid + rounding comes"
    )
    return net, tax, gross


def _check_breakdown(
    reader: _Reader, node: etree._Element, where: str, tax: Decimal
) -> None:
    subtotals = node.findall("cac:TaxSubtotal", NS)
    if not subtotals:
        return
    breakdown = sum(
        (
            reader.amount(
                sub, "cbc:TaxAmount", "tax_total", base=f"{where}/cac:TaxSubtotal[{i}]"
            )
            for i, sub in enumerate(subtotals, start=1)
        ),
        Decimal(0),
    )
    if breakdown != tax:
        raise DocumentRejected(
            f"{where}/cbc:TaxAmount",
            "tax_total",
            f"is {tax} but the VAT breakdown adds up to {breakdown}",
        )


def _sum(lines: list[InvoiceLine]) -> Decimal:
    return sum((line.net_amount for line in lines), Decimal(0))
