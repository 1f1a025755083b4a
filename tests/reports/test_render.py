"""The cost report as JSON, CSV and tables."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

from rich.console import Console

from tieline.reports import (
    AMOUNT_KEYS,
    CostAmounts,
    CostLine,
    CostReport,
    ProjectCost,
    ReportWarning,
    load_cost_report,
    render_csv,
    render_json,
    render_tables,
)
from tieline.store import Store

from .conftest import Estate
from .test_cost import DEPOT_TOTALS, HARBOUR_LINES, HARBOUR_TOTALS

MONEY = re.compile(r"^-?\d+\.\d{2}$")


def test_json_has_the_issue_shape_with_decimal_strings(
    store: Store, estate: Estate
) -> None:
    data = json.loads(render_json(load_cost_report(store)))

    assert list(data) == ["projects", "warnings"]
    harbour, harbour_two, depot = data["projects"]
    assert {"code", "source_key", "name", "currency", "lines", "totals"} <= set(harbour)
    assert (harbour["code"], harbour["source_key"], harbour["name"]) == (
        "P-100",
        "A-1",
        "Harbour Wall",
    )
    assert (harbour_two["source_key"], depot["source_key"]) == ("A-2", "B-1")
    assert [line["cost_code"] for line in harbour["lines"]] == list(HARBOUR_LINES)
    for line in harbour["lines"]:
        assert list(line)[:2] == ["cost_code", "cost_code_name"]
        assert list(line)[2:] == list(AMOUNT_KEYS)
        assert all(MONEY.match(line[key]) for key in AMOUNT_KEYS)
    assert harbour["totals"] == {k: f"{v:.2f}" for k, v in HARBOUR_TOTALS.items()}
    assert depot["totals"] == {k: f"{v:.2f}" for k, v in DEPOT_TOTALS.items()}
    assert harbour["totals"]["committed"] == "131734.66"
    assert harbour_two["totals"]["original_budget"] == "0.00"
    assert harbour_two["lines"] == []
    # PO-1 (worked in test_cost.py): lines 71,734.66 committed with CO-1,
    # 35,867.33 received, 34,000.05 billed on its lines; SC-1 untouched
    assert [
        {k: v for k, v in c.items() if k != "commitment_id"}
        for c in harbour["commitments"]
    ] == [
        {
            "number": "PO-1",
            "commitment_type": "purchase_order",
            "committed": "71734.66",
            "received": "35867.33",
            "invoiced": "34000.05",
            "received_not_invoiced": "1867.28",
            "open_commitment": "37734.61",
            "certified_to_date": "0.00",
            "retention_held": "0.00",
            "retention_released": "0.00",
        },
        {
            "number": "SC-1",
            "commitment_type": "subcontract",
            "committed": "60000.00",
            "received": "0.00",
            "invoiced": "0.00",
            "received_not_invoiced": "0.00",
            "open_commitment": "60000.00",
            "certified_to_date": "0.00",
            "retention_held": "0.00",
            "retention_released": "0.00",
        },
    ]
    # PO-9 is in dollars on the euro project: not listed (it is in the warnings)
    assert [c["number"] for c in depot["commitments"]] == ["SC-2"]
    assert depot["warnings"] == [
        {
            "record": "commitment PO-9",
            "subject": depot["warnings"][0]["subject"],
            "reason": "is in USD, not the project's EUR; left out",
        }
    ]


def test_json_amounts_follow_the_currencys_decimals_without_negative_zero() -> None:
    amounts = CostAmounts(original_budget=Decimal("1843275"), paid=Decimal("-0"))
    report = CostReport(
        projects=(
            ProjectCost(
                project_id="p",
                code="T-1",
                source_key="t1",
                name="Tokyo Yard",
                currency="JPY",
                lines=(CostLine("A", None, amounts),),
                totals=amounts,
                warnings=(),
            ),
        )
    )

    (project,) = json.loads(render_json(report))["projects"]
    assert project["totals"]["original_budget"] == "1843275"
    assert project["totals"]["paid"] == "0"
    assert project["totals"]["remaining"] == "1843275"


def test_csv_has_a_row_per_cost_code_and_a_total_row_per_project(
    store: Store, estate: Estate
) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(load_cost_report(store)))))

    assert [(r["project_source_key"], r["row"], r["cost_code"]) for r in rows] == [
        ("A-1", "line", "03 30 00"),
        ("A-1", "line", "05 12 00"),
        ("A-1", "line", "31 23 00"),
        ("A-1", "total", ""),
        ("A-1", "commitment", ""),
        ("A-1", "commitment", ""),
        ("A-2", "total", ""),
        ("B-1", "line", "A10"),
        ("B-1", "line", "B20"),
        ("B-1", "total", ""),
        ("B-1", "commitment", ""),
    ]
    first, *_ = rows
    assert first["project_code"] == "P-100"
    assert first["cost_code_name"] == "Cast-in-Place Concrete"
    assert {k: Decimal(first[k]) for k in AMOUNT_KEYS} == HARBOUR_LINES["03 30 00"]
    assert first["committed"] == "51234.56"
    assert rows[3]["paid"] == "16666.67"
    assert (rows[4]["commitment"], rows[4]["open_commitment"]) == ("PO-1", "37734.61")
    assert rows[4]["retention_held"] == "0.00"
    assert rows[0]["commitment"] == rows[0]["retention_held"] == ""
    assert rows[9]["currency"] == "EUR"
    assert rows[9]["remaining"] == "105555.55"


def test_tables_fit_in_100_columns_and_show_every_figure(
    store: Store, estate: Estate
) -> None:
    console = Console(width=100, record=True, color_system=None)

    console.print(render_tables(load_cost_report(store)))

    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "P-100 (A-1) Harbour Wall, USD: budget and commitments" in text
    assert "P-200 (B-1) Ringstrasse Depot, EUR: actuals and pending changes" in text
    for figure in (
        "253,000.25",
        "131,734.66",
        "121,265.59",
        "16,666.67",
        "7,250.75",
        "1,867.28",
        "97,734.61",
        "37,734.61",
    ):
        assert figure in text
    assert (
        "warning: commitment PO-9: is in USD, not the project's EUR; left out" in text
    )


def test_tables_name_records_no_project_could_place() -> None:
    warning = ReportWarning("payment PAY-1", "payment/x", "settles invoice y")
    console = Console(width=100, record=True, color_system=None)

    console.print(render_tables(CostReport(projects=(), warnings=(warning,))))

    text = console.export_text()
    assert "No projects to report." in text
    assert "warning: payment PAY-1: settles invoice y" in text
