"""Fault tests: a worker killed mid-delivery, NATS restarted under load.

After each, every event was handled, and every effect in the store happened
exactly once: the counts of lost and duplicated effects are asserted zero.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, create_engine, func, select

from tieline.events import Bus, Consumer, OutboxRelay
from tieline.events._natsbus import NatsBus
from tieline.store import Store
from tieline.store._schema import inbox
from tieline.testing.waiting import wait_for

from .conftest import Harness, effects, make_nats_bus, record_effect

WORKER = Path(__file__).with_name("fault_worker.py")
NATS_SERVER = os.environ.get("TIELINE_TEST_NATS_SERVER", "/usr/sbin/nats-server")


def _emit(store: Store, total: int, subjects: int, chunk: int = 500) -> None:
    for start in range(0, total, chunk):
        with store.transaction() as tx:
            for n in range(start, min(start + chunk, total)):
                tx.emit(
                    "tieline.commitment.updated", f"commitment/{n % subjects}", {"n": n}
                )


@functools.cache
def _plain_engine(url: str) -> Engine:
    return create_engine(url)


def _reader(store: Store) -> Engine:
    """An engine for the test's own counting.

    The store's SQLite engine opens every transaction with BEGIN IMMEDIATE,
    so a count would queue behind the stalled worker's open transaction; a
    plain reader sees the last commit at once, as WAL allows.
    """
    if store.engine.dialect.name != "sqlite":
        return store.engine
    return _plain_engine(store.engine.url.render_as_string(hide_password=False))


def _losses_and_duplicates(store: Store, total: int) -> tuple[int, int]:
    with _reader(store).connect() as connection:
        rows = connection.execute(
            select(func.count()).select_from(effects)
        ).scalar_one()
        distinct = connection.execute(
            select(func.count(effects.c.event_id.distinct()))
        ).scalar_one()
    return total - int(distinct), int(rows) - int(distinct)


def _handled(store: Store, consumer: str) -> int:
    with _reader(store).connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(inbox)
                .where(inbox.c.consumer == consumer)
            ).scalar_one()
        )


def _effect_rows(store: Store) -> int:
    with _reader(store).connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(effects)).scalar_one()
        )


def _start_worker(
    store: Store, bus_arg: str, namespace: str, log: Path, *stall: str
) -> subprocess.Popen[bytes]:
    url = store.engine.url.render_as_string(hide_password=False)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(WORKER), url, bus_arg, namespace, *stall],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.parametrize(
    "bus_kind", ["sql", pytest.param("nats", marks=pytest.mark.nats)]
)
def test_a_worker_killed_mid_delivery_loses_and_repeats_nothing(
    store: Store,
    effects_table: Table,
    bus_kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    total = 3000
    # Given 3000 events over 150 records, on the bus
    _emit(store, total, subjects=150)
    namespace, bus_arg, nats = "", "sql", None
    if bus_kind == "nats":
        nats = make_nats_bus(request.getfixturevalue("nats_url"))
        namespace, bus_arg = nats.namespace, request.getfixturevalue("nats_url")
        OutboxRelay(store, sink=nats.publish).drain()
    log = tmp_path / "workers.log"
    stalled = tmp_path / "stalled"
    try:
        # When a worker is killed with SIGKILL inside the handler of its
        # 1000th event, with that event's transaction open
        first = _start_worker(
            store, bus_arg, namespace, log, str(total // 3), str(stalled)
        )
        wait_for(
            stalled.exists,
            "the first worker reaching its 1000th event",
            progress=lambda: _effect_rows(store),
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = _effect_rows(store)
        # and a second worker takes over once the first's ack wait/lease ends
        second = _start_worker(store, bus_arg, namespace, log)
        try:
            wait_for(
                lambda: _handled(store, "fault-ledger") == total,
                "all events handled",
                progress=lambda: _handled(store, "fault-ledger"),
            )
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait(10)
    finally:
        if nats is not None:
            nats.remove_streams()
            nats.close()

    # Then nothing was lost and nothing was handled twice
    assert 0 < at_kill < total // 3
    assert _losses_and_duplicates(store, total) == (0, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateNats:
    """A nats-server this test starts, kills and restarts on its own port."""

    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                NATS_SERVER,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("the private nats-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def private_nats(tmp_path: Path, nats_url: str) -> Iterator[PrivateNats]:
    """A NATS server of the test's own (needs the nats-server binary)."""
    if not Path(NATS_SERVER).exists():
        pytest.fail(f"nats-server not found at {NATS_SERVER}")
    server = PrivateNats(tmp_path / "nats")
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


@pytest.mark.nats
def test_nats_restarted_under_load_loses_and_repeats_nothing(
    store: Store, effects_table: Table, private_nats: PrivateNats
) -> None:
    total = 2000
    bus: Bus = NatsBus(private_nats.url, ack_wait=2.0, timeout=2.0)
    consumer = Consumer("restart-ledger", ("tieline.commitment.>",), record_effect("r"))
    stop_producing = threading.Event()

    def produce() -> None:
        # 40 transactions of 50 events, spread over about two seconds.
        for start in range(0, total, 50):
            with store.transaction() as tx:
                for n in range(start, start + 50):
                    tx.emit(
                        "tieline.commitment.updated", f"commitment/{n % 100}", {"n": n}
                    )
            stop_producing.wait(0.05)

    producer = threading.Thread(target=produce, daemon=True)
    try:
        with Harness(store, bus, [consumer]):
            producer.start()
            # When the server is killed under load and comes back a second later
            wait_for(
                lambda: _effect_rows(store) >= total // 4,
                "a quarter handled",
                progress=lambda: _effect_rows(store),
            )
            private_nats.kill()
            at_kill = _effect_rows(store)
            time.sleep(1.0)
            private_nats.start()
            producer.join(60)
            wait_for(
                lambda: _handled(store, "restart-ledger") == total,
                "all handled",
                progress=lambda: _handled(store, "restart-ledger"),
            )
    finally:
        stop_producing.set()
        bus.close()

    # Then every event was handled once: none lost, none repeated
    assert at_kill < total
    assert _losses_and_duplicates(store, total) == (0, 0)
