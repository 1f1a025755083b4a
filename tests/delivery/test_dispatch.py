"""The dispatcher: signed sends, retries on the schedule, the attempt log,
auto-disable with its event, the circuit breaker and the rate limit."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tieline.delivery import (
    BreakerPolicy,
    RetrySchedule,
    WebhookDispatcher,
    attempts_of,
    create_endpoint,
    get_endpoint,
)
from tieline.delivery.dispatcher import release_leases
from tieline.store import Store
from tieline.store._schema import outbox
from tieline.testing.waiting import wait_for

from .conftest import emit, fan_out, message_states, messages, run_until
from .sink import Sink

QUICK = RetrySchedule(delays=(0.05, 0.05), jitter=0.0)


def _dispatcher(store: Store, **options: object) -> WebhookDispatcher:
    options.setdefault("schedule", QUICK)
    options.setdefault("poll_interval", 0.01)
    # Failures here are on purpose: keep the breaker out of the way unless a
    # test is about it.
    options.setdefault("breaker", BreakerPolicy(failure_threshold=1000))
    return WebhookDispatcher(store, **options)  # type: ignore[arg-type]


def _delivered(store: Store, count: int) -> bool:
    return message_states(store).get("delivered", 0) == count


def test_every_message_arrives_signed_and_each_attempt_is_logged(
    store: Store, sink: Sink, secret: str
) -> None:
    create_endpoint(store, sink.url("/ok"), secret=secret)
    ids = emit(store, 20)
    fan_out(store)

    run_until(_dispatcher(store), lambda: _delivered(store, 20))

    assert sorted(sink.seen.taken_events["/ok"]) == sorted(ids)
    assert sink.seen.unverified == 0
    log = attempts_of(store, messages(store)[0]["message_id"])
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in log] == [
        (1, 204, "delivered")
    ]
    assert log[0]["latency_ms"] > 0


def test_a_500_is_retried_with_the_same_webhook_id(store: Store, secret: str) -> None:
    with Sink(secret, lambda _p, _i, nth: "error" if nth == 1 else "ok") as sink:
        create_endpoint(store, sink.url("/flaky"), secret=secret)
        emit(store, 5)
        fan_out(store)

        run_until(_dispatcher(store), lambda: _delivered(store, 5))

    assert all(count == 2 for count in sink.seen.tries.values())
    assert len(sink.seen.taken["/flaky"]) == 5
    first = messages(store)[0]
    assert first["attempts"] == 2
    log = attempts_of(store, first["message_id"])
    assert [(a["status_code"], a["response_excerpt"]) for a in log] == [
        (500, "upstream broke"),
        (204, ""),
    ]
    assert log[0]["error"] == "HTTP 500"


def test_a_hanging_receiver_times_out_and_the_retry_goes_through(
    store: Store, secret: str
) -> None:
    with Sink(
        secret, lambda _p, _i, nth: "hang" if nth == 1 else "ok", hang_for=2.0
    ) as sink:
        create_endpoint(store, sink.url("/slow"), secret=secret)
        emit(store, 3)
        fan_out(store)

        run_until(_dispatcher(store, timeout=0.2), lambda: _delivered(store, 3))

    log = attempts_of(store, messages(store)[0]["message_id"])
    assert [(a["status_code"], a["error"]) for a in log] == [
        (None, "no answer within 0.2s"),
        (204, None),
    ]


def test_an_endpoint_that_keeps_failing_is_disabled_and_says_so(
    store: Store, secret: str
) -> None:
    with Sink(secret, lambda _p, _i, _n: "error") as sink:
        endpoint, _ = create_endpoint(store, sink.url("/down"), secret=secret)
        emit(store, 1)
        fan_out(store)

        run_until(
            _dispatcher(store, disable_after=0.0),
            lambda: message_states(store) == {"failed": 1},
        )

    assert sink.seen.requests["/down"] == 3  # the first try and two retries
    after = get_endpoint(store, endpoint.id)
    assert after.status == "disabled"
    assert after.disabled_reason is not None
    assert "failed all 3 attempts" in after.disabled_reason
    with store.engine.connect() as connection:
        events = connection.execute(
            select(outbox.c.envelope).where(
                outbox.c.type == "tieline.webhook_endpoint.disabled"
            )
        ).all()
    assert [json.loads(e.envelope)["data"]["endpoint_id"] for e in events] == [
        endpoint.id
    ]
    # New events for a disabled endpoint are held, not sent and not lost.
    emit(store, 2)
    fan_out(store)
    assert message_states(store) == {"failed": 1, "held": 3}


def test_an_open_breaker_makes_work_wait_without_spending_attempts(
    store: Store, secret: str
) -> None:
    with Sink(secret, lambda _p, _i, _n: "error") as sink:
        create_endpoint(store, sink.url("/down"), secret=secret)
        emit(store, 10)
        fan_out(store)
        dispatcher = _dispatcher(
            store,
            max_in_flight=1,
            schedule=RetrySchedule(delays=(60.0,), jitter=0.0),
            breaker=BreakerPolicy(failure_threshold=2, open_for=60.0),
        )
        # The breaker opens after this instant, and stays open for 60 s.
        reopens = datetime.now(UTC) + timedelta(seconds=59)

        def settled() -> bool:
            # Two attempts spent, and every other message moved past the
            # breaker's reopening (not merely not fetched yet).
            found = messages(store)
            return (
                all(m["lease_until"] is None for m in found)
                and sum(m["attempts"] for m in found) == 2
                and all(
                    m["next_attempt_at"].replace(tzinfo=UTC) > reopens
                    for m in found
                    if m["attempts"] == 0
                )
            )

        run_until(dispatcher, settled)

    assert sink.seen.requests["/down"] == 2
    waiting = [m for m in messages(store) if m["attempts"] == 0]
    assert len(waiting) == 8
    assert all(
        m["next_attempt_at"].replace(tzinfo=UTC) > reopens and m["status"] == "pending"
        for m in waiting
    )


def test_the_rate_limit_spaces_requests_to_one_destination(
    store: Store, sink: Sink, secret: str
) -> None:
    create_endpoint(store, sink.url("/ok"), secret=secret, rate_limit=20.0)
    emit(store, 30)
    fan_out(store)
    started = datetime.now(UTC)

    run_until(_dispatcher(store), lambda: _delivered(store, 30))

    # A burst of 20, then 10 more at 20 per second: at least half a second.
    last = max(m["delivered_at"].replace(tzinfo=UTC) for m in messages(store))
    assert (last - started).total_seconds() >= 0.45


def test_a_stopping_dispatcher_gives_back_what_it_claimed_but_did_not_send(
    store: Store, secret: str
) -> None:
    # Given six messages to a receiver that answers nothing, and a dispatcher
    # with two sending slots: two messages go out, two more wait claimed
    with Sink(secret, lambda _p, _i, _n: "hang", hang_for=5.0) as sink:
        create_endpoint(store, sink.url("/stuck"), secret=secret)
        emit(store, 6)
        fan_out(store)
        dispatcher = _dispatcher(
            store,
            max_in_flight=2,
            timeout=0.3,
            schedule=RetrySchedule(delays=(600.0,), jitter=0.0),
        )
        stop = threading.Event()
        thread = dispatcher.start(stop)
        try:
            wait_for(
                lambda: _leased_by(store, dispatcher.worker_id) == 4,
                "two messages sent and two waiting",
                progress=lambda: _leased_by(store, dispatcher.worker_id),
            )
        finally:
            # When it stops
            stop.set()
            thread.join(10)

    # Then the two it sent are failed attempts due in ten minutes, and the
    # two it never sent are free at once, with the two it never claimed
    assert _leased_by(store, dispatcher.worker_id) == 0
    assert sorted(m["attempts"] for m in messages(store)) == [0, 0, 0, 0, 1, 1]
    claimable = _dispatcher(store).claim(10)
    assert sorted(m.attempts for m in claimable) == [0, 0, 0, 0]


def _leased_by(store: Store, owner: str) -> int:
    return sum(1 for m in messages(store) if m["lease_owner"] == owner)


def test_the_claims_of_a_dead_dispatcher_are_freed_for_the_next(
    store: Store, sink: Sink, secret: str
) -> None:
    # Given messages claimed by a dispatcher that then died (a child process
    # killed mid-delivery), and one claimed by a dispatcher still running
    create_endpoint(store, sink.url("/ok"), secret=secret)
    emit(store, 5)
    fan_out(store)
    dead = WebhookDispatcher(store, worker_id="dispatcher-dead")
    alive = WebhookDispatcher(store, worker_id="dispatcher-alive")
    assert len(dead.cycle([], 4)) == 4
    assert len(alive.cycle([], 4)) == 1

    # When its supervisor frees what the dead one held
    freed = release_leases(store, "dispatcher-dead")

    # Then those four can be claimed at once, and the live one keeps its own
    assert freed == 4
    owners = sorted(str(m["lease_owner"]) for m in messages(store))
    assert owners == ["None"] * 4 + ["dispatcher-alive"]
    assert len(WebhookDispatcher(store).cycle([], 10)) == 4
