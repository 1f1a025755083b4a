"""The `estate` builder: a construction group's ERP export, table by table.

The profile names the tables it has; each is optional, and they are built in
this order, so that what a row names already exists:

- `entities`: a legal entity per row.
- `projects`: a project per row.
- `cost_codes`: a code of the company's WBS per row, parent before child.
- `crosswalk`: a WBS code mapped to a code of another system, per row.
- `budgets`: one original budget per project, a line per cost code.
- `budget_revisions`: one revision per revision number.
- `suppliers`: the vendor list, through supplier identity, so that two vendor
  accounts of one company (spelt two ways) become one supplier.
- `commitments` with `commitment_lines`: one order or subcontract per number.
- `change_orders`: one change order per number.
- `receipts`: one goods receipt per receipt number.
- `progress_claims`: one claim per claim reference.
- `payments`: one payment per payment reference, with its allocations.

Options: `cost_code_system` (the WBS's name) and `crosswalk_system` (the
system the crosswalk maps to). The fields each table needs are those the
shipped `demo-estate` and `demo-payments` profiles read.

A record is keyed by its code in the export (origin system = the profile's
system), so importing the same export again changes nothing, and a row whose
record cannot be built is rejected with the rows of the same record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from tieline.errors import ConfigurationError, ValidationFailed
from tieline.intake.builders._context import BuildContext, describe_invalid
from tieline.intake.builders._estate import Estate, RowProblem, grouped, header
from tieline.intake.builders._estate_documents import (
    build_change_orders,
    build_claims,
    build_commitments,
    build_payments,
    build_receipts,
)
from tieline.intake.builders._suppliers import SupplierLinker
from tieline.intake.readers import Row, Table
from tieline.model import (
    Address,
    BankAccount,
    Budget,
    BudgetLine,
    BudgetRevision,
    BudgetRevisionLine,
    BudgetStatus,
    CostCode,
    CostCodeCrosswalk,
    LegalEntity,
    Project,
    RevisionStatus,
)
from tieline.suppliers import normalise_tax_id

Step = Callable[[Estate, Table], None]


# The fields each table must have; the others the steps read are optional.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "entities": ("entity_code", "name", "currency"),
    "projects": ("project_code", "name", "entity_code", "currency"),
    "cost_codes": ("code", "name"),
    "crosswalk": ("wbs_code", "target_code"),
    "budgets": ("project_code", "cost_code", "amount"),
    "budget_revisions": ("revision", "project_code", "reason", "cost_code", "amount"),
    "suppliers": ("vendor_code", "name"),
    "commitments": (
        "number",
        "type",
        "entity_code",
        "project_code",
        "vendor_code",
        "currency",
        "status",
    ),
    "commitment_lines": ("number", "line", "project_code", "cost_code", "amount"),
    "change_orders": (
        "number",
        "commitment",
        "reason",
        "status",
        "line",
        "cost_code",
        "amount",
    ),
    "receipts": ("grn", "commitment", "received_on", "line", "quantity"),
    "progress_claims": (
        "claim",
        "subcontract",
        "period",
        "period_end",
        "status",
        "line",
        "claimed_to_date",
    ),
    "payments": (
        "payment",
        "entity_code",
        "vendor_name",
        "paid_on",
        "currency",
        "amount",
        "invoice",
        "allocated",
    ),
}


def build_estate(context: BuildContext) -> None:
    """Build every table the profile read, in the order records depend."""
    _check_profile(context)
    estate = Estate(context, SupplierLinker(context))
    wbs = str(context.options.get("cost_code_system", ""))
    estate.cost_codes = {
        code.code for code in context.tx.list(CostCode) if code.system == wbs
    }
    for name, step in STEPS:
        table = context.tables.get(name)
        if table is not None:
            step(estate, table)
    estate.linker.finish()


def _check_profile(context: BuildContext) -> None:
    for name in ("cost_code_system",):
        if name not in context.options:
            raise ConfigurationError(
                f"profile {context.profile.name}: the estate builder needs "
                f"options.{name}"
            )
    for table in context.tables.values():
        fields = {*table.spec.columns, *table.spec.constants}
        missing = [
            f for f in REQUIRED_FIELDS.get(table.spec.name, ()) if f not in fields
        ]
        if missing:
            raise ConfigurationError(
                f"profile {context.profile.name}: table {table.spec.name} lacks "
                f"the field(s) {', '.join(missing)} that the estate builder needs"
            )


def _entities(estate: Estate, table: Table) -> None:
    for row in table.rows:
        values = row.values
        estate.save(
            [row],
            lambda v=values: LegalEntity(
                origin=estate.origin(v["entity_code"]),
                code=v["entity_code"],
                name=v["name"],
                base_currency=v["currency"],
                country=v.get("country"),
                tax_id=normalise_tax_id(v["vat_number"], country=v.get("country"))
                if v.get("vat_number")
                else None,
            ),
        )


def _projects(estate: Estate, table: Table) -> None:
    for row in table.rows:
        values = row.values
        estate.save(
            [row],
            lambda v=values: Project(
                origin=estate.origin(v["project_code"]),
                code=v["project_code"],
                name=v["name"],
                legal_entity_id=estate.entity(v["entity_code"]).id,
                currency=v["currency"],
                cost_code_system=estate.option("cost_code_system"),
                status=v.get("status") or "active",
                start_date=v.get("start_date"),
                end_date=v.get("end_date"),
                location=v.get("location"),
            ),
        )


def _cost_codes(estate: Estate, table: Table) -> None:
    system = estate.option("cost_code_system")
    known = {str(row.values["code"]) for row in table.rows}
    for row in table.rows:
        values = row.values

        def build(v: dict[str, Any] = values) -> CostCode:
            parent = v.get("parent")
            if parent and parent not in known and parent not in estate.cost_codes:
                raise RowProblem("parent", f"parent code {parent!r} is not in {system}")
            return CostCode(
                origin=estate.origin(f"{system}:{v['code']}"),
                system=system,
                code=v["code"],
                name=v["name"],
                parent_code=parent,
                level=v.get("level"),
            )

        if estate.save([row], build) is not None:
            estate.cost_codes.add(str(values["code"]))


def _crosswalk(estate: Estate, table: Table) -> None:
    system = estate.option("cost_code_system")
    target = estate.option("crosswalk_system")
    for row in table.rows:
        values = row.values

        def build(v: dict[str, Any] = values) -> CostCodeCrosswalk:
            estate.check_cost_code(v["wbs_code"], "wbs_code")
            return CostCodeCrosswalk(
                origin=estate.origin(f"{system}:{v['wbs_code']}->{target}"),
                from_system=system,
                from_code=v["wbs_code"],
                to_system=target,
                to_code=v["target_code"],
            )

        estate.save([row], build)


def _budgets(estate: Estate, table: Table) -> None:
    for code, rows in grouped(table, "project_code"):

        def build(code: str = code, rows: list[Row] = rows) -> Budget:
            project = estate.project(code)
            seen: set[str] = set()
            for row in rows:
                estate.check_cost_code(row.values["cost_code"])
                if row.values["cost_code"] in seen:
                    raise RowProblem("cost_code", "the code appears twice in budget")
                seen.add(row.values["cost_code"])
            return Budget(
                origin=estate.origin(code),
                project_id=project.id,
                currency=project.currency,
                status=header(rows, ("status",))["status"] or BudgetStatus.APPROVED,
                lines=[
                    BudgetLine(
                        line_key=row.values["cost_code"],
                        cost_code=row.values["cost_code"],
                        description=row.values.get("description") or "",
                        amount=row.values["amount"],
                    )
                    for row in rows
                ],
            )

        estate.save(rows, build)


def _revisions(estate: Estate, table: Table) -> None:
    for number, rows in grouped(table, "revision"):

        def build(number: str = number, rows: list[Row] = rows) -> BudgetRevision:
            head = header(rows, ("project_code", "reason", "status"))
            project = estate.project(head["project_code"])
            for row in rows:
                estate.check_cost_code(row.values["cost_code"])
            return BudgetRevision(
                origin=estate.origin(f"{head['project_code']}:{number}"),
                project_id=project.id,
                number=number,
                reason=head["reason"],
                currency=project.currency,
                status=head["status"] or RevisionStatus.SUBMITTED,
                lines=[
                    BudgetRevisionLine(
                        cost_code=row.values["cost_code"],
                        amount=row.values["amount"],
                        description=row.values.get("description") or "",
                    )
                    for row in rows
                ],
            )

        estate.save(rows, build)


def _suppliers(estate: Estate, table: Table) -> None:
    # Through supplier identity: two vendor rows of one company (a duplicate
    # vendor account, spelt another way) become one supplier with both names.
    for row in table.rows:
        values = row.values
        try:
            supplier = estate.linker.link(
                values["name"],
                tax_id=values.get("vat_number"),
                country=values.get("country"),
                address=_address(values),
                bank_account=BankAccount(account_number=values["iban"])
                if values.get("iban")
                else None,
            )
        except ValidationFailed as err:  # a placeholder name, an unreadable tax id
            estate.reject([row], err.field or "name", err.reason)
            continue
        except ValidationError as err:
            estate.reject([row], *describe_invalid(err))
            continue
        estate.vendors[values["vendor_code"]] = supplier.id
        estate.context.advance(1)


def _address(values: dict[str, Any]) -> Address | None:
    if not any(values.get(k) for k in ("street", "city", "postal_code")):
        return None
    return Address(
        street=values.get("street"),
        city=values.get("city"),
        postal_code=values.get("postal_code"),
        country=values.get("country"),
    )


STEPS: tuple[tuple[str, Step], ...] = (
    ("entities", _entities),
    ("projects", _projects),
    ("cost_codes", _cost_codes),
    ("crosswalk", _crosswalk),
    ("budgets", _budgets),
    ("budget_revisions", _revisions),
    ("suppliers", _suppliers),
    ("commitments", build_commitments),
    ("change_orders", build_change_orders),
    ("receipts", build_receipts),
    ("progress_claims", build_claims),
    ("payments", build_payments),
)
