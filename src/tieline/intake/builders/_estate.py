"""What the estate builder's steps share: the lookups and the row rules.

A group's export names everything by its business code (entity LCL, project
RIV, order PO-RIV-001, vendor V1001). `Estate` turns codes into canonical ids,
first among the records this run built, then in the store (records of the
profile's own system, whose ids follow from their codes), so that a later run
can import payments against the orders and invoices of an earlier one.

Rows that make one record together (the lines of one order) go in or stay
out together: a bad row rejects its whole group, each row with the reason.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from tieline.errors import ValidationFailed
from tieline.intake.builders._context import BuildContext, describe_invalid
from tieline.intake.builders._suppliers import SupplierLinker
from tieline.intake.readers import Row, Table
from tieline.model import (
    CanonicalRecord,
    Commitment,
    LegalEntity,
    Origin,
    Project,
    record_id,
)

R = TypeVar("R", bound=CanonicalRecord)


class RowProblem(Exception):
    """A row that cannot go in: the field at fault and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class Estate:
    """One estate build: the context, the supplier linker, codes seen so far."""

    context: BuildContext
    linker: SupplierLinker
    vendors: dict[str, str] = field(default_factory=dict)
    cost_codes: set[str] = field(default_factory=set)

    @property
    def system(self) -> str:
        """The origin system of every record the estate makes."""
        return self.context.profile.system

    def option(self, name: str) -> str:
        """A builder option of the profile, as text."""
        return str(self.context.options[name])

    def origin(self, key: str) -> Origin:
        """The origin of a record this estate knows by `key`."""
        return Origin(system=self.system, key=key)

    def find(self, cls: type[R], key: str, field: str) -> R:
        """The `cls` record of this system keyed `key`, or a RowProblem."""
        found = self.context.tx.get(cls, record_id(cls.kind, self.system, key))
        if found is None:
            kind = cls.kind.replace("_", " ")
            raise RowProblem(field, f"no {kind} {key!r} in this export or the store")
        return found

    def entity(self, code: str) -> LegalEntity:
        """The legal entity coded `code`."""
        return self.find(LegalEntity, code, "entity_code")

    def project(self, code: str, field: str = "project_code") -> Project:
        """The project coded `code`."""
        return self.find(Project, code, field)

    def commitment(self, number: str, field: str = "commitment") -> Commitment:
        """The commitment numbered `number`."""
        return self.find(Commitment, number, field)

    def supplier_id(self, vendor_code: str) -> str:
        """The supplier a vendor code of this run's vendor list stands for."""
        if vendor_code not in self.vendors:
            raise RowProblem("vendor_code", f"no vendor {vendor_code!r} in the list")
        return self.vendors[vendor_code]

    def check_cost_code(self, code: str, field: str = "cost_code") -> None:
        """Refuse a cost code the company's code list does not have."""
        if code not in self.cost_codes:
            system = self.option("cost_code_system")
            raise RowProblem(field, f"cost code {code!r} is not in {system}")

    def save(
        self, rows: list[Row], build: Any, *, line_rows: list[Row] | None = None
    ) -> CanonicalRecord | None:
        """Build a record from `rows` and save it, or reject every row of them.

        `build` is called with no argument and returns the record; a
        RowProblem, a ValidationFailed or a pydantic error it raises rejects
        the rows with the field and the reason. `line_rows` are the rows the
        record's `lines` are built from, in order (all of `rows` unless said).
        """
        try:
            record: CanonicalRecord = build()
        except RowProblem as err:
            self.reject(rows, err.field, err.reason)
            return None
        except (ValidationError, ValidationFailed) as err:
            self.reject(rows, *describe_invalid(err), line_rows=line_rows)
            return None
        self.context.save(record)
        self.context.advance(len(rows))
        return record

    def reject(
        self,
        rows: list[Row],
        field: str,
        reason: str,
        *,
        line_rows: list[Row] | None = None,
    ) -> None:
        """Keep every row of a document out: the row at fault with its reason.

        A document (a budget, an order with its lines) goes in whole or not
        at all, so that no half order reaches Odoo. Where the fault is one
        line's (`lines[3].amount`), that row carries the field and reason and
        its sibling rows say they were kept out with it.
        """
        culprit, field = _culprit(rows if line_rows is None else line_rows, field)
        for row in rows:
            if culprit is None or row is culprit:
                self.context.reject_row(row, field, reason)
            else:
                self.context.reject_row(
                    row,
                    "",
                    f"kept out with its document: {culprit.file} row "
                    f"{culprit.number}, {field}: {reason}",
                )


_LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.(\w+)$")


def _culprit(rows: list[Row], field: str) -> tuple[Row | None, str]:
    """The row a `lines[i].field` error points at, and the bare field name."""
    match = _LINE_FIELD.match(field)
    if match is None or len(rows) < 2:
        return None, field
    index = int(match.group(1))
    return (rows[index], match.group(2)) if index < len(rows) else (None, field)


def grouped(table: Table | None, key: str) -> Iterator[tuple[str, list[Row]]]:
    """The rows of `table` by the value of `key`, in first-seen order."""
    if table is None:
        return
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in table.rows:
        groups[str(row.values[key])].append(row)
    yield from groups.items()


def header(rows: list[Row], fields: tuple[str, ...]) -> dict[str, Any]:
    """The header fields the rows of one record share; they must agree."""
    first = rows[0].values
    for name in fields:
        values = {str(row.values.get(name)) for row in rows}
        if len(values) > 1:
            raise RowProblem(
                name, f"the rows of one record disagree: {', '.join(sorted(values))}"
            )
    return {name: first.get(name) for name in fields}


def differs_by_more_than_a_cent(
    quantity: Decimal | None, price: Decimal | None, amount: Decimal
) -> bool:
    """Whether quantity x price is more than a cent away from the amount."""
    if quantity is None or price is None:
        return False
    return abs(quantity * price - amount) > Decimal("0.01")
