"""Creates in doubt: sent to Odoo, with no answer saying whether they ran.

A create whose answer timed out may still commit: Odoo runs a request until
its `limit_time_real` (120 s by default) whether or not the client is still
listening. A retry that searches Odoo during that time finds nothing (the
first create has not committed yet) and, if it created then, would make a
second partner, order or bill. So before each create the adapter notes it
here, in a transaction of its own that survives the push transaction's
rollback and a crash of the hub; a retry that finds the note and no record
in Odoo does not create again until the in-doubt window
(`TIELINE_ODOO_IN_DOUBT_WINDOW`) has passed since the create was sent, and
raises `OdooCreateInDoubt` (retryable, with the time left as `retry_after`)
instead. Once the record is found (external id, natural key) it is bound and
stamped, and the note is dropped.

Rejected alternative: creating the record with its external id in one call
through Odoo's `load` (an `id` column). `load` looks the external id up when
it starts, so a second `load` sent while the first is still running sees no
external id either and creates a second record; the external id then points
at one of the two. It closes the crash window, not the in-doubt one, and
`load` takes flattened import columns (no `analytic_distribution` JSON, no
x2many commands) and reports refusals as messages instead of errors.

Where the notes live: the `odoo_in_doubt` table of the store. On PostgreSQL
they are written through a connection of their own. On SQLite the push
transaction holds the file's only write lock from its start (`BEGIN
IMMEDIATE`), so a second writer there would wait for it for ever; the notes
go to a small SQLite file beside the store (`<store file>-odoo-in-doubt`),
with the same table (the store's own copy stays empty there). Notes are
dropped once the record carries its external id, which is what a retry
finds first, so a push transaction that rolls back after that loses
nothing.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.pool import StaticPool

from tieline.connectors.odoo._schema import odoo_in_doubt
from tieline.store._engine import READ_ONLY, create_store_engine

# Odoo's default limit_time_real (120 s) plus a margin for the answer to
# travel and for clocks: after this, a create that is still not visible in
# Odoo was killed or rolled back there.
DEFAULT_WINDOW = 150.0

_SIDE_ENGINES: dict[str, Engine] = {}
_SIDE_LOCK = threading.Lock()


class InDoubtLedger:
    """The creates of one Odoo instance sent and not yet found bound."""

    def __init__(self, engine: Engine, instance: str) -> None:
        self.engine = engine
        self.instance = instance

    @classmethod
    def beside(cls, connection: Connection, instance: str) -> InDoubtLedger:
        """The ledger for the store `connection` belongs to (see module doc)."""
        engine = connection.engine
        if engine.dialect.name == "sqlite":
            engine = _side_engine(engine.url.database)
        return cls(engine, instance)

    def sent_at(self, model: str, canonical_id: str) -> datetime | None:
        """When a create of `canonical_id` was last sent without an outcome."""
        with self.engine.connect().execution_options(**READ_ONLY) as connection:
            row = connection.execute(
                select(odoo_in_doubt.c.sent_at).where(*self._key(model, canonical_id))
            ).first()
        if row is None:
            return None
        sent: datetime = row.sent_at
        # SQLite gives naive datetimes back; they were written in UTC.
        return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)

    def pending(self, model: str) -> list[str]:
        """The canonical ids whose create of `model` is in doubt."""
        with self.engine.connect().execution_options(**READ_ONLY) as connection:
            rows = connection.execute(
                select(odoo_in_doubt.c.canonical_id)
                .where(
                    odoo_in_doubt.c.instance == self.instance,
                    odoo_in_doubt.c.model == model,
                )
                .order_by(odoo_in_doubt.c.sent_at)
            )
            return [str(row.canonical_id) for row in rows]

    def note(self, model: str, canonical_id: str, external_id: str) -> None:
        """Record, and commit, that a create is about to be sent now."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(odoo_in_doubt).where(*self._key(model, canonical_id))
            )
            connection.execute(
                insert(odoo_in_doubt).values(
                    instance=self.instance,
                    model=model,
                    canonical_id=canonical_id,
                    external_id=external_id,
                    sent_at=datetime.now(UTC),
                )
            )

    def clear(self, model: str, canonical_id: str) -> None:
        """Forget the create: its outcome is known (found, stamped, or refused)."""
        with self.engine.begin() as connection:
            connection.execute(
                delete(odoo_in_doubt).where(*self._key(model, canonical_id))
            )

    def _key(self, model: str, canonical_id: str) -> tuple[ColumnElement[bool], ...]:
        return (
            odoo_in_doubt.c.instance == self.instance,
            odoo_in_doubt.c.model == model,
            odoo_in_doubt.c.canonical_id == canonical_id,
        )


def _side_engine(database: str | None) -> Engine:
    """The SQLite file of the notes beside a SQLite store, made on first use."""
    in_memory = not database or database == ":memory:"
    # NOTE: an in-memory store loses everything on exit anyway; its notes live
    # as long as the process, which is all it can offer.
    key = "" if in_memory else str(Path(str(database)).resolve()) + "-odoo-in-doubt"
    with _SIDE_LOCK:
        engine = _SIDE_ENGINES.get(key)
        if engine is None:
            engine = _open_side(key)
            odoo_in_doubt.create(engine, checkfirst=True)
            _SIDE_ENGINES[key] = engine
        return engine


def _open_side(path: str) -> Engine:
    if not path:
        return create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    return create_store_engine(f"sqlite:///{path}")
