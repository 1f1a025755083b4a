"""The webhook retry ladder: seconds, then minutes, then hours, for about a day."""

from __future__ import annotations

import pytest

from tieline.delivery.schedule import DEFAULT_SCHEDULE, RetrySchedule
from tieline.errors import ConfigurationError


def test_the_default_ladder_makes_eight_attempts_over_about_a_day() -> None:
    flat = RetrySchedule(jitter=0.0)

    delays = [flat.delay_after(n) for n in range(1, 8)]

    assert delays == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert flat.delay_after(8) is None
    assert DEFAULT_SCHEDULE.max_attempts == 8
    assert sum(DEFAULT_SCHEDULE.delays) == 99305  # 27 h 35 min 5 s


def test_jitter_spreads_each_delay_within_its_fraction() -> None:
    schedule = RetrySchedule(delays=(100.0,), jitter=0.1)

    delays = [schedule.delay_after(1) for _ in range(200)]

    assert all(d is not None and 90.0 <= d <= 110.0 for d in delays)
    assert len(set(delays)) > 100


def test_retry_after_is_a_floor_with_a_ceiling() -> None:
    schedule = RetrySchedule(delays=(5.0, 5.0), jitter=0.0, max_retry_after=60.0)

    assert schedule.delay_after(1, retry_after=30.0) == 30.0
    assert schedule.delay_after(1, retry_after=1.0) == 5.0
    assert schedule.delay_after(1, retry_after=86400.0) == 60.0


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="delays"):
        RetrySchedule(delays=(-1.0,))
