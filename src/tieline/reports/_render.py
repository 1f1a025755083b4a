"""The cost report as JSON, CSV or Rich tables.

Amounts are decimal strings with exactly the currency's decimals ("1843275.00"
in JSON and CSV, "1,843,275.00" in the tables), never numbers that a reader
could parse through a float.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any, Final

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tieline.money import format_money
from tieline.reports._report import (
    AMOUNT_KEYS,
    COMMITMENT_KEYS,
    CommitmentFigures,
    CostAmounts,
    CostReport,
    ProjectCost,
    ReportWarning,
)

REPORT_FORMATS: Final[tuple[str, ...]] = ("table", "csv", "json")

# A commitment's own columns, after the cost codes' (blank on their rows).
_COMMITMENT_COLUMNS: Final[tuple[str, ...]] = (
    "commitment",
    "commitment_type",
    *(key for key in COMMITMENT_KEYS if key not in AMOUNT_KEYS),
)
CSV_COLUMNS: Final[tuple[str, ...]] = (
    "project_code",
    "project_source_key",
    "project_name",
    "currency",
    "row",
    "cost_code",
    "cost_code_name",
    *AMOUNT_KEYS,
    *_COMMITMENT_COLUMNS,
)

# Twelve amount columns do not fit in 100 columns; each project gets three
# tables (the budget side, the actual side, accruals and open commitment),
# then one of its commitments.
_TABLE_COLUMNS: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    (
        "budget and commitments",
        (
            ("original_budget", "Original\nbudget"),
            ("approved_changes", "Approved\nchanges"),
            ("revised_budget", "Revised\nbudget"),
            ("committed", "Committed"),
            ("remaining", "Remaining"),
        ),
    ),
    (
        "actuals and pending changes",
        (
            ("received", "Received"),
            ("invoiced", "Invoiced"),
            ("paid", "Paid"),
            ("pending_budget_changes", "Pending\nbudget changes"),
            ("pending_change_orders", "Pending\nchange orders"),
        ),
    ),
    (
        "accruals and open commitment",
        (
            ("received_not_invoiced", "Received not\ninvoiced"),
            ("open_commitment", "Open\ncommitment"),
        ),
    ),
)
# Per commitment, five amounts (invoiced is committed less open).
_COMMITMENT_TABLE: Final[tuple[tuple[str, str], ...]] = (
    ("committed", "Committed"),
    ("open_commitment", "Open\ncommitment"),
    ("received_not_invoiced", "Received not\ninvoiced"),
    ("certified_to_date", "Certified\nto date"),
    ("retention_held", "Retention\nheld"),
)


def money_text(amount: Decimal, currency: str) -> str:
    """`amount` with the currency's decimals, and no negative zero."""
    if amount.is_zero():
        amount = abs(amount)
    return format_money(amount, currency)


def _amounts_data(amounts: CostAmounts, currency: str) -> dict[str, str]:
    return {
        key: money_text(value, currency) for key, value in amounts.as_dict().items()
    }


def _warning_data(warning: ReportWarning) -> dict[str, str]:
    return {
        "record": warning.record,
        "subject": warning.subject,
        "reason": warning.reason,
    }


def _project_data(project: ProjectCost) -> dict[str, Any]:
    return {
        "code": project.code,
        "source_key": project.source_key,
        "name": project.name,
        "currency": project.currency,
        "project_id": project.project_id,
        "lines": [
            {
                "cost_code": line.cost_code,
                "cost_code_name": line.cost_code_name,
                **_amounts_data(line.amounts, project.currency),
            }
            for line in project.lines
        ],
        "totals": _amounts_data(project.totals, project.currency),
        "commitments": [
            _commitment_data(figures, project.currency)
            for figures in project.commitments
        ],
        "warnings": [_warning_data(warning) for warning in project.warnings],
    }


def _commitment_data(figures: CommitmentFigures, currency: str) -> dict[str, str]:
    return {
        "commitment_id": figures.commitment_id,
        "number": figures.number,
        "commitment_type": figures.commitment_type.value,
        **{
            key: money_text(value, currency) for key, value in figures.as_dict().items()
        },
    }


