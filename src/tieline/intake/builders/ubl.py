"""The `ubl` builder: UBL 2.1 / Peppol BIS 3 invoices and credit notes.

Each file of a `format = "ubl"` table is one document (see `tieline.intake.ubl`
for how it is read). A run then:

1. rejects what cannot be read, naming the file, the element path and why;
2. rejects every copy of a document that arrives in several differing
   versions in one run (same supplier, type, reference and gross, other
   content): one supplier reference is one document, and which version stands
   is for a person to say, as for conflicting rows of a table;
3. settles the rest against the store's commitments (`tieline.intake.matching`):
   matched, unmatched with the reason in words, or held as a possible duplicate;
4. saves each invoice, one record per document identity, so the same document
   imported again is unchanged.

Possible duplicates already stored are settled again with the run's
documents, since a new member of their group can change which one stands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tieline.errors import ValidationFailed
from tieline.intake.builders._context import BuildContext
from tieline.intake.builders._suppliers import SupplierLinker
from tieline.intake.matching import (
    InvoiceBook,
    billing_order,
    duplicate_key,
    settle,
)
from tieline.intake.readers import Row
from tieline.intake.ubl import (
    DocumentRejected,
    UblDocument,
    read_content,
    read_document,
)
from tieline.model import InvoiceType
from tieline.model.invoices import SupplierInvoice

_SUPPLIER_ELEMENT = "AccountingSupplierParty/cac:Party"


@dataclass
class _Received:
    """A document read in this run, ready to settle."""

    row: Row
    document: UblDocument
    invoice: SupplierInvoice
    hint: str = ""


def build_ubl(context: BuildContext) -> None:
    """Read, check, settle and save every UBL document the profile found."""
    book = InvoiceBook.load(context.tx)
    linker = SupplierLinker(context)
    received: list[_Received] = []
    for item in _drop_conflicts(context, list(_read_all(context))):
        if _prepare(context, item, book, linker):
            book.put(item.invoice)
            received.append(item)
    stored = _stored_group_members(received, book)
    work: list[tuple[_Received | None, SupplierInvoice]] = [
        *((item, item.invoice) for item in received),
        *((None, invoice) for invoice in stored),
    ]
    for source, invoice in sorted(work, key=lambda pair: billing_order(pair[1])):
        settled = settle(invoice, book, no_order_hint=source.hint if source else "")
        book.put(settled.invoice)
        if source is not None:
            _save_received(context, source, settled.invoice, settled.flags)
        elif settled.invoice.content() != invoice.content():
            context.save(settled.invoice)
            for field, reason in settled.flags:
                context.run.flag("(stored)", _label(invoice), field, reason)
    linker.finish()


def _read_all(context: BuildContext) -> Iterator[tuple[Row, UblDocument]]:
    for table in context.tables.values():
        for row in table.rows:
            path = row.values.get("path")
            if not isinstance(path, Path):
                continue
            try:
                yield row, read_document(path)
            except DocumentRejected as err:
                context.run.reject(row.file, err.element, err.field, err.reason)
            context.advance(1)


def _label(invoice: SupplierInvoice) -> str:
    kind = invoice.invoice_type.value.replace("_", " ")
    return f"{kind} {invoice.supplier_reference}"


def _drop_conflicts(
    context: BuildContext, documents: list[tuple[Row, UblDocument]]
) -> list[_Received]:
    by_identity: dict[str, list[tuple[Row, UblDocument]]] = {}
    for row, document in documents:
        by_identity.setdefault(document.invoice.id, []).append((row, document))
    kept: list[_Received] = []
    for copies in by_identity.values():
        differing = _differences([row for row, _ in copies])
        if not differing:
            kept.extend(_Received(row, doc, doc.invoice) for row, doc in copies)
            continue
        invoice = copies[0][1].invoice
        files = ", ".join(row.file for row, _ in copies)
        reason = (
            f"{_label(invoice)} from {invoice.supplier_name} for "
            f"{invoice.gross_total} {invoice.currency} comes in {len(copies)} "
            f"documents that differ ({files}): one reference is one document, so "
            "none is taken until a person says which stands"
        )
        for row, document in copies:
            detail = (
                f"; this copy quotes no purchase order (NA), only the supplier's "
                f"sales order {document.sales_order}"
                if document.sales_order
                else ""
            )
            context.run.reject(
                row.file, differing[0], "supplier_reference", reason + detail
            )
    return kept


def _differences(rows: list[Row]) -> list[str]:
    """Element paths where copies of one document differ (none: one document)."""
    if len(rows) == 1:
        return []
    contents = [read_content(row.values["path"]) for row in rows]
    first = contents[0]
    return sorted(
        {
            path
            for other in contents[1:]
            for path in first.keys() | other.keys()
            if first.get(path) != other.get(path)
        }
    )


def _prepare(
    context: BuildContext, item: _Received, book: InvoiceBook, linker: SupplierLinker
) -> bool:
    """Link what the document names: supplier, buyer entity, project, order.

    Returns False, with the document rejected, when its supplier is not one.
    """
    document = item.document
    party = document.supplier
    try:
        # The tax id is already in its one spelling (`read_tax_id`).
        supplier = linker.link(party.name, tax_id=party.tax_id, address=party.address)
    except ValidationFailed as err:  # NotASupplier included: a placeholder name
        context.run.reject(
            item.row.file, _SUPPLIER_ELEMENT, "supplier_name", err.reason
        )
        return False
    entity = book.entities_by_tax_id.get(document.buyer_tax_id or "")
    item.invoice = item.invoice.model_copy(
        update={
            "supplier_id": supplier.id,
            "legal_entity_id": entity.id if entity else None,
            "project_id": _project(context, item, book),
        }
    )
    if item.invoice.commitment_reference is None:
        order = _order_of_corrected(item, book)
        item.invoice = item.invoice.model_copy(update={"commitment_reference": order})
    if document.sales_order and item.invoice.commitment_reference is None:
        item.hint = (
            " (its order reference is NA, Peppol's mark for none; the supplier's "
            f"sales order is {document.sales_order})"
        )
    return True


def _project(context: BuildContext, item: _Received, book: InvoiceBook) -> str | None:
    reference = item.document.project_reference
    if reference is None:
        return None
    projects = book.projects_by_code.get(reference, [])
    if len(projects) == 1:
        return projects[0].id
    context.run.flag(
        item.row.file,
        "ProjectReference/cbc:ID",
        "project_id",
        f"project reference {reference} names "
        + ("no known project" if not projects else f"{len(projects)} projects"),
    )
    return None


def _order_of_corrected(item: _Received, book: InvoiceBook) -> str | None:
    # A credit note or correction often names only the invoice it corrects
    # (BillingReference); it then bills the order that invoice named.
    corrected = item.document.corrects
    if corrected is None:
        return None
    probe = item.invoice.model_copy(
        update={"invoice_type": InvoiceType.INVOICE, "supplier_reference": corrected}
    )
    key = duplicate_key(probe)
    for other in book.duplicates_of(probe):
        if duplicate_key(other) == key and other.commitment_reference:
            return other.commitment_reference
    return None


def _stored_group_members(
    received: list[_Received], book: InvoiceBook
) -> list[SupplierInvoice]:
    in_run = {item.invoice.id for item in received}
    members: dict[str, SupplierInvoice] = {}
    for item in received:
        for other in book.duplicates_of(item.invoice):
            if other.id not in in_run:
                members[other.id] = other
    return list(members.values())


def _save_received(
    context: BuildContext,
    item: _Received,
    invoice: SupplierInvoice,
    flags: list[tuple[str, str]],
) -> None:
    context.save(invoice)
    for flag in item.document.flags:
        context.run.flag(item.row.file, flag.element, flag.field, flag.reason)
    for field, reason in flags:
        context.run.flag(item.row.file, _label(invoice), field, reason)
    _check_project(context, item, invoice)


def _check_project(
    context: BuildContext, item: _Received, invoice: SupplierInvoice
) -> None:
    referenced = item.invoice.project_id
    if invoice.commitment_id and referenced and referenced != invoice.project_id:
        context.run.flag(
            item.row.file,
            "ProjectReference/cbc:ID",
            "project_id",
            f"project reference {item.document.project_reference} is not the "
            "project of the order the invoice bills; the order's project is kept",
        )
