"""`tieline serve` sends webhooks from a dispatcher in a child process.

With its default roles (`all`), the hub starts the webhook dispatcher as a
child process of its own; the child stops when the hub stops, and also when
the hub is killed outright.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tieline.delivery import create_endpoint
from tieline.delivery.signing import new_secret
from tieline.store import Store
from tieline.testing.waiting import wait_for

from ..delivery.sink import Sink

EVENTS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _dispatcher_pid(log: Path) -> int | None:
    found = re.search(r"dispatcher\.process_started\s.*pid=(\d+)", log.read_text())
    return int(found.group(1)) if found else None


@contextmanager
def _hub(tmp_path: Path, sink: Sink, secret: str) -> Iterator[subprocess.Popen[bytes]]:
    """`tieline serve` on a store with one endpoint and EVENTS events queued."""
    data = tmp_path / "var"
    store = Store(f"sqlite:///{data / 'tieline.db'}")
    store.migrate()
    create_endpoint(store, sink.url("/in"), secret=secret)
    with store.transaction() as tx:
        for n in range(EVENTS):
            tx.emit("tieline.project.updated", f"project/{n}", {"n": n})
    store.close()
    env = dict(os.environ, TIELINE_DATA_DIR=str(data))
    command = [sys.executable, "-m", "tieline", "serve", "--port", str(_free_port())]
    with (tmp_path / "hub.log").open("wb") as log:
        hub = subprocess.Popen(command, env=env, stderr=log)
    try:
        yield hub
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait(30)


def test_the_hub_sends_webhooks_from_a_child_that_stops_with_it(
    tmp_path: Path,
) -> None:
    secret = new_secret()
    with Sink(secret) as sink, _hub(tmp_path, sink, secret) as hub:
        # Given a hub running with its default roles
        log = tmp_path / "hub.log"
        wait_for(
            lambda: len(sink.seen.taken["/in"]) == EVENTS,
            "every event sent",
            progress=lambda: len(sink.seen.taken["/in"]),
        )
        child = _dispatcher_pid(log)
        assert child is not None
        assert child != hub.pid
        assert _alive(child)

        # When it is interrupted
        hub.send_signal(signal.SIGINT)
        code = hub.wait(60)

    # Then every event went out once, signed, and the child is gone with the
    # hub
    assert sink.seen.unverified == 0
    assert sorted(sink.seen.requests.values()) == [EVENTS]
    assert code == 0, log.read_text()
    assert not _alive(child)
    assert "serve.stopped" in log.read_text()


def test_the_dispatcher_child_ends_when_the_hub_is_killed(tmp_path: Path) -> None:
    secret = new_secret()
    with Sink(secret) as sink, _hub(tmp_path, sink, secret) as hub:
        log = tmp_path / "hub.log"
        wait_for(lambda: _dispatcher_pid(log) is not None, "the dispatcher child")
        child = _dispatcher_pid(log)
        assert child is not None
        assert _alive(child)

        # When the hub is killed outright, with no chance to stop its child
        hub.kill()
        hub.wait(30)

        # Then the child notices and ends by itself
        wait_for(lambda: not _alive(child), "the orphaned dispatcher to end")
