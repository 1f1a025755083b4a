"""Protecting destinations: a circuit breaker and a rate limit per destination.

Circuit breaker (one per destination host): `closed` lets every request
through and counts consecutive failures (5xx, 429, timeouts, refused or
dropped connections); after `failure_threshold` of them it `opens` for
`open_for` seconds, during which no request is made and work waits (it is put
back with a later due time, without spending an attempt). Then it lets one
probe through (`half_open`): a success closes it, a failure opens it again for
twice as long, up to `max_open_for`. A 4xx other than 429 means the
destination answered, so it counts as neither failure nor probe failure.

Rate limit: a token bucket per destination, `rate` requests per second with
bursts up to `burst`; a request waits for its token.

Both live in the memory of one dispatcher process (see the TODO in
`tieline.delivery.dispatcher`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from tieline.errors import ConfigurationError
from tieline.logging import get_logger

log = get_logger(__name__)


class BreakerState(StrEnum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and for how long."""

    failure_threshold: int = 5
    open_for: float = 30.0
    max_open_for: float = 600.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_for <= 0:
            raise ConfigurationError("breaker: threshold >= 1 and open_for > 0")
        if self.max_open_for < self.open_for:
            raise ConfigurationError("breaker: max_open_for < open_for")


class CircuitBreaker:
    """The breaker of one destination (not thread-safe: one event loop uses it)."""

    def __init__(self, name: str, policy: BreakerPolicy) -> None:
        self.name = name
        self.policy = policy
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_for = policy.open_for
        self.retry_at = 0.0
        self._probing = False

    def allow(self, now: float | None = None) -> bool:
        """Whether a request may go now; in half-open, only the one probe."""
        now = time.monotonic() if now is None else now
        if self.state is BreakerState.OPEN and now >= self.retry_at:
            self._move(BreakerState.HALF_OPEN)
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def wait_for(self, now: float | None = None) -> float:
        """Seconds until the breaker will let a request (or probe) through."""
        now = time.monotonic() if now is None else now
        if self.state is BreakerState.OPEN:
            return max(0.0, self.retry_at - now)
        # Half-open with a probe in flight: look again shortly.
        return 0.0 if self.state is BreakerState.CLOSED else min(1.0, self.opened_for)

    def succeeded(self) -> None:
        """A request went through; a half-open breaker closes."""
        self.failures = 0
        self._probing = False
        if self.state is not BreakerState.CLOSED:
            self.opened_for = self.policy.open_for
            self._move(BreakerState.CLOSED)

    def failed(self, now: float | None = None) -> None:
        """A request failed in a way that blames the destination."""
        now = time.monotonic() if now is None else now
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self._probing = False
            self.opened_for = min(self.opened_for * 2, self.policy.max_open_for)
            self._open(now)
        elif (
            self.state is BreakerState.CLOSED
            and self.failures >= self.policy.failure_threshold
        ):
            self._open(now)

    def _open(self, now: float) -> None:
        self.retry_at = now + self.opened_for
        self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        level = log.warning if state is BreakerState.OPEN else log.info
        level(
            "breaker.state_changed",
            destination=self.name,
            state=state.value,
            failures=self.failures,
            open_for=self.opened_for if state is BreakerState.OPEN else None,
        )
        self.state = state


class TokenBucket:
    """A rate limit: `rate` tokens per second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ConfigurationError("rate limit must be > 0 per second")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self, now: float | None = None) -> float:
        """Take a token; returns 0, or the seconds to wait before it is yours."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
