"""`tieline audit verify|export` and `tieline identity ...` from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from tieline.cli import app
from tieline.governance._schema import audit_log
from tieline.store import Store


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner over a private data directory."""
    monkeypatch.setenv("TIELINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("TIELINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIELINE_AUDIT_KEY", raising=False)
    return CliRunner()


def test_verify_passes_then_names_the_changed_entry(
    shell: CliRunner, tmp_path: Path
) -> None:
    # Given three audited changes made from the shell
    assert shell.invoke(app, ["identity", "add-service", "estimating"]).exit_code == 0
    granted = shell.invoke(
        app, ["identity", "grant", "estimating", "buyer", "--entity", "*"]
    )
    issued = shell.invoke(
        app, ["identity", "issue-key", "estimating", "--scope", "records:read"]
    )
    assert granted.exit_code == 0, granted.output
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]

    intact = shell.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact: 3 entries" in intact.output

    # When entry 2 is changed in the database
    store = Store(f"sqlite:///{tmp_path / 'var' / 'tieline.db'}")
    with store.transaction() as tx:
        tx.connection.execute(
            update(audit_log).where(audit_log.c.seq == 2).values(target="x")
        )
    store.close()

    # Then verify fails and names it; the key itself was never audited
    broken = shell.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 2
    assert "broken at entry 2" in broken.output
    exported = shell.invoke(app, ["audit", "export"])
    assert token.partition(".")[2] not in exported.output


def test_export_writes_json_lines(shell: CliRunner, tmp_path: Path) -> None:
    shell.invoke(app, ["identity", "add-service", "bi"])
    target = tmp_path / "audit.jsonl"

    result = shell.invoke(app, ["audit", "export", "--output", str(target)])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["action"] for line in lines] == ["identity.created"]
    assert lines[0]["actor"].startswith("cli:")
    assert len(lines[0]["mac"]) == 64


def test_grants_are_listed_revoked_and_identities_disabled(shell: CliRunner) -> None:
    shell.invoke(app, ["identity", "add-service", "bi"])
    shell.invoke(app, ["identity", "grant", "bi", "auditor", "--entity", "*"])

    listed = shell.invoke(app, ["identity", "list"])
    revoked = shell.invoke(
        app, ["identity", "revoke", "bi", "auditor", "--entity", "*"]
    )
    disabled = shell.invoke(app, ["identity", "disable", "bi"])
    after = shell.invoke(app, ["identity", "list"])
    verified = shell.invoke(app, ["audit", "verify"])

    assert listed.output.split() == ["bi", "service", "active", "auditor@*"]
    assert revoked.exit_code == 0, revoked.output
    assert disabled.exit_code == 0, disabled.output
    assert after.output.split() == ["bi", "service", "disabled", "-"]
    assert "intact: 4 entries" in verified.output
