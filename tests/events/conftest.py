"""Fixtures for the backbone: a NATS server, a bus on each back-end, a harness.

`bus` is parametrised over the SQL event log and NATS JetStream, and `store`
(from the top conftest) over SQLite and PostgreSQL, so every contract test runs
on four combinations. NATS cases carry the `nats` marker and skip when no
server answers at TIELINE_TEST_NATS_URL, failing instead under CI.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)

from tieline.events import Bus, Consumer, ConsumerWorker, OutboxRelay, SqlLogBus
from tieline.events._natsbus import NatsBus
from tieline.store import Store, Transaction
from tieline.testing.waiting import wait_for as _wait_for

# A consumer's effect inside the store: one row per handling. No unique key on
# purpose, so that a duplicate handling would show up as a second row.
effects_metadata = MetaData()
effects = Table(
    "test_effects",
    effects_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("n", Integer, nullable=False),
)


@pytest.fixture
def effects_table(store: Store) -> Iterator[Table]:
    """The test effects table, created empty in the store and dropped after."""
    effects_metadata.drop_all(store.engine)
    effects_metadata.create_all(store.engine)
    yield effects
    effects_metadata.drop_all(store.engine)


def make_nats_bus(url: str, **options: Any) -> NatsBus:
    """A NATS bus in a namespace of its own (its streams deleted by the caller)."""
    options.setdefault("ack_wait", 2.0)
    return NatsBus(url, namespace=f"t{uuid.uuid4().hex[:10]}", **options)


@pytest.fixture(params=["sql", pytest.param("nats", marks=pytest.mark.nats)])
def bus(request: pytest.FixtureRequest, store: Store) -> Iterator[Bus]:
    """A bus on each back-end, over the `store` of this test."""
    if request.param == "sql":
        yield SqlLogBus(store, lease_seconds=2.0, poll_interval=0.01)
        return
    opened = make_nats_bus(request.getfixturevalue("nats_url"))
    yield opened
    opened.remove_streams()
    opened.close()


def count_effects(store: Store) -> int:
    """How many effects the store holds."""
    with store.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(effects)).scalar_one()
        )


def record_effect(consumer: str) -> Callable[[Transaction, dict[str, Any]], None]:
    """A handler that writes one effect row per handling."""

    def handler(tx: Transaction, event: dict[str, Any]) -> None:
        tx.connection.execute(
            effects.insert().values(
                consumer=consumer,
                event_id=event["id"],
                subject=event["subject"],
                n=int(event["data"].get("n", 0)),
            )
        )

    return handler


class Harness:
    """Runs the relay and a worker in threads until a condition holds."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        consumers: Sequence[Consumer],
        **worker_options: Any,
    ) -> None:
        self.store = store
        self.bus = bus
        self.relay = OutboxRelay(store, name="test", sink=bus.publish)
        options = {
            "fetch_timeout": 0.2,
            "keep_alive_every": 0.5,
            "parked_poll_every": 0.05,
        }
        self.worker = ConsumerWorker(
            store, bus, consumers, **(options | worker_options)
        )
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> Harness:
        relay = threading.Thread(
            target=self.relay.run_forever,
            args=(self.stop,),
            kwargs={"interval": 0.02},
            daemon=True,
        )
        relay.start()
        self.threads = [relay, *self.worker.start(self.stop)]
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.worker.close()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until `condition()` holds, failing after `timeout` seconds idle."""
        _wait_for(
            condition,
            "the consumers' condition",
            progress=lambda: dict(self.worker.stats.counts),
            patience=timeout,
            poll=0.02,
        )
