"""`tieline requisition submit`: ask for something to be bought, for approval.

A thin shell over `tieline.workflows.submissions` (which says what is
checked). The lines come from a file:

- `.toml` or `.json`: the whole requisition, header and lines:

      number = "REQ-12"
      project = "P-1"                 # a project's code or id
      supplier = "Cascade Concrete"   # a supplier's legal name or id
      description = "Formwork for the east wall"
      # a subcontract (commitment_type = "subcontract") may add
      # retention_percent = "5", retention_cap = "6000.00" and
      # retention_terms = "in full at practical completion"
      [[lines]]
      cost_code = "03 30 00"
      quantity = "12.5"               # numbers as strings, or TOML decimals
      unit_price = "45.10"            # amount: worked out (or checked if given)

- `.csv`: the lines only (columns `cost_code`, `quantity`, `unit_price`, and
  optionally `unit`, `description`, `line_key`, `amount`); the header comes
  from `--number`, `--project` and `--supplier`.

Options given on the command line win over the file's header. The requester
is `--as` (resolved through the policy's identities, as for `tieline
approve`); a requisition is approved by someone else. What is submitted
waits in the outbox until the hub's workers start its workflow (`tieline
serve`), which routes it to the approvers' `tieline tasks`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from tieline.cli._console import console
from tieline.errors import ValidationFailed
from tieline.model import Project, Supplier
from tieline.money import LOCATED
from tieline.store import Transaction
from tieline.workflows.submissions import RequisitionRequest, submit_requisition

requisition_app = typer.Typer(
    help="Requisitions: submit one for approval.", no_args_is_help=True
)

HEADER = ("number", "project", "supplier", "commitment_type", "description")
# A subcontract's retention, from the file's header or the options.
RETENTION = ("retention_percent", "retention_cap", "retention_terms")


def _error(message: str) -> Exception:
    from tieline.cli._app import CommandError

    return CommandError(message)


@requisition_app.command("submit")
def submit(
    lines: Annotated[
        Path, typer.Argument(help="A .toml, .json or .csv file of the lines.")
    ],
    who: Annotated[
        str, typer.Option("--as", help="Who requests: system:login, or an id.")
    ],
    number: Annotated[
        str | None, typer.Option(help="The requisition's number.")
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="The project's code or id.")
    ] = None,
    supplier: Annotated[
        str | None, typer.Option(help="The supplier's legal name or id.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option("--type", help="purchase_order (default) or subcontract."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    retention: Annotated[
        str | None,
        typer.Option(help="A subcontract's retention rate, percent (e.g. 5)."),
    ] = None,
    retention_cap: Annotated[
        str | None, typer.Option(help="The most retention held, in the currency.")
    ] = None,
    retention_terms: Annotated[
        str | None, typer.Option(help="The contract's release terms, in words.")
    ] = None,
    policies: Annotated[
        Path | None,
        typer.Option(help="The policy file (default <data dir>/workflows.toml)."),
    ] = None,
) -> None:
    """Submit a requisition for approval, as the person (or service) `--as`."""
    from tieline.cli._commands import open_store
    from tieline.cli._workflows import _hub, _settings, policy_path

    header, rows, rows_at = _read(lines)
    given = {
        "number": number,
        "project": project,
        "supplier": supplier,
        "commitment_type": kind,
        "description": description,
        "retention_percent": retention,
        "retention_cap": retention_cap,
        "retention_terms": retention_terms,
    }
    header.update({key: value for key, value in given.items() if value is not None})
    settings = _settings()
    hub = _hub(policy_path(settings, policies))
    requester = hub.policies.directory.parse(who)
    store = open_store(settings)
    try:
        with store.transaction() as tx:
            request = _request(tx, header, rows, rows_at, lines.name)
            saved = submit_requisition(tx, hub, request, requester)
    except ValidationFailed as err:
        raise _error(_with_row(err, rows_at, lines.name)) from None
    finally:
        store.close()
    count = len(saved.lines)
    console.print(
        f"{saved.number}: submitted by {requester.id} for approval "
        f"({count} line{'' if count == 1 else 's'}, {saved.total()} {saved.currency})",
        markup=False,
    )


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
    """The header, the lines, and where each line is in the file (CSV rows)."""
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(text)))
            # Row 1 is the column names.
            return {}, [_csv_line(row) for row in rows], list(range(2, len(rows) + 2))
        if suffix == ".toml":
            data = tomllib.loads(text, parse_float=Decimal)
        elif suffix == ".json":
            data = json.loads(text, parse_float=Decimal)
        else:
            raise _error(f"{path.name}: give a .toml, .json or .csv file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, csv.Error) as err:
        raise _error(f"{path.name}: {err}") from err
    if not isinstance(data, dict):
        raise _error(f"{path.name}: the file must hold one requisition")
    unknown = sorted(set(data) - {*HEADER, *RETENTION, "lines"})
    if unknown:
        raise _error(f"{path.name}: unknown fields {', '.join(unknown)}")
    found = data.get("lines", [])
    header = {key: value for key, value in data.items() if key != "lines"}
    return header, found, []


def _csv_line(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    # Blank cells are left out (not sent as ""), so optional columns default.
    return {
        str(key).strip(): value.strip()
        for key, value in row.items()
        if key is not None and isinstance(value, str) and value.strip()
    }


def _request(
    tx: Transaction,
    header: dict[str, Any],
    rows: list[dict[str, Any]],
    rows_at: list[int],
    name: str,
) -> RequisitionRequest:
    for field in ("number", "project", "supplier"):
        if not header.get(field):
            raise _error(f"give the requisition's {field} (--{field}, or in the file)")
    data = {
        "number": str(header["number"]),
        "project_id": _project(tx, str(header["project"])),
        "supplier_id": _supplier(tx, str(header["supplier"])),
        "description": header.get("description", ""),
        "lines": rows,
    }
    if header.get("commitment_type"):
        data["commitment_type"] = header["commitment_type"]
    for field in RETENTION:
        if header.get(field) is not None:
            data[field] = header[field]
    try:
        return RequisitionRequest.model_validate(data, context={LOCATED: True})
    except ValidationError as err:
        raise _error(_problems(err, rows_at, name)) from None


def _problems(err: ValidationError, rows_at: list[int], name: str) -> str:
    """Each problem as `lines[1].unit_price (line 2, row 3 of x.csv): reason`."""
    found = []
    for error in err.errors(include_url=False):
        location = list(error["loc"])
        field = ".".join(str(part) for part in location)
        where = ""
        if (
            len(location) >= 2
            and location[0] == "lines"
            and isinstance(location[1], int)
        ):
            index = location[1]
            rest = ".".join(str(part) for part in location[2:])
            field = f"lines[{index}]" + (f".{rest}" if rest else "")
            where = f" (line {index + 1}"
            where += f", row {rows_at[index]} of {name})" if rows_at else ")"
        found.append(f"{field}{where}: {error['msg']}")
    return "; ".join(found)


def _with_row(err: ValidationFailed, rows_at: list[int], name: str) -> str:
    """The refusal, and for a CSV line the row of the file it came from."""
    match = re.match(r"lines\[(\d+)\]", err.field or "")
    if match is None or not rows_at:
        return str(err)
    return f"{err} (row {rows_at[int(match.group(1))]} of {name})"


def _project(tx: Transaction, given: str) -> str:
    found = tx.get(Project, given)
    if found is not None:
        return found.id
    coded = [p for p in tx.list(Project) if p.code == given]
    if len(coded) == 1:
        return coded[0].id
    if not coded:
        raise _error(f"no project has the code or id {given!r}")
    ids = ", ".join(p.id for p in coded)
    raise _error(f"{len(coded)} projects have the code {given!r}; give the id ({ids})")


def _supplier(tx: Transaction, given: str) -> str:
    found = tx.get(Supplier, given)
    if found is not None:
        return found.id
    wanted = given.casefold().strip()
    named = [
        s
        for s in tx.list(Supplier)
        if wanted in {n.casefold().strip() for n in (s.legal_name, *s.aliases)}
    ]
    if len(named) == 1:
        return named[0].id
    if not named:
        raise _error(f"no supplier has the name or id {given!r}")
    ids = ", ".join(s.id for s in named)
    raise _error(f"{len(named)} suppliers are named {given!r}; give the id ({ids})")
