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
from tieline.events.parking import park
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


def test_parked_shows_the_count_per_consumer_and_one_consumers_events(
    data_dir: Path,
) -> None:
    # Given a record whose push failed once and waits, with one event behind it
    store = Store(f"sqlite:///{(data_dir / 'tieline.db').resolve()}")
    now = datetime.now(UTC)
    events = [
        {
            "id": f"event-{n}",
            "type": "tieline.commitment.approved",
            "subject": "commitment/7",
            "data": {},
        }
        for n in (7, 8)
    ]
    attempt = Attempt(now, "OdooDown: 502 Bad Gateway", "retryable").to_dict()
    with store.transaction() as tx:
        park(tx.connection, "odoo-push", events, now=now, attempts=[attempt])
    store.close()

    wide = {"COLUMNS": "200"}
    counts = runner.invoke(app, ["deadletters", "parked"], env=wide)
    listed = runner.invoke(
        app, ["deadletters", "parked", "--consumer", "odoo-push"], env=wide
    )

    assert counts.exit_code == 0, counts.output
    (row,) = [line for line in _printed(counts.output) if "odoo-push" in line]
    assert [cell.strip() for cell in row.split("│")[1:4]] == ["odoo-push", "2", "1"]
    assert listed.exit_code == 0, listed.output
    rows = [line for line in _printed(listed.output) if "commitment/7" in line]
    assert [row.split("│")[1].strip() for row in rows] == ["event-7", "event-8"]
    assert "OdooDown: 502 Bad Gateway" in rows[0]
    assert "(waits its turn)" in rows[1]