def cost_report_data(report: CostReport) -> dict[str, Any]:
    """The report as JSON-ready data: `projects`, then unplaced `warnings`."""
    return {
        "projects": [_project_data(project) for project in report.projects],
        "warnings": [_warning_data(warning) for warning in report.warnings],
    }


def render_json(report: CostReport) -> str:
    """The report as a JSON document."""
    return json.dumps(cost_report_data(report), indent=2, ensure_ascii=False)


def render_csv(report: CostReport) -> str:
    """Per project: a `line` row per cost code, a `total` row, a `commitment` row
    per commitment (its amounts in the columns of the same name, the rest blank).
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for project in report.projects:
        head = {
            "project_code": project.code,
            "project_source_key": project.source_key,
            "project_name": project.name,
            "currency": project.currency,
        }
        for line in project.lines:
            writer.writerow(
                {
                    **head,
                    "row": "line",
                    "cost_code": line.cost_code,
                    "cost_code_name": line.cost_code_name or "",
                    **_amounts_data(line.amounts, project.currency),
                }
            )
        totals = _amounts_data(project.totals, project.currency)
        writer.writerow({**head, "row": "total", **totals})
        for figures in project.commitments:
            data = _commitment_data(figures, project.currency)
            del data["commitment_id"]
            data["commitment"] = data.pop("number")
            writer.writerow({**head, "row": "commitment", **data})
    return buffer.getvalue()


def render_tables(report: CostReport) -> RenderableType:
    """The report as Rich tables, two per project, readable in 100 columns."""
    parts: list[RenderableType] = []
    for project in report.projects:
        parts.extend(_project_tables(project))
        parts.extend(_warning_lines(project.warnings))
    if not report.projects:
        parts.append(Text("No projects to report."))
    if report.warnings:
        parts.append(Text("Records not placed in any project:", style="bold"))
        parts.extend(_warning_lines(report.warnings))
    return Group(*parts)


def _project_tables(project: ProjectCost) -> list[Table]:
    title = f"{project.code} ({project.source_key}) {project.name}, {project.currency}"
    tables = [
        _project_table(project, f"{title}: {caption}", columns)
        for caption, columns in _TABLE_COLUMNS
    ]
    if project.commitments:
        tables.append(_commitment_table(project, f"{title}: by commitment"))
    return tables


def _commitment_table(project: ProjectCost, title: str) -> Table:
    table = _table(title)
    table.add_column("Commitment", overflow="fold")
    for _, header in _COMMITMENT_TABLE:
        table.add_column(header, justify="right", no_wrap=True)
    for figures in project.commitments:
        values = figures.as_dict()
        label = f"{figures.number}\n{figures.commitment_type.value.replace('_', ' ')}"
        table.add_row(
            Text(label),
            *(
                f"{Decimal(money_text(values[key], project.currency)):,}"
                for key, _ in _COMMITMENT_TABLE
            ),
        )
    return table


def _project_table(
    project: ProjectCost, title: str, columns: tuple[tuple[str, str], ...]
) -> Table:
    table = _table(title)
    table.add_column("Cost code", overflow="fold")
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for index, line in enumerate(project.lines):
        label = line.cost_code
        if line.cost_code_name:
            label += f"\n{line.cost_code_name}"
        table.add_row(
            Text(label),
            *_cells(line.amounts, project.currency, columns),
            end_section=index == len(project.lines) - 1,
        )
    table.add_row(
        Text("Total", style="bold"),
        *_cells(project.totals, project.currency, columns),
        style="bold",
    )
    return table


def _table(title: str) -> Table:
    # At least as wide as its title, so a narrow table's title stays one line.
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
        min_width=len(title),
    )


def _cells(
    amounts: CostAmounts, currency: str, columns: tuple[tuple[str, str], ...]
) -> list[str]:
    values = amounts.as_dict()
    return [f"{Decimal(money_text(values[key], currency)):,}" for key, _ in columns]


def _warning_lines(warnings: tuple[ReportWarning, ...]) -> list[Text]:
    return [Text(f"warning: {warning}", style="yellow") for warning in warnings]
