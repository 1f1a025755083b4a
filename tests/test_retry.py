"""The retry policy: validated, bounded, and classifying errors by reaction."""

from __future__ import annotations

import pytest

from tieline.errors import ConfigurationError, PermanentError, RetryableError, StoreBusy
from tieline.retry import ErrorClass, RetryPolicy


class OdooRejected(Exception):
    """A foreign error a consumer marks as not worth retrying."""


def test_delays_grow_by_the_factor_up_to_the_ceiling() -> None:
    policy = RetryPolicy(initial_delay=1, factor=3, max_delay=20, jitter=0)

    assert [policy.delay(n) for n in range(1, 6)] == [1, 3, 9, 20, 20]


def test_jitter_spreads_delays_within_its_fraction() -> None:
    policy = RetryPolicy(initial_delay=10, factor=1, max_delay=10, jitter=0.2)

    delays = {policy.delay(1) for _ in range(200)}

    assert all(8 <= d <= 12 for d in delays)
    assert len(delays) > 100


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"initial_delay": -1}, "initial_delay must be >= 0"),
        ({"factor": 0.5}, "factor must be >= 1"),
        ({"max_delay": 0.1}, "max_delay < initial_delay"),
        ({"jitter": 1.0}, "jitter must be in"),
        ({"max_attempts": 0}, "max_attempts must be >= 1"),
        ({"max_attempts": None}, "retries never end"),
        ({"max_age": -5}, "max_age must be > 0"),
    ],
)
def test_a_bad_policy_is_refused_with_the_reason(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy().with_(**changes)


def test_the_policy_is_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 3  # type: ignore[misc]


def test_errors_are_classified_by_the_reaction_they_need() -> None:
    policy = RetryPolicy(non_retryable=(OdooRejected,))

    assert policy.classify(StoreBusy("locked")) is ErrorClass.RETRYABLE
    assert policy.classify(PermanentError("bad cost code")) is ErrorClass.PERMANENT
    assert policy.classify(OdooRejected("no")) is ErrorClass.PERMANENT
    assert policy.classify(KeyError("x")) is ErrorClass.UNEXPECTED


def test_a_permanent_error_gives_up_at_once_with_the_reason() -> None:
    verdict = RetryPolicy().decide(PermanentError("bad cost code"), 1, 0.0)

    assert verdict.give_up
    assert verdict.reason == "PermanentError is permanent: bad cost code"


def test_retries_stop_at_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, jitter=0)
    error = RetryableError("503")

    assert not policy.decide(error, 2, 1.0).give_up
    verdict = policy.decide(error, 3, 2.0)
    assert verdict.give_up
    assert verdict.reason == (
        "gave up after 3 attempts; last was a retryable RetryableError: 503"
    )


def test_retries_stop_when_the_next_would_pass_max_age() -> None:
    policy = RetryPolicy(initial_delay=10, max_attempts=None, max_age=30, jitter=0)

    assert policy.decide(KeyError("k"), 1, 15.0).delay == 10
    verdict = policy.decide(KeyError("k"), 2, 15.0)
    assert verdict.give_up
    assert verdict.reason.startswith("gave up after 2 attempts over 15.0s (max age)")
    assert "an unexpected KeyError" in verdict.reason


def test_retry_after_is_a_floor_for_the_delay() -> None:
    policy = RetryPolicy(initial_delay=1, jitter=0)

    verdict = policy.decide(RetryableError("429", retry_after=42), 1, 0.0)

    assert verdict.delay == 42
