"""`tieline deadletters`: list, show, replay and discard from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tieline.cli import app
from tieline.events import Consumer, registry
from tieline.events.deadletters import (
    Attempt,
    DeadLetterFilter,
    list_dead_letters,
    record,
)
from tieline.store import Store, Transaction

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory for the CLI, with two dead letters in its store."""
    monkeypatch.setenv("TIELINE_DATA_DIR", str(tmp_path / "var"))
    store = Store(f"sqlite:///{(tmp_path / 'var' / 'tieline.db').resolve()}")
    store.migrate()
    for n, consumer in ((1, "odoo-push"), (2, "webhooks")):
        event = {
            "id": f"event-{n}",
            "type": "tieline.commitment.approved",
            "subject": f"commitment/{n}",
            "data": {"project_id": "p-1"},
        }
        attempt = Attempt(datetime.now(UTC), "OdooDown: 502 Bad Gateway", "retryable")
        with store.transaction() as tx:
            record(
                tx.connection, consumer, event, [attempt], "gave up after 8 attempts"
            )
    store.close()
    yield tmp_path / "var"
    registry.reset()


def _printed(output: str) -> list[str]:
    return [line for line in output.splitlines() if line and "[info" not in line]


def test_list_shows_the_open_dead_letters(data_dir: Path) -> None:
    result = runner.invoke(app, ["deadletters", "list", "--consumer", "webhooks"])

    assert result.exit_code == 0, result.output
    assert "webhooks" in result.output
    assert "odoo-push" not in result.output
    assert "gave up" in result.output


def test_show_prints_the_attempts_and_the_event(data_dir: Path) -> None:
    result = runner.invoke(app, ["deadletters", "show", "1"])

    assert result.exit_code == 0, result.output
    assert "OdooDown: 502 Bad Gateway" in result.output
    assert '"subject": "commitment/1"' in result.output


def test_replay_and_discard_close_the_letters(data_dir: Path) -> None:
    handled: list[str] = []

    def push(tx: Transaction, event: dict[str, Any]) -> None:
        handled.append(event["id"])

    registry.register(Consumer("odoo-push", ("tieline.>",), push))

    replayed = runner.invoke(app, ["deadletters", "replay", "--consumer", "odoo-push"])
    again = runner.invoke(app, ["deadletters", "replay", "--consumer", "odoo-push"])
    discarded = runner.invoke(
        app, ["deadletters", "discard", "2", "--note", "endpoint retired"]
    )

    # (Log lines go to stderr, which the runner mixes in; compare printed lines.)
    assert _printed(replayed.output) == ["1: handled"]
    assert _printed(again.output) == []  # nothing open is left to replay
    assert _printed(discarded.output) == ["2: discarded"]
    assert handled == ["event-1"]
    store = Store(f"sqlite:///{(data_dir / 'tieline.db').resolve()}")
    assert list_dead_letters(store, DeadLetterFilter()) == []
    store.close()
