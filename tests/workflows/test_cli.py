"""`tieline tasks|approve|reject|history` over a policy file in the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tieline.cli import _workflows as workflows_cli
from tieline.cli import app
from tieline.cli._commands import open_store
from tieline.settings import Settings
from tieline.workflows import Hub, parse_policies

from .conftest import POLICY, build_estate


def test_people_work_their_tasks_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a hub on a data directory with a policy file and a waiting requisition
    monkeypatch.setenv("TIELINE_DATA_DIR", str(tmp_path / "var"))
    settings = Settings()
    store = open_store(settings)
    (settings.data_dir / "workflows.toml").write_text(POLICY, encoding="utf-8")
    flow = build_estate(store)
    flow.hub = Hub(parse_policies(POLICY))
    flow.save(flow.requisition("REQ-1", ("1", "03 30 00", "10", "45.00")))
    flow.drive()
    store.close()
    runner = CliRunner()
    monkeypatch.setattr(workflows_cli, "console", Console(width=200))

    # When pm.pat lists their tasks, approves, and reads the history
    tasks = runner.invoke(app, ["tasks", "--as", "odoo:ppat"])
    approved = runner.invoke(
        app, ["approve", "REQ-1", "--as", "odoo:ppat", "--comment", "ok"]
    )
    shown = runner.invoke(app, ["history", "REQ-1"])
    again = runner.invoke(app, ["reject", "REQ-1", "--as", "odoo:ppat"])

    # Then each prints what a person needs
    assert tasks.exit_code == 0, tasks.output
    assert "REQ-1" in tasks.output
    assert "approver under rule small-requisitions" in tasks.output
    assert approved.exit_code == 0, approved.output
    assert approved.output.strip() == "REQ-1: approved"
    assert shown.exit_code == 0, shown.output
    for state in ("submitted", "approved", "ordered"):
        assert state in shown.output
    assert "pm.pat (person)" in shown.output
    assert again.exit_code != 0
    assert isinstance(again.exception, Exception)
    assert "waits for no decision" in str(again.exception)
