"""Engine creation: SQLite in WAL mode by default, PostgreSQL by URL.

SQLite is opened the way an embedded server needs it: WAL so readers never
block the writer, `synchronous=NORMAL` (durable at each checkpoint, safe with
WAL), a busy timeout instead of an instant "database is locked", foreign keys
on, and `BEGIN IMMEDIATE` so a write transaction takes its lock at the start
rather than failing midway on a lock upgrade.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from tieline.errors import ConfigurationError

SUPPORTED_BACKENDS = frozenset({"sqlite", "postgresql"})


def create_store_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite's pragmas set on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigurationError(
            f"tieline stores its records in SQLite or PostgreSQL, not "
            f"{parsed.get_backend_name()!r}: set TIELINE_DATABASE_URL to a "
            "sqlite:/// or postgresql:// URL"
        )
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, connect_args={"timeout": 30})
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # SQLite has one writer, and every transaction here starts with BEGIN
    # IMMEDIATE. Threads of one process that wait for it inside SQLite sleep
    # in its busy handler (1, 2, 5 ... 100 ms steps) and miss the moments the
    # lock is free: profiled under the webhook pipeline, writers spent most of
    # their time asleep there. A process-wide lock taken before BEGIN wakes
    # the next writer as soon as the last one ends; other processes still meet
    # the busy timeout. Re-entrant, so a thread nesting a second connection
    # behaves as before (SQLite's own wait).
    writer = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below; the
        # driver's own implicit BEGIN is deferred and upgrades locks late.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        writer.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            # SQLAlchemy may already have run the rollback hook below, which
            # released the lock.
            with contextlib.suppress(RuntimeError):
                writer.release()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(_connection: Any) -> None:
        # A rollback also ends a transaction whose BEGIN failed; release
        # only what this thread holds.
        with contextlib.suppress(RuntimeError):
            writer.release()
