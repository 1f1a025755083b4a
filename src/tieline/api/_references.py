"""The records a write names must exist, and belong where the record does.

A commitment names its legal entity, project, supplier and each line's
project; an invoice its supplier, entity, project and commitment; a payment
the invoices it settles; claims, receipts and change orders their
commitment. A write through the API is refused with 422, naming the field,
when a named record does not exist, when a project or commitment belongs to
another legal entity than the record, when an invoice's supplier is not its
commitment's, or when a line names a commitment line that is not there.
Authorization is checked first, so these answers tell only a caller who may
write the record which ids exist.

Only the references a write sets or changes are checked: an update that
keeps a reference as it was (on a record imported before its parent, say) is
not refused for it. Imports do not come through here; they keep such rows
with their reason instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from tieline.errors import ValidationFailed
from tieline.model import (
    CanonicalRecord,
    Commitment,
    LegalEntity,
    Project,
    Supplier,
    SupplierInvoice,
)
from tieline.store import Transaction

ANOTHER_ENTITY = "belongs to another legal entity"


@dataclass(frozen=True, slots=True)
class _Reference:
    """One named record: the field, what the check depends on, the check."""

    field: str
    key: tuple[str | None, ...]
    check: Callable[[], str | None]


class _Lookups:
    """The records a write's references name, each read once."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self._read: dict[tuple[str, str], CanonicalRecord | None] = {}

    def get(self, cls: type[CanonicalRecord], record_id: str) -> Any:
        """The record, or None."""
        key = (cls.kind, record_id)
        if key not in self._read:
            self._read[key] = self.tx.get(cls, record_id)
        return self._read[key]

    def exists(self, cls: type[CanonicalRecord], record_id: str) -> str | None:
        """None, or why `record_id` is not a `cls`."""
        if self.get(cls, record_id) is None:
            return f"no {cls.kind.replace('_', ' ')} {record_id}"
        return None

    def project_in(self, project_id: str, entity: str | None) -> str | None:
        """None, or why the project is missing or in another entity."""
        project = self.get(Project, project_id)
        if project is None:
            return f"no project {project_id}"
        if entity is not None and project.legal_entity_id != entity:
            return f"project {project.code} ({project_id}) {ANOTHER_ENTITY}"
        return None

    def commitment_line(self, commitment_id: str, line_key: str) -> str | None:
        """None, or why the commitment has no such line (None if no commitment)."""
        commitment = self.get(Commitment, commitment_id)
        if commitment is None or any(
            line.line_key == line_key for line in commitment.lines
        ):
            return None
        return f"commitment {commitment.number} has no line {line_key!r}"


def check_references(
    tx: Transaction, record: CanonicalRecord, previous: CanonicalRecord | None = None
) -> None:
    """Raise ValidationFailed for the first reference of `record` that is wrong.

    With `previous` (an update), references it already had are not checked.
    """
    lookups = _Lookups(tx)
    kept = (
        set()
        if previous is None
        else {(r.field, r.key) for r in _references(lookups, previous)}
    )
    for reference in _references(lookups, record):
        if (reference.field, reference.key) in kept:
            continue
        problem = reference.check()
        if problem is not None:
            raise ValidationFailed(
                problem, record=record.subject, field=reference.field
            )


def _references(lookups: _Lookups, record: CanonicalRecord) -> list[_Reference]:
    data: Any = record
    build = _BUILDERS.get(record.kind)
    return [] if build is None else list(build(lookups, data))


def _exists(
    lookups: _Lookups, field: str, cls: type[CanonicalRecord], value: str | None
) -> Iterator[_Reference]:
    if value is not None:
        yield _Reference(field, (value,), lambda: lookups.exists(cls, value))


def _project(
    lookups: _Lookups, field: str, value: str | None, entity: str | None
) -> Iterator[_Reference]:
    if value is not None:
        yield _Reference(
            field, (value, entity), lambda: lookups.project_in(value, entity)
        )


def _lines_of(
    lookups: _Lookups, commitment_id: str | None, lines: Iterable[Any]
) -> Iterator[_Reference]:
    if commitment_id is None:
        return
    for index, line in enumerate(lines):
        key = line.commitment_line_key
        if key is not None:
            yield _Reference(
                f"lines[{index}].commitment_line_key",
                (commitment_id, key),
                partial(lookups.commitment_line, commitment_id, key),
            )


def _project_refs(lookups: _Lookups, data: Any) -> Iterator[_Reference]:
    yield from _exists(lookups, "legal_entity_id", LegalEntity, data.legal_entity_id)


