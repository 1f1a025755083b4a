"""Rate limits per identity (or client address) and route: token buckets.

Each key (identity and route template) has a bucket of `burst` requests that
refills at `per_minute / 60` a second. Buckets live in this process: with
several API processes each keeps its own, so the effective limit is the
per-process limit times the number of processes.
TODO: share buckets across processes (a PostgreSQL or NATS KV counter);
until then a client spread over N processes gets N times the limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

_MAX_BUCKETS = 50_000


class RateLimiter:
    """Token buckets keyed by caller and route, least recently used evicted."""

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst if burst is not None else max(1, per_minute // 10)
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one request for `key`; None if allowed, else seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
        if allowed:
            return None
        return max(1.0, math.ceil((1.0 - tokens) / self.rate))
