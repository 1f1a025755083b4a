"""`tieline report cost` through the command line, on each back-end."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tieline.cli import app
from tieline.cli._app import CommandError
from tieline.settings import Settings
from tieline.store import Store

from .conftest import Estate, build_estate
from .test_cost import DEPOT_TOTALS, HARBOUR_TOTALS


def run(tmp_path: Path, store_url: str | None, *args: str) -> Result:
    """Run `tieline report cost ARGS` with its data directory in `tmp_path`."""
    env = {
        "TIELINE_DATA_DIR": str(tmp_path / "var"),
        "TIELINE_DATABASE_URL": store_url,
        "COLUMNS": "100",
    }
    return CliRunner().invoke(app, ["report", "cost", *args], env=env)


def as_text(totals: dict[str, object]) -> dict[str, str]:
    """Expected totals as the report's decimal strings."""
    return {key: f"{value:.2f}" for key, value in totals.items()}


def test_json_lists_every_project_with_its_totals(
    tmp_path: Path, store: Store, estate: Estate
) -> None:
    result = run(tmp_path, store.url, "--format", "json")

    assert result.exit_code == 0, result.output
    projects = json.loads(result.stdout)["projects"]
    assert [(p["code"], p["source_key"]) for p in projects] == [
        ("P-100", "A-1"),
        ("P-100", "A-2"),
        ("P-200", "B-1"),
    ]
    assert projects[0]["totals"] == as_text(HARBOUR_TOTALS)
    assert projects[2]["totals"] == as_text(DEPOT_TOTALS)


def test_the_project_option_keeps_every_project_with_that_code(
    tmp_path: Path, store: Store, estate: Estate
) -> None:
    shared = run(tmp_path, store.url, "--project", "P-100", "--format", "json")
    single = run(tmp_path, store.url, "--project", "P-200", "--format", "json")

    assert [p["source_key"] for p in json.loads(shared.stdout)["projects"]] == [
        "A-1",
        "A-2",
    ]
    (depot,) = json.loads(single.stdout)["projects"]
    assert depot["totals"] == as_text(DEPOT_TOTALS)
    assert depot["warnings"][0]["record"] == "commitment PO-9"


def test_csv_goes_to_stdout_and_its_warnings_to_stderr(
    tmp_path: Path, store: Store, estate: Estate
) -> None:
    result = run(tmp_path, store.url, "--format", "csv", "--project", "P-200")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["row"], r["cost_code"], r["commitment"]) for r in rows] == [
        ("line", "A10", ""),
        ("line", "B20", ""),
        ("total", "", ""),
        ("commitment", "", "SC-2"),
    ]
    assert rows[2]["committed"] == "150000.00"
    assert (rows[2]["received_not_invoiced"], rows[2]["open_commitment"]) == (
        "0.00",
        "112500.00",
    )
    # SC-2: 150,000.00 committed, 37,500.00 received and billed, no claims
    sc2 = rows[3]
    assert {k: sc2[k] for k in ("commitment_type", "original_budget")} == {
        "commitment_type": "subcontract",
        "original_budget": "",
    }
    assert [
        sc2[k]
        for k in (
            "committed",
            "received",
            "invoiced",
            "received_not_invoiced",
            "open_commitment",
            "certified_to_date",
            "retention_held",
            "retention_released",
        )
    ] == [
        "150000.00",
        "37500.00",
        "37500.00",
        "0.00",
        "112500.00",
        "0.00",
        "0.00",
        "0.00",
    ]
    assert "warning: commitment PO-9: is in USD, not the project's EUR" in (
        result.stderr
    )


def test_the_table_is_the_default_and_fits_in_100_columns(
    tmp_path: Path, store: Store, estate: Estate
) -> None:
    result = run(tmp_path, store.url, "--project", "P-100")

    assert result.exit_code == 0, result.output
    assert "P-100 (A-1) Harbour Wall, USD: budget and commitments" in result.stdout
    assert "131,734.66" in result.stdout
    assert "P-100 (A-1) Harbour Wall, USD: accruals and open commitment" in (
        result.stdout
    )
    assert "P-100 (A-1) Harbour Wall, USD: by commitment" in result.stdout
    for figure in ("1,867.28", "97,734.61", "37,734.61"):
        assert figure in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_the_embedded_store_in_the_data_directory_is_read_by_default(
    tmp_path: Path,
) -> None:
    # Given the estate in the SQLite file of a data directory
    settings = Settings(data_dir=tmp_path / "var")
    settings.data_dir.mkdir(parents=True)
    embedded = Store(settings.resolved_database_url)
    embedded.migrate()
    build_estate(embedded)
    embedded.close()

    # When the report runs with no database URL set
    result = run(tmp_path, None, "--format", "json")

    # Then it reads that file
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["projects"]) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "P-999"], "no project has the code 'P-999'"),
        (["--format", "xml"], "unknown report format 'xml'; choose table, csv, json"),
    ],
)
def test_a_user_error_is_a_command_error(
    tmp_path: Path, store: Store, estate: Estate, args: list[str], message: str
) -> None:
    result = run(tmp_path, store.url, *args)

    assert isinstance(result.exception, CommandError)
    assert str(result.exception) == message
