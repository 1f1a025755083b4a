"""The retry schedule of outbound webhooks: seconds, then minutes, then hours.

Webhook senders that receivers trust retry on a fixed ladder rather than a
pure exponential: a quick second try for a blip, then minutes for a deploy,
then hours for an outage, giving up after about a day. The default ladder
(5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) makes eight attempts over about 27
and a half hours. Each delay is spread by +/- `jitter` so that an endpoint
coming back is not hit by every queued message in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tieline.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Delays (seconds) before each retry; attempts = len(delays) + 1."""

    delays: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    jitter: float = 0.1
    # A `Retry-After` longer than this is not honoured in full (a receiver
    # asking for a week would otherwise park a message past its schedule).
    max_retry_after: float = 3600.0

    def __post_init__(self) -> None:
        if any(delay < 0 for delay in self.delays):
            raise ConfigurationError("retry schedule: delays must be >= 0")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError("retry schedule: jitter must be in [0, 1)")

    @property
    def max_attempts(self) -> int:
        """Attempts in all, the first one included."""
        return len(self.delays) + 1

    def delay_after(
        self, attempt: int, retry_after: float | None = None
    ) -> float | None:
        """Seconds to wait after failed attempt `attempt` (1-based); None: give up."""
        if attempt >= self.max_attempts:
            return None
        base = self.delays[attempt - 1]
        spread = base * self.jitter
        delay = max(0.0, base + random.uniform(-spread, spread))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay


DEFAULT_SCHEDULE = RetrySchedule()
