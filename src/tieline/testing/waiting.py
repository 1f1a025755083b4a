"""Waiting for background work in tests without betting on the machine's speed.

A fixed deadline fails a slow but healthy run; waiting for ever hides a hang.
`wait_for` waits while the work moves: it gives up only when a measure of
progress has stood still for `patience` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    done: Callable[[], bool],
    what: str,
    *,
    progress: Callable[[], object] | None = None,
    patience: float = 60.0,
    poll: float = 0.05,
) -> None:
    """Return once `done()` holds; raise if nothing moved for `patience` seconds.

    `progress` returns any comparable reading (a count, a dict of counts); each
    change restarts the patience clock. Without it, `patience` bounds the
    whole wait.
    """
    reading = progress() if progress is not None else None
    quiet_since = time.monotonic()
    while not done():
        now = time.monotonic()
        if progress is not None:
            latest = progress()
            if latest != reading:
                reading, quiet_since = latest, now
        if now - quiet_since > patience:
            seen = f"; last reading {reading!r}" if progress is not None else ""
            raise TimeoutError(f"{what}: no progress for {patience:g}s{seen}")
        time.sleep(poll)
