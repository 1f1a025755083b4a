"""The error types every part shares, split by the reaction each one needs.

`RetryableError`: try again later (a lock, a network fault, a 429 or 5xx).
`PermanentError`: stop and show a person; retrying cannot help. Errors carry
the record and field they are about, not only text, so that a reject report or
a dead letter can name them.
"""

from __future__ import annotations


class TielineError(Exception):
    """Base of every error tieline raises on purpose."""


class RetryableError(TielineError):
    """A failure that may pass if the same work is tried again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(TielineError):
    """A failure that needs a person: retrying the same input cannot help."""


class ValidationFailed(PermanentError):
    """Input broke a rule; names the record and the field when it knows them."""

    def __init__(
        self, message: str, *, record: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.reason = message
        self.record = record
        self.field = field

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                f"record {self.record}" if self.record else "",
                f"field {self.field}" if self.field else "",
            )
            if part
        )
        return f"{where}: {self.reason}" if where else self.reason


class RecordNotFound(PermanentError):
    """A canonical record that was asked for does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key}")
        self.kind = kind
        self.key = key


class ConfigurationError(PermanentError):
    """A setting or profile is missing or wrong; the message says which."""


class StoreBusy(RetryableError):
    """The database refused the transaction for a lock or serialization conflict."""
