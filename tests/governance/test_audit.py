"""The audit log's chain: altered, deleted, reordered and cut entries show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from tieline._context import unit_of_work
from tieline.governance import AuditLog
from tieline.governance._schema import audit_log
from tieline.store import Store

KEY = b"k" * 32


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    """An audit log with a fixed key and an anchor file."""
    return AuditLog(KEY, anchor_file=tmp_path / "audit-head.json")


def _fill(store: Store, log: AuditLog, count: int) -> None:
    for number in range(1, count + 1):
        log.record(
            store,
            actor="service:estimating",
            action="record.created",
            target=f"project/{number}",
            source="127.0.0.1",
            details={"version": number},
        )


def test_an_untouched_log_verifies(store: Store, log: AuditLog) -> None:
    with unit_of_work("corr-1"):
        _fill(store, log, 5)

    with store.transaction() as tx:
        result = log.verify(tx.connection)
        first = next(log.entries(tx.connection))

    assert result.intact, result.problem
    assert (result.entries, result.head, result.anchored) == (5, 5, True)
    assert first.correlation_id == "corr-1"
    assert first.actor_kind == "service"
    assert json.loads(first.details) == {"version": 1}


def test_a_changed_entry_is_named(store: Store, log: AuditLog) -> None:
    _fill(store, log, 5)
    with store.transaction() as tx:
        tx.connection.execute(
            update(audit_log).where(audit_log.c.seq == 3).values(actor="human:mallory")
        )

    with store.transaction() as tx:
        result = log.verify(tx.connection)

    assert (result.first_bad, result.intact) == (3, False)
    assert "altered" in str(result.problem)


def test_changed_details_are_detected(store: Store, log: AuditLog) -> None:
    _fill(store, log, 3)
    with store.transaction() as tx:
        tx.connection.execute(
            update(audit_log)
            .where(audit_log.c.seq == 2)
            .values(details='{"version":99}')
        )

    with store.transaction() as tx:
        assert log.verify(tx.connection).first_bad == 2


def test_a_deleted_entry_is_named(store: Store, log: AuditLog) -> None:
    _fill(store, log, 5)
    with store.transaction() as tx:
        tx.connection.execute(delete(audit_log).where(audit_log.c.seq == 2))

    with store.transaction() as tx:
        result = log.verify(tx.connection)

    assert result.first_bad == 2
    assert "missing" in str(result.problem)


def test_a_deleted_first_entry_is_named(store: Store, log: AuditLog) -> None:
    _fill(store, log, 3)
    with store.transaction() as tx:
        tx.connection.execute(delete(audit_log).where(audit_log.c.seq == 1))

    with store.transaction() as tx:
        assert log.verify(tx.connection).first_bad == 1


def test_reordered_entries_are_named(store: Store, log: AuditLog) -> None:
    # Swap entries 2 and 4 by renumbering them, as an attacker of the table could.
    _fill(store, log, 5)
    with store.transaction() as tx:
        for old, new in ((2, -2), (4, 2), (-2, 4)):
            tx.connection.execute(
                update(audit_log).where(audit_log.c.seq == old).values(seq=new)
            )

    with store.transaction() as tx:
        result = log.verify(tx.connection)

    assert result.first_bad == 2
    assert not result.intact


def test_renumbered_entries_with_their_macs_recomputed_need_the_key(
    store: Store, log: AuditLog
) -> None:
    # Given an attacker who rebuilds the chain with a key of their own
    _fill(store, log, 3)
    forger = AuditLog(b"x" * 32)
    with store.transaction() as tx:
        entries = list(forger.entries(tx.connection))
        tx.connection.execute(delete(audit_log))
    with store.transaction() as tx:
        for entry in entries:
            forger.append(
                tx.connection,
                actor=entry.actor,
                action=entry.action,
                target="project/forged",
            )

    # Then the first entry already fails under the real key
    with store.transaction() as tx:
        assert log.verify(tx.connection).first_bad == 1


def test_removed_newest_entries_are_caught_by_the_anchor(
    store: Store, log: AuditLog
) -> None:
    _fill(store, log, 5)
    with store.transaction() as tx:
        tx.connection.execute(delete(audit_log).where(audit_log.c.seq >= 4))

    with store.transaction() as tx:
        result = log.verify(tx.connection)

    assert result.first_bad == 4
    assert "4 to 5 were removed" in str(result.problem)


def test_a_missing_anchor_fails_verification(store: Store, log: AuditLog) -> None:
    _fill(store, log, 2)
    assert log.anchor_file is not None
    log.anchor_file.unlink()

    with store.transaction() as tx:
        result = log.verify(tx.connection)

    assert not result.intact
    assert "anchor file is missing" in str(result.problem)


def test_a_forged_anchor_fails_verification(store: Store, log: AuditLog) -> None:
    _fill(store, log, 2)
    assert log.anchor_file is not None
    log.anchor_file.write_text(json.dumps({"seq": 1, "mac": "0", "check": "0"}))

    with store.transaction() as tx:
        result = log.verify(tx.connection)

    assert "audit key" in str(result.problem)


def test_the_anchor_never_moves_backwards(store: Store, log: AuditLog) -> None:
    _fill(store, log, 3)
    with store.transaction() as tx:
        first = next(log.entries(tx.connection))

    log.advance_anchor(first)

    anchor = log.read_anchor()
    assert anchor is not None
    assert anchor.seq == 3


def test_an_entry_rolls_back_with_its_transaction(store: Store, log: AuditLog) -> None:
    def failing_write() -> None:
        with log.transaction(store) as audited:
            audited.record(actor="human:ana", action="record.updated", target="x/1")
            raise RuntimeError("the business write failed")

    with pytest.raises(RuntimeError):
        failing_write()

    with store.transaction() as tx:
        assert (
            tx.connection.execute(
                select(func.count()).select_from(audit_log)
            ).scalar_one()
            == 0
        )
    assert log.read_anchor() is None


def test_threads_writing_at_once_form_one_chain(store: Store, log: AuditLog) -> None:
    # Each thread has its own engine, so each writes over its own connection.
    def write(worker: int) -> None:
        own = Store(store.url)
        try:
            for number in range(20):
                log.record(
                    own, actor=f"service:w{worker}", action="t", target=str(number)
                )
        finally:
            own.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with store.transaction() as tx:
        result = log.verify(tx.connection)
    assert result.intact, result.problem
    assert result.entries == 80


_WRITER = """
import sys
from pathlib import Path
from tieline.governance import AuditLog
from tieline.store import Store
store = Store(sys.argv[1])
log = AuditLog(b"k" * 32, anchor_file=Path(sys.argv[2]))
for number in range(int(sys.argv[3])):
    log.record(store, actor="service:" + sys.argv[4], action="t", target=str(number))
store.close()
"""


def test_processes_writing_at_once_form_one_chain(store: Store, log: AuditLog) -> None:
    assert log.anchor_file is not None
    env = dict(os.environ)
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                store.url,
                str(log.anchor_file),
                "25",
                f"p{n}",
            ],
            env=env,
            stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr.decode()

    with store.transaction() as tx:
        result = log.verify(tx.connection)
    assert result.intact, result.problem
    assert (result.entries, result.head) == (75, 75)
