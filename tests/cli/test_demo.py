"""`tieline demo`: the main job through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tieline.cli import _commands as commands
from tieline.cli import app
from tieline.errors import ConfigurationError
from tieline.intake import shipped_profiles
from tieline.settings import Settings

from ..conftest import unavailable


def _run(data_dir: Path, *args: str) -> Result:
    env = {"TIELINE_DATA_DIR": str(data_dir), "COLUMNS": "160"}
    return CliRunner().invoke(app, list(args), env=env)


def test_the_demo_imports_the_estate_and_prints_the_report(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    result = _run(data_dir, "demo", "--no-serve")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "import demo-estate: rows read 77, rejected 0, flagged 0" in out
    assert "records created 50, updated 7, unchanged 0" in out
    assert "import ubl: rows read 10, rejected 0, flagged 4" in out
    assert "records created 10, updated 0, unchanged 0" in out
    assert "import demo-payments: rows read 4, rejected 0, flagged 0" in out
    # Each run says where its run folder is, and it is there.
    folders = [
        line.split("run folder: ")[1]
        for line in out.splitlines()
        if "run folder: " in line
    ]
    assert len(folders) == 3
    assert all(Path(f).parent == data_dir / "runs" for f in folders)
    assert all((Path(f) / "summary.json").is_file() for f in folders)
    # The report, and what waits for a person.
    assert "Riverside Depot Extension, GBP" in out
    assert "220,700.00" in out  # Riverside invoiced
    assert "Unmatched invoices waiting for a person (2)" in out
    assert "Matched invoices with variances to approve (2)" in out
    assert "serving" not in out


def test_without_no_serve_the_demo_serves_the_hub_after_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given serve_hub replaced by a recorder (serving itself is tested apart)
    served: list[tuple[Path, str, int]] = []

    def record(settings: Settings, *, host: str, port: int) -> None:
        served.append((settings.data_dir, host, port))

    monkeypatch.setattr(commands, "serve_hub", record)
    env = {"TIELINE_DATA_DIR": str(tmp_path / "var"), "TIELINE_PORT": "18123"}

    # When the demo runs without --no-serve
    result = CliRunner().invoke(app, ["demo"], env=env)

    # Then it serves on the configured address, once the report is printed
    assert result.exit_code == 0, result.output
    assert served == [(tmp_path / "var", "127.0.0.1", 18123)]
    assert result.stdout.rstrip().endswith("serving the hub on http://127.0.0.1:18123")
    assert result.stdout.index("Riverside Depot Extension") < result.stdout.index(
        "serving the hub"
    )


def test_running_the_demo_twice_changes_nothing_the_second_time(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    first = _run(data_dir, "demo", "--no-serve")
    report_before = _run(data_dir, "report", "cost", "--format", "json").stdout

    second = _run(data_dir, "demo", "--no-serve")

    assert first.exit_code == second.exit_code == 0, second.output
    summaries = [
        line.strip() for line in second.stdout.splitlines() if "created" in line
    ]
    assert summaries == [
        "records created 0, updated 0, unchanged 44",
        "records created 0, updated 0, unchanged 10",
        "records created 0, updated 0, unchanged 4",
    ]
    report_after = _run(data_dir, "report", "cost", "--format", "json").stdout
    assert json.loads(report_after) == json.loads(report_before)


def test_the_unmatched_invoices_are_listed_with_their_reasons(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    _run(data_dir, "demo", "--no-serve")

    result = _run(data_dir, "invoices", "unmatched")

    assert result.exit_code == 0, result.output
    assert "LBB-317" in result.stdout
    assert "names order PO-DCK-009, which is no known commitment" in result.stdout
    assert "possible duplicate of invoice CC-5001" in result.stdout


def test_no_invoice_waiting_is_said_in_words(tmp_path: Path) -> None:
    result = _run(tmp_path / "var", "invoices", "unmatched")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no invoice is waiting unmatched"


def test_a_data_folder_without_the_data_sets_is_one_clear_error(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "shared"
    empty.mkdir()

    result = _run(tmp_path / "var", "demo", "--data", str(empty), "--no-serve")

    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)
    assert str(result.exception) == (
        f"{empty / 'masterformat-json'} is not a folder; the masterformat import "
        "needs it"
    )


def test_the_installed_command_prints_that_error_as_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    missing = tmp_path / "nowhere"
    completed = subprocess.run(
        [sys.executable, "-m", "tieline", "demo", "--data", str(missing), "--no-serve"],
        env={"TIELINE_DATA_DIR": str(tmp_path / "var"), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines()[-1] == (
        f"error: {missing / 'masterformat-json'} is not a folder; "
        "the masterformat import needs it"
    )


@pytest.mark.shared_data
def test_the_demo_on_the_shared_data_prints_each_run(
    tmp_path: Path, shared_data: Path
) -> None:
    if "port-of-portland" not in shipped_profiles():
        unavailable("the port-of-portland profile", "its builder is not in this build")
    data_dir = tmp_path / "var"

    result = _run(data_dir, "demo", "--data", str(shared_data), "--no-serve")

    assert result.exit_code == 0, result.output
    out = result.stdout
    for profile in ("masterformat", "port-of-portland", "ubl"):
        assert f"import {profile}: " in out
    assert out.count("run folder: ") == 3
    assert "import ubl: rows read 12," in out
    assert "Unmatched invoices waiting for a person (8)" in out
