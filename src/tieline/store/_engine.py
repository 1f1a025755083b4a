"""Engine creation: SQLite in WAL mode by default, PostgreSQL by URL.

SQLite is opened the way an embedded server needs it: WAL so readers never
block the writer, `synchronous=NORMAL` (durable at each checkpoint, safe with
WAL), a busy timeout instead of an instant "database is locked", foreign keys
on, and `BEGIN IMMEDIATE` so a write transaction takes its lock at the start
rather than failing midway on a lock upgrade. Writers of every tieline
process on the file queue on `WriterLock` first (see there why).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from tieline.errors import ConfigurationError

SUPPORTED_BACKENDS = frozenset({"sqlite", "postgresql"})

# Execution options of `Store.read()`'s connections: psycopg begins them READ
# ONLY; on SQLite the begin hook below reads the first one.
READ_ONLY = {"tieline_read_only": True, "postgresql_readonly": True}


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
    _configure_sqlite(engine, parsed.database)
    return engine


def _configure_sqlite(engine: Engine, database: str | None) -> None:
    writer = writer_lock(database)

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
        if connection.get_execution_options().get("tieline_read_only"):
            # A deferred BEGIN takes no lock; under WAL the snapshot is taken
            # at the first read. query_only makes a write in it fail at once.
            connection.exec_driver_sql("PRAGMA query_only=ON")
            connection.exec_driver_sql("BEGIN")
            return
        writer.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            # SQLAlchemy may already have run the rollback hook below, which
            # released the lock.
            writer.release()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        if connection.get_execution_options().get("tieline_read_only"):
            connection.exec_driver_sql("PRAGMA query_only=OFF")
            return
        # A rollback also ends a transaction whose BEGIN failed; release
        # only what this thread holds.
        writer.release()


_WRITERS: dict[Path, WriterLock] = {}
_WRITERS_LOCK = threading.Lock()


def writer_lock(database: str | None) -> WriterLock:
    """The writer lock of a SQLite database file, one per file in a process.

    Engines of one process on the same file share it: a thread that holds it
    through one engine and begins on another takes it again (re-entrant)
    instead of waiting for itself.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return WriterLock(None)
    path = Path(os.path.realpath(database))
    with _WRITERS_LOCK:
        lock = _WRITERS.get(path)
        if lock is None:
            lock = _WRITERS[path] = WriterLock(path.with_name(path.name + "-writer"))
        return lock


class WriterLock:
    """One SQLite writer at a time: among this process's threads, and across
    the processes that open the same database file.

    Every transaction here starts with BEGIN IMMEDIATE, and SQLite has one
    writer. Writers that wait for it inside SQLite sleep in its busy handler
    (1, 2, 5 ... 100 ms steps) and miss the moments the lock is free: profiled
    under the webhook pipeline, threads spent most of their time asleep there,
    and with the dispatcher in a process of its own, its transactions waited
    for a free moment between the consumer's about 80% of the time. So a
    writer first takes this lock, which wakes the next waiter as soon as the
    last writer ends: a re-entrant lock for the threads of a process, then an
    exclusive `flock` on a file beside the database (`<name>-writer`) for the
    processes. BEGIN IMMEDIATE then finds SQLite's lock free, unless a program
    other than tieline holds it (then SQLite's busy timeout applies as
    before). A thread that nests a second connection takes the lock again
    (re-entrant) and meets SQLite's own wait, as it would without this lock.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._owner: int | None = None  # changed only while holding _threads
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        """Take the lock; blocks until no other writer holds it."""
        self._threads.acquire()
        if self._depth == 0 and self.path is not None:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        self._owner = threading.get_ident()
        self._depth += 1

    def release(self) -> None:
        """Release the lock if this thread holds it; otherwise do nothing."""
        if self._owner != threading.get_ident():
            return
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _file(self) -> int:
        # A forked child must not share the parent's open file: a flock
        # belongs to the open file, and both would hold it at once.
        if self._fd is None or self._pid != os.getpid():
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            self._pid = os.getpid()
        return self._fd
