"""Fault tests: receivers that answer 500, hang, or drop the connection.

Thousands of events go from the outbox through the bus (the SQL event log, or
NATS JetStream through the relay) and the webhook consumer to receivers on
127.0.0.1 that misbehave on purpose. Afterwards every event reached the
healthy-but-flaky receiver at least once and always under one `webhook-id`
(so the receiver, which de-duplicates, took each exactly once), and the dead
letters are exactly the messages for the receiver that never answers well.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tieline.delivery import (
    BreakerPolicy,
    RetrySchedule,
    WebhookDispatcher,
    attempts_of,
    create_endpoint,
    webhook_consumer,
)
from tieline.events import Bus, ConsumerWorker, OutboxRelay, SqlLogBus
from tieline.store import Store
from tieline.testing.waiting import wait_for

from .conftest import emit, message_states, messages
from .sink import Sink

EVENTS = 2000
PROJECTS = 10  # the dead receiver subscribes to project p0: 200 events


def flaky(_path: str, webhook_id: str, nth: int) -> str:
    """Misbehave on the first tries of six in ten messages, then take them."""
    bucket = int(webhook_id[-4:], 16) % 10
    if bucket <= 2 and nth == 1:
        return "error"
    if bucket == 3 and nth == 1:
        return "close"
    if bucket == 4 and nth == 1:
        return "hang"
    if bucket == 5 and nth <= 2:
        return "error"
    return "ok"


@pytest.fixture(params=["sql", pytest.param("nats", marks=pytest.mark.nats)])
def any_bus(request: pytest.FixtureRequest, store: Store) -> Iterator[Bus]:
    """The SQL event log, or a NATS bus in a namespace of its own."""
    if request.param == "sql":
        yield SqlLogBus(store, lease_seconds=2.0, poll_interval=0.01)
        return
    from tieline.events._natsbus import NatsBus

    nats = NatsBus(
        request.getfixturevalue("nats_url"), namespace=f"w{time.time_ns() % 10**9}"
    )
    yield nats
    nats.remove_streams()
    nats.close()


def test_flaky_hanging_and_dead_receivers_lose_and_repeat_nothing(
    store: Store, any_bus: Bus, secret: str
) -> None:
    with (
        Sink(secret, flaky, hang_for=1.5) as good,
        Sink(secret, lambda _p, _i, _n: "error") as dead,
    ):
        # Given a flaky receiver for every event and a dead one for project p0
        create_endpoint(store, good.url("/flaky"), secret=secret)
        create_endpoint(
            store, dead.url("/dead"), secret=secret, filters={"project_id": "p0"}
        )
        # When 2000 events are written and the backbone and dispatcher run
        ids = emit(store, EVENTS, projects=PROJECTS)
        dead_ids = ids[::PROJECTS]
        _run_pipeline(store, any_bus, EVENTS + len(dead_ids))

    # Then the flaky receiver took every event exactly once, under one id each
    taken = good.seen.taken_events["/flaky"]
    lost = len(set(ids) - set(taken))
    duplicates = len(taken) - len(set(taken))
    assert (lost, duplicates) == (0, 0)
    assert all(len(i) == 1 for i in good.seen.ids_by_event["/flaky"].values())
    assert good.seen.unverified == 0
    # and it was asked more than once for the messages it failed at first
    assert good.seen.requests["/flaky"] > EVENTS * 1.5
    # and the dead letters are exactly the dead receiver's messages, each tried
    # the schedule's four times under one id
    failed = [m for m in messages(store) if m["status"] == "failed"]
    assert sorted(m["event_id"] for m in failed) == sorted(dead_ids)
    assert all(m["attempts"] == 4 for m in failed)
    assert _attempts_logged(store, failed) == [4] * len(dead_ids)
    # (a try that timed out waiting under load may not have reached the sink)
    assert len(dead.seen.tries) == len(dead_ids)
    assert all(1 <= n <= 4 for n in dead.seen.tries.values())
    assert message_states(store) == {"delivered": EVENTS, "failed": len(dead_ids)}


def _attempts_logged(store: Store, rows: list[dict[str, Any]]) -> list[int]:
    return [len(attempts_of(store, row["message_id"])) for row in rows]


def _run_pipeline(store: Store, bus: Bus, messages_expected: int) -> None:
    stop = threading.Event()
    relay = OutboxRelay(store, name="webhook-faults", sink=bus.publish)
    worker = ConsumerWorker(store, bus, [webhook_consumer()], fetch_timeout=0.2)
    dispatcher = WebhookDispatcher(
        store,
        schedule=RetrySchedule(delays=(0.05, 0.1, 0.2), jitter=0.2),
        breaker=BreakerPolicy(failure_threshold=1000),
        timeout=1.0,
        poll_interval=0.01,
    )
    threads = [*worker.start(stop), dispatcher.start(stop)]
    if not isinstance(bus, SqlLogBus):
        threads.append(
            threading.Thread(
                target=relay.run_forever, args=(stop,), kwargs={"interval": 0.02}
            )
        )
        threads[-1].start()
    try:
        _wait_settled(store, messages_expected)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        worker.close()


def _wait_settled(store: Store, expected: int) -> None:
    def settled() -> bool:
        states = message_states(store)
        return sum(states.values()) == expected and set(states) <= {
            "delivered",
            "failed",
        }

    wait_for(
        settled,
        f"all {expected} messages delivered or failed",
        progress=lambda: message_states(store),
        poll=0.1,
    )
