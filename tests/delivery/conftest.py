"""Fixtures for delivery: a secret, a sink, events fanned out, a dispatcher run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tieline.delivery import WebhookDispatcher, webhook_consumer
from tieline.delivery.signing import new_secret
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.store import Store
from tieline.store._delivery_schema import webhook_messages
from tieline.store._schema import inbox, outbox
from tieline.testing.waiting import wait_for

from .sink import Sink


@pytest.fixture
def secret() -> str:
    """A fresh endpoint secret."""
    return new_secret()


@pytest.fixture
def sink(secret: str) -> Iterator[Sink]:
    """A well-behaved receiver that verifies with `secret`."""
    with Sink(secret) as running:
        yield running


def emit(
    store: Store,
    total: int,
    *,
    projects: int = 1,
    kind: str = "commitment",
    chunk: int = 500,
) -> list[str]:
    """Write `total` events (project `p<n % projects>`); returns their ids."""
    ids = []
    for start in range(0, total, chunk):
        with store.transaction() as tx:
            for n in range(start, min(start + chunk, total)):
                event = tx.emit(
                    f"tieline.{kind}.updated",
                    f"{kind}/{n % 97}",
                    {"n": n, "project_id": f"p{n % projects}"},
                )
                ids.append(event.id)
    return ids


def fan_out(store: Store, timeout: float = 30.0) -> int:
    """Run the webhook consumer over the SQL log until it handled every event.

    On PostgreSQL the log is read below the oldest running transaction of the
    whole server (other test runs share it), so one pass may come up short.
    """
    bus = SqlLogBus(store, poll_interval=0.01)
    bus.worker_id = "test-fan-out"  # the same reader each call: keeps the lease
    consumer = webhook_consumer()
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.05)
    stop = threading.Event()
    (feed,) = bus.feeds(consumer.subscription)
    total, deadline = 0, time.monotonic() + timeout
    try:
        while _unhandled(store) and time.monotonic() < deadline:
            total += worker.poll(consumer, feed, stop)
    finally:
        worker.close()
    return total


def _unhandled(store: Store) -> int:
    with store.engine.connect() as connection:
        events = connection.execute(select(func.count()).select_from(outbox))
        handled = connection.execute(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.consumer == "webhooks")
        )
        return int(events.scalar_one()) - int(handled.scalar_one())


def run_until(
    dispatcher: WebhookDispatcher,
    condition: Callable[[], bool],
    timeout: float = 30.0,
) -> None:
    """Run `dispatcher` in a thread until `condition()` holds, then stop it."""
    stop = threading.Event()
    thread = dispatcher.start(stop)
    try:
        wait_for(
            condition,
            f"dispatcher condition (stats {dispatcher.stats})",
            progress=lambda: dict(dispatcher.stats),
            patience=timeout,
            poll=0.02,
        )
    finally:
        stop.set()
        thread.join(timeout + 5)


def message_states(store: Store) -> dict[str, int]:
    """How many messages are in each state."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(webhook_messages.c.status, func.count()).group_by(
                webhook_messages.c.status
            )
        ).all()
    return {row[0]: int(row[1]) for row in rows}


def messages(store: Store) -> list[dict[str, Any]]:
    """Every message row, in id order."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(webhook_messages).order_by(webhook_messages.c.id)
        ).all()
    return [dict(row._mapping) for row in rows]
