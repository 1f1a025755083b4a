"""`serve --role relay|worker` starts the backbone: events flow to consumers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Table
from typer.testing import CliRunner

from tieline.cli import app
from tieline.events import Consumer, registry
from tieline.events._natsbus import NatsBus
from tieline.events._roles import start_backbone
from tieline.settings import Settings
from tieline.store import Store
from tieline.testing.waiting import wait_for

from .conftest import count_effects, record_effect


@pytest.fixture
def ledger() -> Iterator[None]:
    """One registered consumer, forgotten after the test."""
    registry.register(Consumer("ledger", ("tieline.>",), record_effect("ledger")))
    yield
    registry.reset()


@pytest.mark.parametrize("bus", ["sql", pytest.param("nats", marks=pytest.mark.nats)])
def test_relay_and_worker_roles_carry_events_to_consumers(
    store: Store,
    effects_table: Table,
    ledger: None,
    bus: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    namespace = f"r{uuid.uuid4().hex[:8]}"
    url = request.getfixturevalue("nats_url") if bus == "nats" else None
    settings = Settings(data_dir=tmp_path, bus_url=url, bus_namespace=namespace)
    with store.transaction() as tx:
        for n in range(50):
            tx.emit("tieline.project.updated", f"project/{n % 5}", {"n": n})

    shut_down = start_backbone(store, settings, {"relay", "worker"}, threading.Event())
    try:
        wait_for(
            lambda: count_effects(store) >= 50,
            "the backbone's roles",
            progress=lambda: count_effects(store),
        )
    finally:
        shut_down()
        if url is not None:
            cleanup = NatsBus(url, namespace=namespace)
            cleanup.remove_streams()
            cleanup.close()

    assert count_effects(store) == 50


def test_an_unknown_role_is_refused() -> None:
    result = CliRunner().invoke(app, ["serve", "--role", "cook"])

    assert result.exit_code != 0
    assert "unknown role ['cook']" in str(result.exception)
