"""The unit of work's correlation and causation ids, carried in contextvars.

One correlation id follows a unit of work (an import run, an API request, a
consumed event) into every log line and every event it writes. The logging
setup binds the same value into structlog's context.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


def new_id() -> str:
    """A fresh random id for a correlation or an event."""
    return str(uuid.uuid4())


def current_correlation_id() -> str:
    """The correlation id in force, or a new one if none is bound."""
    value = _correlation_id.get()
    return value if value is not None else new_id()


def current_causation_id() -> str | None:
    """The id of the event or request that caused the current work, if any."""
    return _causation_id.get()


@contextmanager
def unit_of_work(
    correlation_id: str | None = None, *, causation_id: str | None = None
) -> Iterator[str]:
    """Bind a correlation id (a new one unless given) for the block's duration."""
    cid = correlation_id or new_id()
    token = _correlation_id.set(cid)
    cause_token = _causation_id.set(causation_id)
    with structlog.contextvars.bound_contextvars(correlation_id=cid):
        try:
            yield cid
        finally:
            _causation_id.reset(cause_token)
            _correlation_id.reset(token)
