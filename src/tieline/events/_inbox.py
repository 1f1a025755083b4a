"""Effectively-once handling: the inbox and the version guard.

`handle_once` runs a consumer's handler inside one store transaction that also
records the event in the consumer's inbox. If the event id is already there,
the handler does not run; if the transaction fails, neither the handler's
effects nor the inbox row are kept. So a redelivery, a crash between handling
and acknowledging, or a replay from the dead letters never repeats an effect.

The version guard: record-change events carry the record's `version`. Each
consumer remembers the newest version it handled per subject; an event with a
version at or below it arrived late (its newer successor was handled first)
and is recorded as `stale` without running the handler, so a document's
status never moves backwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Insert
from sqlalchemy.dialects import postgresql, sqlite

from tieline._context import unit_of_work
from tieline.store import Store, Transaction
from tieline.store._schema import consumer_versions, inbox

Handler = Callable[[Transaction, dict[str, Any]], None]


class Outcome(StrEnum):
    """What became of one delivery of an event to a consumer."""

    HANDLED = "handled"
    DUPLICATE = "duplicate"
    STALE = "stale"


def handle_once(
    store: Store, consumer: str, handler: Handler, event: dict[str, Any]
) -> Outcome:
    """Run `handler` for `event` unless `consumer` already handled it."""
    with store.transaction() as tx:
        return handle_in(tx, consumer, handler, event)


def handle_in(
    tx: Transaction, consumer: str, handler: Handler, event: dict[str, Any]
) -> Outcome:
    """`handle_once` inside the caller's transaction (one of a group)."""
    if not _claim(tx.connection, consumer, event["id"]):
        return Outcome.DUPLICATE
    if not _newer(tx.connection, consumer, event):
        _mark(tx.connection, consumer, event["id"], Outcome.STALE)
        return Outcome.STALE
    with unit_of_work(event.get("correlationid"), causation_id=event["id"]):
        handler(tx, event)
    return Outcome.HANDLED


def was_handled(store: Store, consumer: str, event_id: str) -> bool:
    """Whether `consumer`'s inbox holds `event_id`."""
    with store.engine.connect() as connection:
        row = connection.execute(
            inbox.select().where(
                inbox.c.consumer == consumer, inbox.c.event_id == event_id
            )
        ).first()
    return row is not None


def _claim(connection: Connection, consumer: str, event_id: str) -> bool:
    # ON CONFLICT DO NOTHING: on PostgreSQL a second worker claiming the same
    # event waits for the first to commit, then finds the row and backs off.
    statement = _insert(connection, inbox).values(
        consumer=consumer,
        event_id=event_id,
        outcome=Outcome.HANDLED.value,
        handled_at=datetime.now(UTC),
    )
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
    claimed = statement.on_conflict_do_nothing().returning(inbox.c.event_id)
    return connection.execute(claimed).first() is not None


def _mark(
    connection: Connection, consumer: str, event_id: str, outcome: Outcome
) -> None:
    connection.execute(
        inbox.update()
        .where(inbox.c.consumer == consumer, inbox.c.event_id == event_id)
        .values(outcome=outcome.value)
    )


def _newer(connection: Connection, consumer: str, event: dict[str, Any]) -> bool:
    """Record the event's version unless an equal or newer one was handled."""
    data = event.get("data")
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        return True
    statement = _insert(connection, consumer_versions).values(
        consumer=consumer, subject=event["subject"], version=version
    )
    upsert = statement.on_conflict_do_update(
        index_elements=["consumer", "subject"],
        set_={"version": version},
        where=consumer_versions.c.version < version,
    )
    return (
        connection.execute(upsert.returning(consumer_versions.c.version)).first()
        is not None
    )


def _insert(connection: Connection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement: Insert = dialect.insert(table)
    return statement