def _coded_refs(lookups: _Lookups, data: Any) -> Iterator[_Reference]:
    # Cost codes, budgets and revisions: their project.
    yield from _project(lookups, "project_id", data.project_id, None)


def _supplier_refs(lookups: _Lookups, data: Any) -> Iterator[_Reference]:
    yield from _exists(lookups, "merged_into", Supplier, data.merged_into)


def _commitment_refs(lookups: _Lookups, data: Any) -> Iterator[_Reference]:
    entity = data.legal_entity_id
    yield from _exists(lookups, "legal_entity_id", LegalEntity, entity)
    yield from _project(lookups, "project_id", data.project_id, entity)
    yield from _exists(lookups, "supplier_id", Supplier, data.supplier_id)
    for index, line in enumerate(data.lines):
        yield from _project(
            lookups, f"lines[{index}].project_id", line.project_id, entity
        )


def _on_commitment_refs(lookups: _Lookups, data: Any) -> Iterator[_Reference]:
    # Change orders, receipts and claims: their commitment, and its lines.
    yield from _exists(lookups, "commitment_id", Commitment, data.commitment_id)
    if data.kind != "change_order":  # a change order may add a line
        yield from _lines_of(lookups, data.commitment_id, data.lines)


def _invoice_refs(lookups: _Lookups, data: Any) -> Iterator[_Reference]:
    entity, supplier, commitment_id = (
        data.legal_entity_id,
        data.supplier_id,
        data.commitment_id,
    )
    yield from _exists(lookups, "legal_entity_id", LegalEntity, entity)
    if commitment_id is not None:
        yield _Reference(
            "commitment_id",
            (commitment_id, entity),
            lambda: _invoice_commitment(lookups, commitment_id, entity),
        )
    if supplier is not None:
        yield _Reference(
            "supplier_id",
            (supplier, commitment_id),
            lambda: _invoice_supplier(lookups, supplier, commitment_id),
        )
    yield from _project(lookups, "project_id", data.project_id, entity)
    for index, line in enumerate(data.lines):
        yield from _project(
            lookups, f"lines[{index}].project_id", line.project_id, entity
        )
    yield from _lines_of(lookups, commitment_id, data.lines)


def _invoice_commitment(
    lookups: _Lookups, commitment_id: str, entity: str | None
) -> str | None:
    commitment = lookups.get(Commitment, commitment_id)
    if commitment is None:
        return f"no commitment {commitment_id}"
    if entity is not None and commitment.legal_entity_id != entity:
        return f"commitment {commitment.number} {ANOTHER_ENTITY}"
    return None


def _invoice_supplier(
    lookups: _Lookups, supplier_id: str, commitment_id: str | None
) -> str | None:
    missing = lookups.exists(Supplier, supplier_id)
    if missing is not None:
        return missing
    commitment = (
        lookups.get(Commitment, commitment_id) if commitment_id is not None else None
    )
    if commitment is not None and commitment.supplier_id != supplier_id:
        return f"the commitment is with another supplier ({commitment.supplier_id})"
    return None


def _payment_refs(lookups: _Lookups, data: Any) -> Iterator[_Reference]:
    entity, supplier = data.legal_entity_id, data.supplier_id
    yield from _exists(lookups, "legal_entity_id", LegalEntity, entity)
    yield from _exists(lookups, "supplier_id", Supplier, supplier)
    for index, allocation in enumerate(data.allocations):
        invoice_id = allocation.invoice_id
        yield _Reference(
            f"allocations[{index}].invoice_id",
            (invoice_id, entity, supplier),
            partial(_settled, lookups, invoice_id, entity, supplier),
        )


def _settled(
    lookups: _Lookups, invoice_id: str, entity: str, supplier: str
) -> str | None:
    invoice = lookups.get(SupplierInvoice, invoice_id)
    if invoice is None:
        return f"no supplier invoice {invoice_id}"
    if invoice.supplier_id is not None and invoice.supplier_id != supplier:
        return f"invoice {invoice.supplier_reference} is of another supplier"
    if invoice.legal_entity_id is not None and invoice.legal_entity_id != entity:
        return f"invoice {invoice.supplier_reference} {ANOTHER_ENTITY}"
    return None


_BUILDERS: dict[str, Callable[[_Lookups, Any], Iterator[_Reference]]] = {
    "project": _project_refs,
    "cost_code": _coded_refs,
    "budget": _coded_refs,
    "budget_revision": _coded_refs,
    "supplier": _supplier_refs,
    "commitment": _commitment_refs,
    "change_order": _on_commitment_refs,
    "goods_receipt": _on_commitment_refs,
    "progress_claim": _on_commitment_refs,
    "supplier_invoice": _invoice_refs,
    "payment": _payment_refs,
}
