"""Odoo's failures as tieline errors, split by what to do next.

Transient faults (connection lost, 429, 502/503/504, a timeout, PostgreSQL's
serialization failures and a full connection pool reported by Odoo) are
`RetryableError`s. Those after which a write may have run in Odoo anyway (no
answer, a proxy's 500/502/504) say so with `in_doubt`: the client does not
resend such a write, the adapter's in-doubt notes decide. Refusals that a
person must fix (access denied, a missing record, a validation or user
error, a bad call) are `PermanentError`s and keep Odoo's own message.
"""

from __future__ import annotations

from tieline.errors import PermanentError, RetryableError


class OdooFault:
    """Mixin: where in Odoo the failure happened, and Odoo's own words."""

    odoo_model: str | None = None
    odoo_method: str | None = None
    odoo_name: str | None = None
    odoo_message: str = ""
    # Whether the call may have run in Odoo although no answer said so.
    in_doubt: bool = False

    def locate(
        self, *, model: str | None, method: str | None, name: str | None, message: str
    ) -> None:
        """Record the model, method, exception class and message."""
        self.odoo_model = model
        self.odoo_method = method
        self.odoo_name = name
        self.odoo_message = message


class OdooUnavailable(OdooFault, RetryableError):
    """Odoo could not be reached or answered 502/503/504 or a bare 500."""

    def __init__(
        self, message: str, *, in_doubt: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.in_doubt = in_doubt


class OdooThrottled(OdooUnavailable):
    """Odoo (or its proxy) answered 429: too many requests; `retry_after` if said."""


class OdooResponseLost(OdooFault, RetryableError):
    """The request went out but no answer came: it may have been committed."""

    in_doubt = True


class OdooCreateInDoubt(OdooFault, RetryableError):
    """An earlier create got no answer and its record is not in Odoo yet.

    It may still commit (Odoo runs a request up to its `limit_time_real`), so
    nothing is created again before `retry_after` seconds, when the in-doubt
    window ends.
    """


class OdooConcurrency(OdooFault, RetryableError):
    """Odoo gave up on a serialization failure, a deadlock or a full pool."""


class OdooRejected(OdooFault, PermanentError):
    """Base of the refusals a retry cannot fix; the message is Odoo's."""


class OdooAuthFailed(OdooRejected):
    """Login refused: wrong password or API key, unknown user or database."""


class OdooAccessError(OdooRejected):
    """The user may not do this (rights, groups, company)."""


class OdooRecordMissing(OdooRejected):
    """The record does not exist (any more)."""


class OdooValidationError(OdooRejected):
    """A constraint or required value refused the data."""


class OdooUserError(OdooRejected):
    """A business rule refused the action (e.g. posting without a date)."""


class OdooCallError(OdooRejected):
    """The call itself is wrong: unknown field, method, argument or value."""


class OdooNotRecognised(OdooRejected):
    """The URL answers, but not as Odoo does (another server, a wrong path)."""


_BY_NAME: dict[str, type[OdooRejected]] = {
    "odoo.exceptions.AccessDenied": OdooAuthFailed,
    "odoo.exceptions.AccessError": OdooAccessError,
    "odoo.exceptions.MissingError": OdooRecordMissing,
    "odoo.exceptions.ValidationError": OdooValidationError,
    "odoo.exceptions.UserError": OdooUserError,
    "odoo.exceptions.RedirectWarning": OdooUserError,
    "werkzeug.exceptions.Unauthorized": OdooAuthFailed,
}

# Concurrency failures Odoo reports when its own retries run out.
_TRANSIENT_MARKERS = (
    "SerializationFailure",
    "TransactionRollbackError",
    "DeadlockDetected",
    "PoolError",
    "could not serialize access",
    "Connection Pool Is Full",
)


def classify(
    name: str, message: str, *, model: str | None, method: str | None
) -> OdooRejected | OdooConcurrency:
    """The tieline error for an Odoo exception class and message."""
    error: OdooRejected | OdooConcurrency
    if any(marker in name or marker in message for marker in _TRANSIENT_MARKERS):
        error = OdooConcurrency(f"Odoo concurrency failure: {message}")
    else:
        cls = _BY_NAME.get(name, OdooCallError)
        error = cls(message)
    error.locate(model=model, method=method, name=name, message=message)
    return error
