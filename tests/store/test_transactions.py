"""Units of work: write transactions, read-only ones, and SQLite's one writer.

A read (`Store.read()`) sees what was committed before it and never waits for
a writer; a write in it is refused. On SQLite, writers of several threads and
processes queue on the store's writer lock and none of their changes is lost.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tieline.store import Store
from tieline.store._engine import writer_lock
from tieline.store._schema import outbox

COUNTER = "counter/1"


def _events(store: Store) -> int:
    with store.read() as tx:
        return int(
            tx.connection.execute(select(func.count()).select_from(outbox)).scalar_one()
        )


def test_a_read_sees_what_was_committed_while_a_writer_holds_its_transaction(
    store: Store,
) -> None:
    # Given one committed event, and a writer that holds a transaction open
    # with a second event not yet committed
    with store.transaction() as tx:
        tx.emit("tieline.project.updated", "project/1", {"n": 1})
    written, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.transaction() as tx:
            tx.emit("tieline.project.updated", "project/1", {"n": 2})
            written.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(30)
        # When another thread reads: it does not wait for the writer, and sees
        # only the committed event
        seen = _events(store)
    finally:
        release.set()
        thread.join(30)

    # Then, once the writer committed, a new read sees both
    assert seen == 1
    assert _events(store) == 2


def test_a_write_inside_a_read_is_refused_and_changes_nothing(store: Store) -> None:
    with pytest.raises(DBAPIError), store.read() as tx:
        tx.emit("tieline.project.updated", "project/1", {"n": 1})

    assert _events(store) == 0
    # The connection went back to the pool writable: a write transaction works.
    with store.transaction() as tx:
        tx.emit("tieline.project.updated", "project/1", {"n": 2})
    assert _events(store) == 1


def _emit_then_fail(store: Store) -> None:
    with store.transaction() as tx:
        tx.emit("tieline.project.updated", "project/1", {"n": 1})
        raise RuntimeError("the handler failed")


def test_a_transaction_that_raises_keeps_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match="the handler failed"):
        _emit_then_fail(store)

    assert _events(store) == 0


# A writer process: N transactions, each reading the number of events and
# writing one more whose data is the count it read (read-modify-write).
_WRITER = """
import sys
from sqlalchemy import func, select
from tieline.store import Store
from tieline.store._schema import outbox
store = Store(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with store.transaction() as tx:
        count = select(func.count()).select_from(outbox)
        seen = tx.connection.execute(count).scalar_one()
        tx.emit("tieline.project.updated", "counter/1", {"seen": seen})
store.close()
"""


def test_sqlite_writers_in_several_processes_and_threads_lose_no_change(
    tmp_path: Path,
) -> None:
    # Given a SQLite store and two other processes writing to the same file
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = Store(url)
    store.migrate()
    rounds = 150
    others = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, str(rounds)])
        for _ in range(2)
    ]

    # When two threads of this process write as well, each transaction
    # reading the count before adding one
    def write() -> None:
        for _ in range(rounds):
            with store.transaction() as tx:
                seen = tx.connection.execute(
                    select(func.count()).select_from(outbox)
                ).scalar_one()
                tx.emit("tieline.project.updated", COUNTER, {"seen": seen})

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    codes = [other.wait(120) for other in others]

    # Then every write is there, and each one saw all those before it: the
    # transactions ran one at a time, whichever process they came from
    with store.read() as tx:
        seen = [
            row[0]
            for row in tx.connection.execute(
                text(
                    "SELECT json_extract(envelope, '$.data.seen') FROM outbox"
                    " ORDER BY seq"
                )
            )
        ]
    store.close()
    assert codes == [0, 0]
    assert seen == list(range(4 * rounds))


def test_engines_on_one_sqlite_file_share_one_writer_lock(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    database = tmp_path / "data" / "tieline.db"
    (tmp_path / "link").symlink_to(tmp_path / "data")

    same = (
        writer_lock(str(database)),
        writer_lock(str(tmp_path / "link" / "tieline.db")),
    )
    other = writer_lock(str(tmp_path / "other.db"))

    assert same[0] is same[1]
    assert other is not same[0]
    assert same[0].path == database.with_name("tieline.db-writer")
    assert writer_lock(":memory:").path is None
