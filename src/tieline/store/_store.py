"""The store: canonical records and their outbox events, in one transaction.

`Store.transaction()` opens a unit of work. `Transaction.save(record)` writes
the record when its content changed and, in the same transaction, one
CloudEvents event to the outbox; when nothing changed it writes nothing. If
the transaction fails, neither the record nor its event is kept.
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from tieline import catalog
from tieline._context import current_causation_id, current_correlation_id, new_id
from tieline.envelope import CloudEvent
from tieline.errors import StoreBusy
from tieline.model import RECORD_TYPES, CanonicalRecord
from tieline.store._engine import READ_ONLY, create_store_engine
from tieline.store._schema import outbox, records

R = TypeVar("R", bound=CanonicalRecord)

# The statements `save` runs for every record, built once and executed with
# parameters. Building them with `.values(...)` per record spent more time in
# SQLAlchemy (bind parameters and cache keys for every value) than SQLite spent
# running them; prebuilt, a save is about twice as fast on SQLite.
_SELECT_STATE = select(
    records.c.content_hash, records.c.version, records.c.status
).where(records.c.id == bindparam("record_id"))
_INSERT_RECORD = insert(records)
_UPDATE_RECORD = update(records).where(records.c.id == bindparam("record_id"))
_INSERT_EVENT = insert(outbox)

# Ids per `IN (...)` lookup in `save_many`: far below SQLite's and
# PostgreSQL's bound-parameter limits.
_LOOKUP_CHUNK = 500


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(slots=True)
class _Stored:
    """What `save_many` knows of a record row: stored, or pending in the batch."""

    content_hash: str
    version: int
    status: str | None
    pending_insert: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """What `save` did: the action, the record as stored, and its event."""

    action: Action
    record: CanonicalRecord
    event: CloudEvent | None


def content_hash(content: dict[str, Any]) -> str:
    """A stable hash of a record's content, for change detection."""
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def as_utc(value: datetime) -> datetime:
    """A stored time as UTC (SQLite keeps no zone; only UTC is written)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Store:
    """Opens transactions on the database named by a SQLAlchemy URL."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else create_store_engine(url)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from tieline.store.migrations import upgrade_to_head

        upgrade_to_head(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A unit of work: committed on normal exit, rolled back on error.

        The database transaction begins at the first statement, not on entry:
        on SQLite the one writer's lock is taken then, so what a caller
        prepares before its first statement (building rows, say) does not
        hold other writers up.
        """
        try:
            with self.engine.connect() as connection:
                yield Transaction(connection)
                connection.commit()
        except OperationalError as err:
            raise _translate(err) from err
        except DBAPIError as err:
            if _is_concurrency_failure(err):
                raise StoreBusy(str(err.orig)) from err
            raise

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A unit of work that only reads, from one consistent snapshot.

        On SQLite it takes no writer lock: under WAL it reads the database as
        of its first statement while writers go on (a write in it fails). On
        PostgreSQL it is a READ ONLY transaction. Use it where nothing is
        written; a read whose result decides a write belongs in the write's
        own `transaction()`.
        """
        try:
            with self.engine.connect() as connection:
                connection.execution_options(**READ_ONLY)
                yield Transaction(connection)
                connection.rollback()
        except OperationalError as err:
            raise _translate(err) from err

    def close(self) -> None:
        """Release the connection pool, if this store created it."""
        if self._owns_engine:
            self.engine.dispose()


class Transaction:
    """Reads and writes canonical records inside one database transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, cls: type[R], record_id: str) -> R | None:
        """The record of type `cls` with `record_id`, or None."""
        row = self.connection.execute(
            select(records).where(records.c.id == record_id, records.c.kind == cls.kind)
        ).first()
        return None if row is None else _to_record(cls, row._mapping)

    def list(
        self,
        cls: type[R],
        *,
        project_id: str | None = None,
        legal_entity_id: str | None = None,
        status: str | None = None,
        source_system: str | None = None,
    ) -> list[R]:
        """Records of type `cls`, filtered, in the order they were created."""
        query = select(records).where(records.c.kind == cls.kind)
        for column, value in (
            (records.c.project_id, project_id),
            (records.c.legal_entity_id, legal_entity_id),
            (records.c.status, status),
            (records.c.source_system, source_system),
        ):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(records.c.created_at, records.c.id)
        return [_to_record(cls, row._mapping) for row in self.connection.execute(query)]

    def count(self, cls: type[CanonicalRecord]) -> int:
        """How many records of type `cls` the store holds."""
        query = select(func.count()).select_from(records)
        return int(
            self.connection.execute(
                query.where(records.c.kind == cls.kind)
            ).scalar_one()
        )

    def save(self, record: R, *, actor: str) -> Change:
        """Write `record` if its content changed, with one outbox event.

        `actor` is who or what made the change (a person, or `import:<profile>`).
        """
        content = record.content()
        digest = content_hash(content)
        row = self.connection.execute(_SELECT_STATE, {"record_id": record.id}).first()
        if row is not None and row.content_hash == digest:
            return Change(Action.UNCHANGED, record, None)

        now = datetime.now(UTC)
        version = 1 if row is None else row.version + 1
        values = _columns(record, content, digest, version, actor, now)
        if row is None:
            self.connection.execute(_INSERT_RECORD, dict(values, created_at=now))
            action, previous_status = Action.CREATED, None
        else:
            self.connection.execute(_UPDATE_RECORD, dict(values, record_id=record.id))
            action, previous_status = Action.UPDATED, row.status

        stored = record.model_copy(
            update={"changed_by": actor, "changed_at": now, "version": version}
        )
        event = self._emit_change(stored, content, action, previous_status)
        return Change(action, stored, event)

    def save_many(
        self, batch: Sequence[CanonicalRecord], *, actor: str
    ) -> builtins.list[Change]:
        """Save each record as `save` would, with few statements for the batch.

        The stored hashes of the batch's records are read with one query per
        500 ids; new rows, changed rows and their outbox events are written
        with one executemany each. The result is the one of calling `save` on
        each record in order: one change and at most one event per record, a
        record given twice saved twice, nothing written for an unchanged one.
        """
        known = self._stored_state([record.id for record in batch])
        now = datetime.now(UTC)
        inserts: dict[str, dict[str, Any]] = {}
        updates: dict[str, dict[str, Any]] = {}
        events: builtins.list[dict[str, Any]] = []
        changes: builtins.list[Change] = []
        for record in batch:
            content = record.content()
            digest = content_hash(content)
            stored = known.get(record.id)
            if stored is not None and stored.content_hash == digest:
                changes.append(Change(Action.UNCHANGED, record, None))
                continue
            version = 1 if stored is None else stored.version + 1
            values = _columns(record, content, digest, version, actor, now)
            if stored is None or stored.pending_insert:
                inserts[record.id] = dict(values, created_at=now)
            else:
                updates[record.id] = values
            known[record.id] = _Stored(
                digest, version, record.status_value, record.id in inserts
            )

            action = Action.CREATED if stored is None else Action.UPDATED
            saved = record.model_copy(
                update={"changed_by": actor, "changed_at": now, "version": version}
            )
            previous = None if stored is None else stored.status
            event = self._change_event(saved, content, action, previous)
            events.append(_event_row(event))
            changes.append(Change(action, saved, event))
        self._write_batch(list(inserts.values()), list(updates.values()), events)
        return changes

    def _stored_state(self, ids: builtins.list[str]) -> dict[str, _Stored]:
        state: dict[str, _Stored] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            query = select(
                records.c.id,
                records.c.content_hash,
                records.c.version,
                records.c.status,
            ).where(records.c.id.in_(chunk))
            for row in self.connection.execute(query):
                state[row.id] = _Stored(row.content_hash, row.version, row.status)
        return state

    def _write_batch(
        self,
        inserts: builtins.list[dict[str, Any]],
        updates: builtins.list[dict[str, Any]],
        events: builtins.list[dict[str, Any]],
    ) -> None:
        if inserts:
            self.connection.execute(insert(records), inserts)
        if updates:
            # The row id travels as `row_id`: a bound parameter may not share
            # the name of a column that the statement sets.
            statement = update(records).where(records.c.id == bindparam("row_id"))
            self.connection.execute(
                statement,
                [
                    {"row_id": values["id"]}
                    | {k: v for k, v in values.items() if k != "id"}
                    for values in updates
                ],
            )
        if events:
            self.connection.execute(insert(outbox), events)

    def emit(self, event_type: str, subject: str, data: dict[str, Any]) -> CloudEvent:
        """Write an event that is not a record change (e.g. an import's end)."""
        event = _new_event(event_type, subject, data)
        self._write_event(event)
        return event

    def emit_many(
        self, events: Iterable[tuple[str, str, dict[str, Any]]]
    ) -> builtins.list[CloudEvent]:
        """`emit` for each (type, subject, data), in order, with one insert."""
        written = [_new_event(kind, subject, data) for kind, subject, data in events]
        if written:
            self.connection.execute(_INSERT_EVENT, [_event_row(e) for e in written])
        return written

    def _emit_change(
        self,
        record: CanonicalRecord,
        content: dict[str, Any],
        action: Action,
        previous_status: str | None,
    ) -> CloudEvent:
        event = self._change_event(record, content, action, previous_status)
        self._write_event(event)
        return event

    def _change_event(
        self,
        record: CanonicalRecord,
        content: dict[str, Any],
        action: Action,
        previous_status: str | None,
    ) -> CloudEvent:
        status = record.status_value
        name = action.value
        if (
            action is Action.UPDATED
            and status != previous_status
            and status in catalog.STATUS_EVENTS[record.kind]
        ):
            name = status
        data = dict(content, version=record.version, changed_by=record.changed_by)
        if action is Action.UPDATED and status != previous_status:
            data["previous_status"] = previous_status
        return _new_event(catalog.event_type(record.kind, name), record.subject, data)

    def _write_event(self, event: CloudEvent) -> None:
        self.connection.execute(_INSERT_EVENT, _event_row(event))


def _new_event(event_type: str, subject: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        id=new_id(),
        type=event_type,
        subject=subject,
        data=data,
        correlationid=current_correlation_id(),
        causationid=current_causation_id(),
    )


def _event_row(event: CloudEvent) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "type": event.type,
        "source": event.source,
        "subject": event.subject,
        "time": event.time,
        "correlation_id": event.correlationid,
        "causation_id": event.causationid,
        "envelope": event.to_json(),
    }


def _columns(
    record: CanonicalRecord,
    content: dict[str, Any],
    digest: str,
    version: int,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "source_system": record.origin.system,
        "source_key": record.origin.key,
        "legal_entity_id": content.get("legal_entity_id"),
        "project_id": content.get("project_id"),
        "status": record.status_value,
        "data": content,
        "content_hash": digest,
        "version": version,
        "changed_by": actor,
        "changed_at": now,
    }


def _to_record(cls: type[R], row: Any) -> R:
    if row["kind"] != cls.kind:
        raise TypeError(f"row {row['id']} is a {row['kind']}, not a {cls.kind}")
    changed_at: datetime = row["changed_at"]
    if changed_at.tzinfo is None:  # SQLite keeps no zone; we only write UTC.
        changed_at = changed_at.replace(tzinfo=UTC)
    return cls.model_validate(
        dict(
            row["data"],
            changed_by=row["changed_by"],
            changed_at=changed_at,
            version=row["version"],
        )
    )


def record_type(kind: str) -> type[CanonicalRecord]:
    """The model class of `kind`."""
    return RECORD_TYPES[kind]


def _translate(err: OperationalError) -> Exception:
    message = str(err.orig)
    if "locked" in message or "busy" in message or _is_concurrency_failure(err):
        return StoreBusy(message)
    return err


def _is_concurrency_failure(err: DBAPIError) -> bool:
    # PostgreSQL's serialization_failure and deadlock_detected.
    return getattr(err.orig, "sqlstate", None) in {"40001", "40P01"}
