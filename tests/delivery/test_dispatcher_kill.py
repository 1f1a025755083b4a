"""Fault test: a webhook dispatcher killed with SIGKILL mid-delivery.

A dispatcher process sends 2000 queued messages to a receiver that stalls on
one of them (it reads the request and answers nothing), so the kill lands
while that request, and whatever else the dispatcher had in flight or had
sent but not yet recorded, is open. A second dispatcher takes over once the
dead one's leases run out. Afterwards every message is delivered, every
event reached the receiver at least once and always under one `webhook-id`,
and the receiver, which de-duplicates by that id, took each event once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from tieline.delivery import create_endpoint
from tieline.store import Store
from tieline.store._delivery_schema import webhook_messages
from tieline.testing.waiting import wait_for

from .conftest import emit, fan_out, message_states
from .sink import Sink

DISPATCHER = Path(__file__).with_name("fault_dispatcher.py")
EVENTS = 2000


class StallAt:
    """The receiver's behaviour: stall on the nth new message, take the rest."""

    def __init__(self, nth: int) -> None:
        self.nth = nth
        self.firsts = 0
        self.webhook_id = ""
        self.reached = threading.Event()

    def behave(self, _path: str, webhook_id: str, nth: int) -> str:
        if nth > 1 or self.reached.is_set():
            return "ok"
        self.firsts += 1
        if self.firsts < self.nth:
            return "ok"
        self.webhook_id = webhook_id
        self.reached.set()
        return "stall"


def _start(store: Store, log: Path) -> subprocess.Popen[bytes]:
    url = store.engine.url.render_as_string(hide_password=False)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(DISPATCHER), url], stdout=out, stderr=subprocess.STDOUT
        )


def _attempts(store: Store, webhook_id: str) -> tuple[str, int]:
    with store.engine.connect() as connection:
        row = connection.execute(
            select(webhook_messages.c.status, webhook_messages.c.attempts).where(
                webhook_messages.c.message_id == webhook_id
            )
        ).one()
    return row.status, int(row.attempts)


def test_a_dispatcher_killed_mid_delivery_loses_nothing_and_repeats_one_id(
    store: Store, secret: str, tmp_path: Path
) -> None:
    stall = StallAt(EVENTS // 3)
    log = tmp_path / "dispatchers.log"
    with Sink(secret, stall.behave) as sink:
        # Given 2000 events queued for one endpoint
        create_endpoint(store, sink.url("/in"), secret=secret)
        ids = emit(store, EVENTS, projects=7)
        fan_out(store)
        assert message_states(store) == {"pending": EVENTS}

        # When a dispatcher is killed while the receiver holds its 667th
        # message unanswered
        first = _start(store, log)
        try:
            wait_for(
                stall.reached.is_set,
                "the receiver stalling on its 667th message",
                progress=lambda: stall.firsts,
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        # (mid-delivery: the stalled message has no attempt recorded yet)
        assert _attempts(store, stall.webhook_id) == ("pending", 0)
        taken_at_kill = len(sink.seen.taken["/in"])
        sink.release()

        # and a second dispatcher takes over once the first's leases end
        second = _start(store, log)
        try:
            wait_for(
                lambda: message_states(store) == {"delivered": EVENTS},
                "every message delivered",
                progress=lambda: message_states(store),
            )
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait(10)

    # Then every event reached the receiver, under one webhook-id each, and
    # the receiver took each once
    taken = sink.seen.taken_events["/in"]
    lost = len(set(ids) - set(taken))
    duplicates = len(taken) - len(set(taken))
    assert (lost, duplicates) == (0, 0)
    assert all(len(i) == 1 for i in sink.seen.ids_by_event["/in"].values())
    assert sink.seen.unverified == 0
    assert stall.firsts <= taken_at_kill + 1 < EVENTS
    # and the stalled message came again, under its id, from the second one
    assert sink.seen.tries[("/in", stall.webhook_id)] == 2
    assert _attempts(store, stall.webhook_id) == ("delivered", 1)
