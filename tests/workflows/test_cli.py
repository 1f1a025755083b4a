"""`tieline tasks|approve|reject|history` over a policy file in the data directory."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tieline.cli import _workflows as workflows_cli
from tieline.cli import app
from tieline.cli._commands import open_store
from tieline.errors import ValidationFailed
from tieline.model import (
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentStatus,
)
from tieline.settings import Settings
from tieline.workflows import Hub, parse_policies
from tieline.workflows.people import history

from .conftest import POLICY, Flow, build_estate, origin


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
    again = runner.invoke(
        app, ["reject", "REQ-1", "--as", "odoo:ppat", "--comment", "late"]
    )

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


def _hub_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Flow]:
    """A data directory with the policy file and the estate; its store closed."""
    monkeypatch.setenv("TIELINE_DATA_DIR", str(tmp_path / "var"))
    settings = Settings()
    store = open_store(settings)
    (settings.data_dir / "workflows.toml").write_text(POLICY, encoding="utf-8")
    flow = build_estate(store)
    store.close()
    return settings, flow


def _drive(settings: Settings, flow: Flow) -> None:
    """Run the workflow consumers over the data directory's store, as a worker."""
    flow.store = open_store(settings)
    flow.hub = Hub(parse_policies(POLICY))
    try:
        flow.drive()
    finally:
        flow.store.close()


