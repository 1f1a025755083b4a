"""XLSX workbooks: named sheets, headers below titles, exact numbers."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from tieline.errors import ConfigurationError
from tieline.intake.profile import TableSpec
from tieline.intake.readers import read_table


def cost_table(**xlsx: Any) -> TableSpec:
    return TableSpec.model_validate(
        {
            "name": "costs",
            "file": "*.xlsx",
            "key": ["code"],
            "xlsx": {"sheet": "Costs", **xlsx},
            "columns": {
                "code": {"column": "Cost code", "required": True},
                "amount": {"column": "Amount", "type": "decimal"},
                "quantity": {"column": "Qty", "type": "int"},
                "booked": {"column": "Booked", "type": "date"},
                "note": {"column": "Note"},
            },
        }
    )


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A workbook whose second sheet, "Costs", has its header on row 3."""
    book = Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "Cover"
    cover.append(["Cost code", "Amount"])  # a decoy: not the sheet asked for
    sheet = book.create_sheet("Costs")
    sheet.append(["Harbour Civil Ltd: cost ledger"])
    sheet.append([])
    sheet.append(["Cost code", "Amount ", "Qty", "Booked", "Note", None, None])
    # A workbook's datetimes carry no zone.
    booked = [datetime(2024, 3, d) for d in (1, 2)]  # noqa: DTZ001
    sheet.append(["03 30 00", 27367.699999999997, 12, booked[0], "pour"])
    sheet.append([])
    sheet.append(["03 31 13", 0.1 + 0.2, 3, booked[1], None])
    sheet.append(["31 23 16", "1.234,50", "7", "15.03.2024", "typed as text"])
    sheet.append(["", None, None, None, None])
    sheet.append(["32 12 16", "n/a", 1, None, "bad amount"])
    path = tmp_path / "ledger.xlsx"
    book.save(path)
    return path


def test_a_named_sheet_is_read_from_its_header_on_row_3(workbook: Path) -> None:
    table = read_table(cost_table(header_row=3), workbook)

    assert [(row.number, row.values) for row in table.rows] == [
        (
            4,
            {
                "code": "03 30 00",
                "amount": Decimal("27367.7"),
                "quantity": 12,
                "booked": date(2024, 3, 1),
                "note": "pour",
            },
        ),
        (
            6,
            {
                "code": "03 31 13",
                "amount": Decimal("0.3"),
                "quantity": 3,
                "booked": date(2024, 3, 2),
                "note": None,
            },
        ),
        (
            7,
            {
                "code": "31 23 16",
                "amount": Decimal("1234.50"),
                "quantity": 7,
                "booked": date(2024, 3, 15),
                "note": "typed as text",
            },
        ),
    ]
    assert table.read == 4
    assert [(e.number, e.field, e.reason) for e in table.errors] == [
        (9, "amount", "column 'Amount': 'n/a' is not a number")
    ]


def test_the_header_is_found_without_being_told(workbook: Path) -> None:
    table = read_table(cost_table(), workbook)

    assert [row.number for row in table.rows] == [4, 6, 7]


def test_a_wrong_stored_dimension_does_not_cut_the_sheet(
    workbook: Path, tmp_path: Path
) -> None:
    # Given a workbook whose sheets claim to span only A1, as some writers do
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(workbook) as source, zipfile.ZipFile(damaged, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1"', data)
            out.writestr(item, data)

    # Then every row and column is read all the same
    table = read_table(cost_table(header_row=3), damaged)

    assert [(r.number, r.values["amount"]) for r in table.rows] == [
        (4, Decimal("27367.7")),
        (6, Decimal("0.3")),
        (7, Decimal("1234.50")),
    ]


def test_a_missing_sheet_lists_the_sheets_there_are(workbook: Path) -> None:
    spec = cost_table().model_copy(update={"xlsx": cost_table(sheet="Budget").xlsx})
    with pytest.raises(ConfigurationError) as caught:
        read_table(spec, workbook)

    assert str(caught.value) == (
        "ledger.xlsx: no sheet 'Budget' (the workbook has: Cover, Costs)"
    )


def test_a_file_that_is_no_workbook_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    path.write_text("code,amount\n")

    with pytest.raises(ConfigurationError, match=r"ledger\.xlsx is not a readable"):
        read_table(cost_table(), path)


@pytest.mark.shared_data
def test_a_real_bid_tab_reads_as_exact_decimals(shared_data: Path) -> None:
    # Given the Port of Portland's own bid tabulation workbook, whose cached
    # formula results hold binary noise such as 27367.699999999997
    path = shared_data / "port-of-portland-bid-tabs/raw_xlsx/PDX-RON Bid Tab.xlsx"
    bidders = range(8)  # seven bidders and the engineer's estimate
    columns: dict[str, Any] = {
        "item": {"column": "Item No.", "required": True},
        "quantity": {"column": "Estimated Quantity", "type": "decimal"},
        "unit": {"column": "Units"},  # the sheet's header says "Units "
    }
    for b in bidders:
        columns[f"unit_price_{b}"] = {"column": 5 + 2 * b, "type": "decimal"}
        columns[f"total_{b}"] = {"column": 6 + 2 * b, "type": "decimal"}
    spec = TableSpec.model_validate(
        {
            "name": "bids",
            "file": "*.xlsx",
            "xlsx": {"sheet": "Bid Tabulation"},
            "columns": columns,
        }
    )

    # When the sheet is read (its header, on row 7, found by its names)
    table = read_table(spec, path)

    # Then its 80 pay items come out as the decimals the sheet shows
    assert len(table.rows) == 80
    item_19 = next(r.values for r in table.rows if r.values["item"] == "0019")
    assert (item_19["quantity"], item_19["unit"]) == (Decimal(11899), "SY")
    assert (item_19["unit_price_5"], item_19["total_5"]) == (
        Decimal("2.3"),
        Decimal("27367.7"),
    )
    # and every total is its quantity times its unit price, to the cent: 640
    # products that a float would miss (11899 * 2.3 = 27367.699999999997)
    pairs = [
        (r.values["quantity"], r.values[f"unit_price_{b}"], r.values[f"total_{b}"])
        for r in table.rows
        for b in bidders
    ]
    assert len(pairs) == 640
    assert all(q * p == t for q, p, t in pairs)
    assert all(t.as_tuple().exponent >= -2 for _, _, t in pairs)
    # and the "Total Amount Bid" line below them, with no item number, is
    # reported on its own row rather than read as a pay item
    assert [(e.number, e.field) for e in table.errors] == [(88, "item")]
