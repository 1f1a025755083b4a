"""`tieline approve --certify`, `tieline retention release`, `tieline closeout`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tieline.cli import _workflows as workflows_cli
from tieline.cli import app
from tieline.cli._commands import open_store
from tieline.model import (
    ClaimLine,
    Commitment,
    ProgressClaim,
    Project,
    ProjectStatus,
)
from tieline.settings import Settings
from tieline.workflows import Hub, parse_policies

from .conftest import POLICY, Flow, build_estate, origin

D = Decimal


@pytest.fixture
def hub_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Flow]:
    """A data directory with the policy file, the estate and a subcontract."""
    monkeypatch.setenv("TIELINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(workflows_cli, "console", Console(width=200))
    settings = Settings()
    store = open_store(settings)
    (settings.data_dir / "workflows.toml").write_text(POLICY, encoding="utf-8")
    flow = build_estate(store)
    flow.save(flow.subcontract("SC-C1", ("A", "03 30 00", "1000.00")))
    store.close()
    return settings, flow


def _claim(settings: Settings, flow: Flow, period: int, amount: str) -> None:
    """Save a claim on SC-C1 and run the workflow consumers over it."""
    flow.store = open_store(settings)
    flow.hub = Hub(parse_policies(POLICY))
    try:
        with flow.store.transaction() as tx:
            (sc,) = tx.list(Commitment)
        flow.save(
            ProgressClaim(
                origin=origin(f"SC-C1-{period}"),
                commitment_id=sc.id,
                period=period,
                period_end=date(2026, 3, 31),
                currency="USD",
                lines=[ClaimLine(commitment_line_key="A", claimed_to_date=D(amount))],
            )
        )
        flow.drive()
    finally:
        flow.store.close()


def test_a_claim_is_certified_at_less_and_its_retention_released_at_completion(
    hub_dir: tuple[Settings, Flow],
) -> None:
    settings, flow = hub_dir
    runner = CliRunner()
    _claim(settings, flow, 1, "1000.00")

    # When pm.pat certifies 900.00 of the 1 000.00 claimed (a typo first)
    typo = runner.invoke(
        app, ["approve", "SC-C1 claim 1", "--as", "odoo:ppat", "--certify", "A:900"]
    )
    over = runner.invoke(
        app, ["approve", "SC-C1 claim 1", "--as", "odoo:ppat", "--certify", "A=1001"]
    )
    done = runner.invoke(
        app,
        ["approve", "SC-C1 claim 1", "--as", "odoo:ppat", "--certify", "A=900.00"],
    )

    # Then the typo and the figure over the claim are refused, naming the line
    assert str(typo.exception) == (
        "--certify 'A:900': give LINE=AMOUNT, e.g. --certify 1=38000.00"
    )
    assert "line A: 1001 certified is more than 1000.00 claimed" in str(over.exception)
    assert done.exit_code == 0, done.output
    assert done.output.strip() == (
        "SC-C1 claim 1: certified 900.00 to date, retention held 45.00, "
        "amount due 855.00"
    )

    # Retention is not released before completion, nor by the certifier
    early = runner.invoke(app, ["retention", "release", "SC-C1", "--as", "odoo:ffay"])
    assert "line A is certified 900.00 of 1000.00" in str(early.exception)

    # When period 2 certifies the rest, finance releases 50.00 at completion
    _claim(settings, flow, 2, "1000.00")
    second = runner.invoke(app, ["approve", "SC-C1 claim 2", "--as", "pm.pat"])
    assert second.exit_code == 0, second.output
    pat = runner.invoke(app, ["retention", "release", "SC-C1", "--as", "odoo:ppat"])
    assert "pm.pat may not decide this step; assigned: fin.fay" in str(pat.exception)
    released = runner.invoke(
        app, ["retention", "release", "SC-C1", "--as", "odoo:ffay"]
    )
    assert released.exit_code == 0, released.output
    assert released.output.strip() == "SC-C1: retention 50.00 released"
    again = runner.invoke(app, ["retention", "release", "SC-C1", "--as", "odoo:ffay"])
    assert "SC-C1's retention was released already" in str(again.exception)


def test_closeout_shows_its_checklist_and_refuses_while_anything_blocks(
    hub_dir: tuple[Settings, Flow],
) -> None:
    settings, flow = hub_dir
    runner = CliRunner()
    _claim(settings, flow, 1, "400.00")

    # The checklist names each blocker and its document
    check = runner.invoke(app, ["closeout", "P-1", "--check"])
    assert check.exit_code == 0, check.output
    assert "commitment SC-C1 is still approved" in check.output
    assert "SC-C1 claim 1 is not certified" in check.output
    assert "receipts_invoiced" in check.output
    assert check.output.strip().endswith("P-1: 2 blocker(s)")

    # Closing is refused, naming them
    refused = runner.invoke(app, ["closeout", "P-1", "--as", "odoo:ddan"])
    assert refused.exit_code != 0
    assert str(refused.exception).endswith(
        "commitment SC-C1 is still approved; SC-C1 claim 1 is not certified"
    )

    # A project with nothing open closes, by the closeout rule's person only
    empty = Project(
        origin=origin("P-2"),
        code="P-2",
        name="Harbour Shed",
        legal_entity_id=flow.entity.id,
        currency="USD",
        cost_code_system="masterformat",
    )
    store = open_store(settings)
    with store.transaction() as tx:
        tx.save(empty, actor="import:test")
    store.close()
    ready = runner.invoke(app, ["closeout", "P-2", "--check"])
    assert ready.output.strip().endswith("P-2: ready to close")
    pat = runner.invoke(app, ["closeout", "P-2", "--as", "odoo:ppat"])
    assert "assigned: dir.dan" in str(pat.exception)
    closed = runner.invoke(app, ["closeout", "P-2", "--as", "odoo:ddan"])
    assert closed.exit_code == 0, closed.output
    assert closed.output.strip() == "P-2: closed"
    store = open_store(settings)
    with store.transaction() as tx:
        stored = tx.get(Project, empty.id)
    store.close()
    assert stored is not None
    assert stored.status is ProjectStatus.CLOSED