def test_a_requisition_submitted_from_a_csv_file_is_approved_into_an_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a hub and a CSV file of two lines (prices that round)
    settings, flow = _hub_dir(tmp_path, monkeypatch)
    lines = tmp_path / "lines.csv"
    lines.write_text(
        "cost_code,description,quantity,unit,unit_price\n"
        "03 30 00,Ready-mix C32/40,7.5,m3,118.33\n"
        "03 20 00,Rebar,2,t,950\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    monkeypatch.setattr(workflows_cli, "console", Console(width=200))

    # When site.sam submits it from the command line
    submitted = runner.invoke(
        app,
        [
            "requisition",
            "submit",
            str(lines),
            "--as",
            "procore:sam@site.example",
            "--number",
            "REQ-31",
            "--project",
            "P-1",
            "--supplier",
            "cascade concrete llc",
        ],
    )

    # Then it is stored as theirs, 7.5 x 118.33 = 887.475 -> 887.48
    assert submitted.exit_code == 0, submitted.output
    assert submitted.output.strip() == (
        "REQ-31: submitted by site.sam for approval (2 lines, 2787.48 USD)"
    )

    # When the hub's workers have taken it, it waits for pm.pat, who approves
    _drive(settings, flow)
    tasks = runner.invoke(app, ["tasks", "--as", "odoo:ppat"])
    assert tasks.exit_code == 0, tasks.output
    assert "REQ-31" in tasks.output
    assert "approver under rule small-requisitions" in tasks.output
    own = runner.invoke(app, ["approve", "REQ-31", "--as", "odoo:ssam"])
    assert "requester cannot approve" in str(own.exception)
    approved = runner.invoke(app, ["approve", "REQ-31", "--as", "odoo:ppat"])
    assert approved.exit_code == 0, approved.output

    # And the history says site.sam sent it from Procore, under that login
    shown = runner.invoke(app, ["history", "REQ-31"])
    assert shown.exit_code == 0, shown.output
    assert "procore:sam@site.example" in shown.output
    store = open_store(settings)
    try:
        first = history(store, "REQ-31")[0]
    finally:
        store.close()
    assert (first.actor, first.system, first.login) == (
        "site.sam",
        "procore",
        "sam@site.example",
    )

    # Then it is an approved commitment, line for line
    store = open_store(settings)
    with store.transaction() as tx:
        (order,) = tx.list(Commitment)
    store.close()
    assert (order.number, order.status) == ("PO-REQ-31", CommitmentStatus.APPROVED)
    assert [(li.cost_code, li.quantity, li.amount) for li in order.lines] == [
        ("03 30 00", Decimal("7.5"), Decimal("887.48")),
        ("03 20 00", Decimal("2"), Decimal("1900.00")),
    ]


def test_a_toml_requisition_is_submitted_and_bad_lines_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hub_dir(tmp_path, monkeypatch)
    runner = CliRunner()
    monkeypatch.setattr(workflows_cli, "console", Console(width=200))
    toml = tmp_path / "req.toml"
    toml.write_text(
        'number = "REQ-32"\n'
        'project = "P-1"\n'
        'supplier = "Cascade Concrete LLC"\n'
        "[[lines]]\n"
        'cost_code = "05 12 00"\n'
        "quantity = 3\n"
        "unit_price = 1250.10\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "cost_code,quantity,unit_price\n03 30 00,1,10.00\n03 99 99,1,10.00\n",
        encoding="utf-8",
    )
    broken = tmp_path / "broken.csv"
    broken.write_text(
        'cost_code,quantity,unit_price\n03 30 00,"1,5",10.00\n', encoding="utf-8"
    )

    def submit(path: Path, *more: str) -> Any:
        return runner.invoke(
            app, ["requisition", "submit", str(path), "--as", "site.sam", *more]
        )

    header = [
        "--number",
        "REQ-33",
        "--project",
        "P-1",
        "--supplier",
        "Cascade Concrete LLC",
    ]
    done = submit(toml)
    unknown_code = submit(bad, *header)
    not_a_number = submit(broken, *header)
    no_number = submit(bad, "--project", "P-1", "--supplier", "Cascade Concrete LLC")
    again = submit(toml)

    assert done.exit_code == 0, done.output
    assert done.output.strip() == (
        "REQ-32: submitted by site.sam for approval (1 line, 3750.30 USD)"
    )
    assert str(unknown_code.exception) == (
        "record requisition REQ-33 field lines[1].cost_code: line 2: no cost code "
        "'03 99 99' in masterformat or project P-1's own codes (row 3 of bad.csv)"
    )
    assert str(not_a_number.exception).startswith(
        "lines[0].quantity (line 1, row 2 of broken.csv): "
    )
    assert str(no_number.exception) == (
        "give the requisition's number (--number, or in the file)"
    )
    assert str(again.exception) == (
        "requisition REQ-32 was submitted already (status submitted)"
    )


def test_a_rejection_from_the_cli_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a requisition waiting for pm.pat
    settings, flow = _hub_dir(tmp_path, monkeypatch)
    flow.store = open_store(settings)
    flow.save(flow.requisition("REQ-1", ("1", "03 30 00", "10", "45.00")))
    flow.store.close()
    _drive(settings, flow)
    runner = CliRunner()

    # When pm.pat rejects it with no comment, or a blank one
    bare = runner.invoke(app, ["reject", "REQ-1", "--as", "odoo:ppat"])
    blank = runner.invoke(
        app, ["reject", "REQ-1", "--as", "odoo:ppat", "--comment", " "]
    )

    # Then both are refused, as the API refuses them, and it still waits
    assert bare.exit_code == 2
    assert "--comment" in bare.output
    assert isinstance(blank.exception, ValidationFailed)
    assert blank.exception.field == "comment"
    store = open_store(settings)
    try:
        assert [h.to_state for h in history(store, "REQ-1")] == ["submitted"]
    finally:
        store.close()


def test_a_change_written_over_the_api_is_not_approved_by_its_writer_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a change order pm.pat wrote through the records API (which stamps
    # it `human:pm.pat`), waiting for its approver
    settings, flow = _hub_dir(tmp_path, monkeypatch)
    flow.store = open_store(settings)
    contract = flow.subcontract("SC-T1", ("A", "03 30 00", "20000.00"))
    flow.save(contract)
    flow.save(
        ChangeOrder(
            origin=origin("CO-T1-02", "tieline"),
            commitment_id=contract.id,
            number="CO-T1-02",
            reason="extra pour",
            currency="USD",
            status=ChangeOrderStatus.SUBMITTED,
            lines=[
                ChangeOrderLine(
                    line_key="A", cost_code="03 30 00", amount=Decimal("4321.09")
                )
            ],
        ),
        actor="human:pm.pat",
    )
    flow.store.close()
    _drive(settings, flow)
    runner = CliRunner()

    # When pm.pat approves it under his Odoo login, it is refused
    own = runner.invoke(app, ["approve", "CO-T1-02", "--as", "odoo:ppat"])
    assert own.exit_code != 0
    assert str(own.exception) == (
        "CO-T1-02: pm.pat requested it (as tieline:pm.pat) and cannot approve it "
        "(as odoo:ppat) (requester cannot approve)"
    )

    # Then its approver decides it
    done = runner.invoke(app, ["approve", "CO-T1-02", "--as", "odoo:ddan"])
    assert done.exit_code == 0, done.output
