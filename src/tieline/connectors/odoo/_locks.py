"""The push lock, with the database's row-lock waits bounded while it is held.

Whoever writes to Odoo through an `OdooSync` (the push consumer, the
workflows' gateway, the periodic pull) holds `sync.lock`, so that two pushes
never create one partner twice. On PostgreSQL that lock can close a cycle
neither side sees: a lane holding it waits for a binding row that another
lane's open transaction wrote (the worker commits a lane's events together),
while that lane waits for the lock. `push_lock` bounds the row-lock wait to
`sync.lock_wait` seconds (`lock_timeout`, for the push only); a wait cut
short (SQLSTATE 55P03) becomes `BindingConflict`, a `RetryableError`, so the
lock is released, the transaction rolls back and the work is retried.
On SQLite the transaction is begun (its writer lock taken) before the push
lock, the order every lane takes them in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from tieline.errors import RetryableError
from tieline.store import Transaction

if TYPE_CHECKING:
    from tieline.connectors.odoo._sync import OdooSync

# PostgreSQL's SQLSTATE for a lock wait cut short by `lock_timeout`.
LOCK_NOT_AVAILABLE = "55P03"


class BindingConflict(RetryableError):
    """Another lane holds or wrote the same binding; retried, this one finds it."""


@contextmanager
def push_lock(sync: OdooSync, tx: Transaction, name: str) -> Iterator[None]:
    """Hold `sync.lock` for a push in `tx`, row-lock waits bounded (see above).

    `name` says who pushes, in the `BindingConflict` raised.
    """
    with _bounded_lock_waits(tx, sync.lock_wait):
        try:
            with sync.lock:
                yield
        except OperationalError as err:
            if getattr(err.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            raise BindingConflict(f"{name}: waited on another lane's row") from err
        except IntegrityError as err:
            # Another lane bound the same Odoo record and has not committed
            # yet; next time this lane finds the binding.
            raise BindingConflict(f"{name}: binding written concurrently") from err


@contextmanager
def _bounded_lock_waits(tx: Transaction, seconds: float) -> Iterator[None]:
    """On PostgreSQL, `lock_timeout` is `seconds` inside, as it was after.

    Set for the transaction (`is_local`): on an error, rolling back the
    transaction or its savepoint puts the previous value back too.
    """
    connection = tx.connection
    if connection.dialect.name != "postgresql":
        # Begin the transaction before `sync.lock` is taken: on SQLite the
        # first statement takes the writer lock, and a transaction that took
        # `sync.lock` first could wait for the writer lock held by a lane
        # that waits for `sync.lock` (seen between the periodic pull and
        # the push consumer). Every lane takes the writer lock first.
        connection.execute(text("SELECT 1"))
        yield
        return
    before = connection.execute(text("SELECT current_setting('lock_timeout')"))
    previous = before.scalar_one()
    _set_lock_timeout(tx, f"{max(1, round(seconds * 1000))}ms")
    yield
    _set_lock_timeout(tx, str(previous))


def _set_lock_timeout(tx: Transaction, value: str) -> None:
    tx.connection.execute(
        text("SELECT set_config('lock_timeout', :value, true)"), {"value": value}
    )
