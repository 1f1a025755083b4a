"""Circuit breaker and rate limit per destination."""

from __future__ import annotations

import pytest

from tieline.delivery.protection import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    TokenBucket,
)
from tieline.errors import ConfigurationError


def _breaker() -> CircuitBreaker:
    return CircuitBreaker(
        "http://x:80", BreakerPolicy(failure_threshold=3, open_for=10.0)
    )


def test_the_breaker_opens_after_a_run_of_failures_and_refuses_work() -> None:
    breaker = _breaker()

    for _ in range(3):
        assert breaker.allow(now=0.0)
        breaker.failed(now=0.0)

    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(now=5.0)
    assert breaker.wait_for(now=5.0) == 5.0


def test_a_success_resets_the_run() -> None:
    breaker = _breaker()

    breaker.failed(now=0.0)
    breaker.failed(now=0.0)
    breaker.succeeded()
    breaker.failed(now=0.0)

    assert breaker.state is BreakerState.CLOSED


def test_after_open_for_one_probe_goes_and_its_success_closes() -> None:
    breaker = _breaker()
    for _ in range(3):
        breaker.failed(now=0.0)

    assert breaker.allow(now=10.0)  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow(now=10.0)  # only one probe at a time
    breaker.succeeded()

    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow(now=10.0)


def test_a_failed_probe_opens_again_for_twice_as_long() -> None:
    breaker = _breaker()
    for _ in range(3):
        breaker.failed(now=0.0)

    assert breaker.allow(now=10.0)
    breaker.failed(now=10.0)

    assert breaker.state is BreakerState.OPEN
    assert breaker.wait_for(now=10.0) == 20.0


def test_the_bucket_lets_a_burst_through_then_spaces_requests() -> None:
    bucket = TokenBucket(rate=10.0, burst=2.0)
    bucket.stamp = 0.0

    waits = [bucket.take(now=0.0) for _ in range(4)]

    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == pytest.approx([0.1, 0.2])


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        BreakerPolicy(failure_threshold=0)
    with pytest.raises(ConfigurationError):
        TokenBucket(rate=0)
