"""The retry policy: when to try again, and when to stop and show a person.

One frozen, validated dataclass shared by every part that retries (consumers,
webhook delivery). The delay before attempt n+1 is
`min(initial_delay * factor**(n-1), max_delay)`, spread by +/- `jitter` (a
fraction) so that many failures at once do not retry in lock-step. Work stops
after `max_attempts` attempts or once `max_age` seconds passed since the
first, whichever comes first (either may be None, not both).

Errors are classified by the reaction they need: a `PermanentError`, or a type
listed in `non_retryable`, stops at once; a `RetryableError` is retried (its
`retry_after`, when given, is honoured as a floor); any other exception is an
unexpected fault and is retried too, under the same limits, because most such
faults in an integration hub are passing (a dropped connection the driver did
not name) and the dead letter names it plainly when it is not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tieline.errors import ConfigurationError, PermanentError, RetryableError


class ErrorClass(StrEnum):
    """How an error was classified."""

    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do after a failed attempt: wait `delay` seconds, or give up."""

    give_up: bool
    delay: float
    error_class: ErrorClass
    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff with jitter, bounded by attempts and/or age."""

    initial_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.2
    max_attempts: int | None = 8
    max_age: float | None = None
    non_retryable: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        problems = [
            text
            for failed, text in (
                (self.initial_delay < 0, "initial_delay must be >= 0"),
                (self.factor < 1, "factor must be >= 1"),
                (self.max_delay < self.initial_delay, "max_delay < initial_delay"),
                (not 0 <= self.jitter < 1, "jitter must be in [0, 1)"),
                (
                    self.max_attempts is not None and self.max_attempts < 1,
                    "max_attempts must be >= 1",
                ),
                (self.max_age is not None and self.max_age <= 0, "max_age must be > 0"),
                (
                    self.max_attempts is None and self.max_age is None,
                    "set max_attempts or max_age, or retries never end",
                ),
            )
            if failed
        ]
        if problems:
            raise ConfigurationError("retry policy: " + "; ".join(problems))

    def with_(self, **changes: Any) -> RetryPolicy:
        """A copy with some fields changed (a per-consumer override), validated."""
        return replace(self, **changes)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        base = min(self.initial_delay * self.factor ** (attempt - 1), self.max_delay)
        spread = base * self.jitter
        return max(0.0, base + random.uniform(-spread, spread))

    def classify(self, error: BaseException) -> ErrorClass:
        """Whether `error` is worth another attempt."""
        if isinstance(error, (PermanentError, *self.non_retryable)):
            return ErrorClass.PERMANENT
        if isinstance(error, RetryableError):
            return ErrorClass.RETRYABLE
        return ErrorClass.UNEXPECTED

    def decide(self, error: BaseException, attempts: int, age: float) -> Verdict:
        """After `attempts` failures over `age` seconds, retry or give up."""
        kind = self.classify(error)
        if kind is ErrorClass.PERMANENT:
            return Verdict(True, 0.0, kind, f"{_name(error)} is permanent: {error}")
        delay = self.delay(attempts)
        if isinstance(error, RetryableError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        if self.max_attempts is not None and attempts >= self.max_attempts:
            why = f"gave up after {attempts} attempts"
        elif self.max_age is not None and age + delay > self.max_age:
            why = f"gave up after {attempts} attempts over {age:.1f}s (max age)"
        else:
            return Verdict(False, delay, kind, "")
        adjective = "an unexpected" if kind is ErrorClass.UNEXPECTED else "a retryable"
        return Verdict(
            True, 0.0, kind, f"{why}; last was {adjective} {_name(error)}: {error}"
        )


def _name(error: BaseException) -> str:
    return type(error).__name__


DEFAULT_RETRY = RetryPolicy()
