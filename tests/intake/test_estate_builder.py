"""The estate builder on broken exports: bad records stay out, whole, with reasons."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from tieline.demo import estate_folder
from tieline.intake import ExitCode, RunReport, run_import
from tieline.model import Commitment, GoodsReceipt
from tieline.store import Store


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A copy of the shipped estate's CSV files, free to break."""
    folder = tmp_path / "export"
    with estate_folder() as shipped:
        shutil.copytree(shipped, folder)
    return folder


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _import(store: Store, folder: Path, tmp_path: Path) -> RunReport:
    return run_import(store, "demo-estate", [folder], runs_dir=tmp_path / "runs")


def _issues(report: RunReport, name: str) -> list[tuple[str, str, str, str]]:
    with (report.run_dir / name).open(encoding="utf-8") as handle:
        return [
            (r["file"], r["row"], r["field"], r["reason"])
            for r in csv.DictReader(handle)
        ]


def test_an_order_line_on_an_unknown_cost_code_keeps_the_whole_order_out(
    store: Store, export: Path, tmp_path: Path
) -> None:
    _replace(
        export / "commitment_lines.csv",
        "PO-MIL-001,2,Distribution boards,MIL,04.10",
        "PO-MIL-001,2,Distribution boards,MIL,09.99",
    )

    report = _import(store, export, tmp_path)

    assert report.exit_code is ExitCode.REJECTED
    reason = "cost code '09.99' is not in larkfield-wbs"
    missing = "no commitment 'PO-MIL-001' in this export or the store"
    # The order goes out whole, and so does the receipt against it.
    assert _issues(report, "rejects.csv") == [
        ("commitments.csv", "5", "cost_code", reason),
        ("commitment_lines.csv", "7", "cost_code", reason),
        ("commitment_lines.csv", "8", "cost_code", reason),
        ("receipts.csv", "7", "commitment", missing),
        ("receipts.csv", "8", "commitment", missing),
    ]
    with store.transaction() as tx:
        numbers = sorted(c.number for c in tx.list(Commitment))
    assert "PO-MIL-001" not in numbers
    assert len(numbers) == 6


def test_a_receipt_against_a_line_the_order_lacks_is_rejected(
    store: Store, export: Path, tmp_path: Path
) -> None:
    _append(export / "receipts.csv", "GRN-RIV-0009,PO-RIV-001,2024-03-20,no,9,5")

    report = _import(store, export, tmp_path)

    assert _issues(report, "rejects.csv") == [
        ("receipts.csv", "11", "line", "order PO-RIV-001 has no line 9")
    ]
    with store.transaction() as tx:
        assert len(tx.list(GoodsReceipt)) == 5  # the export's own five


def test_an_order_naming_a_vendor_not_on_the_list_is_rejected(
    store: Store, export: Path, tmp_path: Path
) -> None:
    _replace(export / "commitments.csv", "LCI,DCK,V2002", "LCI,DCK,V2999")

    report = _import(store, export, tmp_path)

    rejects = _issues(report, "rejects.csv")
    assert rejects[0] == (
        "commitments.csv",
        "8",
        "vendor_code",
        "no vendor 'V2999' in the list",
    )
    assert {r[0] for r in rejects} == {"commitments.csv", "commitment_lines.csv"}


def test_a_placeholder_on_the_vendor_list_is_not_a_supplier(
    store: Store, export: Path, tmp_path: Path
) -> None:
    _append(export / "suppliers.csv", "V9001,NAME OF CONTRACTOR 3,,GB,,,,")

    report = _import(store, export, tmp_path)

    ((file, row, field, reason),) = _issues(report, "rejects.csv")
    assert (file, row, field) == ("suppliers.csv", "9", "name")
    assert "placeholder" in reason


def test_an_order_line_whose_arithmetic_is_off_is_kept_and_flagged(
    store: Store, export: Path, tmp_path: Path
) -> None:
    _replace(
        export / "commitment_lines.csv",
        "PO-DCK-001,2,Mortar,DCK,03.20,500,bag,8.40,4200.00",
        "PO-DCK-001,2,Mortar,DCK,03.20,500,bag,8.40,4250.00",
    )

    report = _import(store, export, tmp_path)

    assert report.exit_code is ExitCode.OK
    assert _issues(report, "flags.csv") == [
        (
            "commitment_lines.csv",
            "11",
            "amount",
            "quantity 500 x unit price 8.40 is not the amount 4250.00; "
            "taken as written",
        )
    ]
    with store.transaction() as tx:
        (order,) = [c for c in tx.list(Commitment) if c.number == "PO-DCK-001"]
    assert str(order.lines[1].amount) == "4250.00"


def test_a_profile_without_a_field_the_builder_needs_fails_the_run(
    store: Store, export: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "thin.toml"
    profile.write_text(
        'name = "thin"\nsystem = "erp"\nbuilder = "estate"\n'
        '[options]\ncost_code_system = "wbs"\n'
        '[[tables]]\nname = "budgets"\nfile = "budgets.csv"\n'
        '[tables.columns]\nproject_code = { column = "project_code" }\n',
        encoding="utf-8",
    )

    report = run_import(store, str(profile), [export], runs_dir=tmp_path / "runs")

    assert report.exit_code is ExitCode.FAILED
    assert report.failure == (
        "profile thin: table budgets lacks the field(s) cost_code, amount that "
        "the estate builder needs"
    )


def test_a_bad_budget_line_is_named_and_its_siblings_say_why_they_stayed_out(
    store: Store, export: Path, tmp_path: Path
) -> None:
    # Given a budget whose third line is finer than a penny
    _replace(
        export / "budgets.csv",
        "RIV,02.20,Concrete foundations,180000.00,approved",
        "RIV,02.20,Concrete foundations,180000.005,approved",
    )

    report = _import(store, export, tmp_path)

    # Then the budget stays out whole; the faulty row names its field, and the
    # other rows of that budget point at it instead of taking its blame
    rejects = [r for r in _issues(report, "rejects.csv") if r[0] == "budgets.csv"]
    faulty = [r for r in rejects if r[2] == "amount"]
    siblings = [r for r in rejects if r[2] == ""]
    assert [r[1] for r in faulty] == ["4"]
    assert "round it first" in faulty[0][3]
    assert len(siblings) == 3
    assert all(
        r[3].startswith("kept out with its document: budgets.csv row 4, amount:")
        for r in siblings
    )
