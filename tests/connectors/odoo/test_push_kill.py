"""Fault test: the push consumer's process SIGKILLed between Odoo's answer to
a create and the commit of the binding, then started again.

The first worker process (`push_worker.py`) stops for good at a chosen
point of its push of the partner, the order or the bill, and is killed
there: right after Odoo answered the create, before tieline stamped its
external id on the new record (`create`), or right after the binding row
was written, before the store transaction holding it and the event's inbox
row committed (`bind`). Either way Odoo holds a record the store knows
nothing about. A fresh worker takes the dead one's events once its lease
runs out, pushes them again, and finds that record (by its natural key,
or by its external id) instead of making a second one.

The last test runs the hub's pull of partners between the kill and the
retried push: the partner, not yet stamped, must be bound to the supplier the
push was for (by the name the push matches on), not pulled as a second
supplier that the retried push would then create again.

The kill is in our own process, so the tests need none of the double's
faults and run against a real Odoo too (TIELINE_TEST_ODOO_URL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from tieline.connectors.odoo import Limits, OdooClient, OdooSync
from tieline.connectors.odoo._schema import odoo_bindings
from tieline.connectors.odoo.consumers import PATTERNS, consumer_name
from tieline.connectors.odoo.runtime import OdooConfig, OdooRuntime
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store
from tieline.store._schema import dead_letters
from tieline.testing.waiting import outstanding, wait_for

from .chain import Chain, build_chain
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo

WORKER = Path(__file__).with_name("push_worker.py")
CONSUMER = consumer_name("main")


class Worker:
    """One push worker process and its log."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def check_alive(self, waiting_for: str) -> None:
        """Fail with the worker's log if it ended by itself."""
        if self.process.poll() is not None:
            pytest.fail(
                f"the push worker exited ({self.process.returncode}) while the "
                f"test waited for {waiting_for}:\n{self.log.read_text()}"
            )

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def _worker(odoo: OdooTarget, store: Store, log: Path, *stall: str) -> Iterator[Worker]:
    """Start a push worker (stalling after a create of `stall`, if given);
    SIGKILL it on the way out, whatever happened."""
    env = {**os.environ, "PUSH_WORKER_ODOO_SECRET": odoo.secret}
    if odoo.double is not None:
        env["PUSH_WORKER_UNTHROTTLED"] = "1"
    database = store.engine.url.render_as_string(hide_password=False)
    args = [database, odoo.url, odoo.database, odoo.login, *stall]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    worker = Worker(process, log)
    try:
        yield worker
    finally:
        worker.kill()


def _stalled(worker: Worker, marker: Path) -> bool:
    worker.check_alive("its stall after the create")
    return marker.exists() and marker.read_text() != ""


def _settled(worker: Worker, store: Store) -> bool:
    worker.check_alive("every push event to be settled")
    return outstanding(store, CONSUMER, PATTERNS) == 0


# What a push made, per Odoo model: how to find it in Odoo by its natural key
# (names carry the run tag) and the canonical record its binding stands for.
def _domain(model: str, chain: Chain, invoice: SupplierInvoice) -> list[Any]:
    return {
        "res.partner": [("name", "=", chain.supplier.legal_name)],
        "purchase.order": [("origin", "=", chain.commitment.number)],
        "account.move": [("ref", "=", invoice.supplier_reference)],
    }[model]


def _canonical_id(model: str, chain: Chain, invoice: SupplierInvoice) -> str:
    return str(
        {
            "res.partner": chain.supplier.id,
            "purchase.order": chain.commitment.id,
            "account.move": invoice.id,
        }[model]
    )


def _odoo_count(client: OdooClient, model: str, domain: list[Any]) -> int:
    count: int = client.call(
        model, "search_count", domain=domain, context={"active_test": False}
    )
    return count


def _bindings(store: Store, model: str) -> list[tuple[str, int]]:
    """The live bindings of `model` on instance main: (canonical id, Odoo id)."""
    with store.read() as tx:
        rows = tx.connection.execute(
            select(odoo_bindings.c.canonical_id, odoo_bindings.c.odoo_id).where(
                odoo_bindings.c.instance == "main",
                odoo_bindings.c.model == model,
                odoo_bindings.c.deleted_at.is_(None),
            )
        )
        return [(str(r.canonical_id), int(r.odoo_id)) for r in rows]


def _dead_letters(store: Store) -> int:
    with store.read() as tx:
        return int(
            tx.connection.execute(
                select(func.count()).select_from(dead_letters)
            ).scalar_one()
        )


def _given_a_chain(
    odoo: OdooTarget, store: Store, client: OdooClient, model: str
) -> tuple[Chain, SupplierInvoice]:
    """An approved commitment and an approved invoice, saved (their events
    wait in the outbox); for a bill, the order is in Odoo already."""
    sync = OdooSync(client, instance="main")
    chain = build_chain(store, client, sync, odoo.tag)
    invoice = chain.invoice(f"INV-{odoo.tag}")
    if model == "account.move":
        with store.transaction() as tx:
            sync.push_commitment(tx, chain.commitment)
        with store.transaction() as tx:
            tx.save(invoice, actor="test")
    return chain, invoice


MODELS = [
    pytest.param("res.partner", id="partner"),
    pytest.param("purchase.order", id="order"),
    pytest.param("account.move", id="bill"),
]
STALLS = [
    pytest.param("create", id="after-create"),
    pytest.param("bind", id="after-bind"),
]


def _kill_mid_push(
    odoo: OdooTarget, store: Store, log: Path, stall_at: str, model: str
) -> int:
    """Run a push worker until it stalls at `stall_at` on `model`, then SIGKILL
    it there; returns the Odoo id of the record it was writing."""
    marker = log.with_name(f"stalled-{stall_at}")
    with _worker(odoo, store, log, stall_at, model, str(marker)) as first:
        wait_for(lambda: _stalled(first, marker), f"a push to stall at {stall_at}")
        first.kill()
    return int(marker.read_text())


def _restart(odoo: OdooTarget, store: Store, log: Path) -> None:
    """Run a fresh push worker until every push event is settled."""
    with _worker(odoo, store, log) as second:
        wait_for(
            lambda: _settled(second, store),
            "every push event settled",
            progress=lambda: outstanding(store, CONSUMER, PATTERNS),
        )


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stall_at", STALLS)
def test_a_worker_killed_between_odoos_create_and_the_binding_commit_leaves_one_record(
    odoo: OdooTarget, store: Store, model: str, stall_at: str, tmp_path: Path
) -> None:
    log = tmp_path / "push-workers.log"
    with odoo.client() as client:
        chain, invoice = _given_a_chain(odoo, store, client, model)
        domain = _domain(model, chain, invoice)

        # Given a push worker killed after Odoo answered its create, before
        # the binding committed
        created = _kill_mid_push(odoo, store, log, stall_at, model)
        # (Odoo holds the record; the store holds no binding for it)
        assert _odoo_count(client, model, domain) == 1
        assert _bindings(store, model) == []

        # When a fresh worker starts and takes over the dead one's events
        _restart(odoo, store, log)

        # Then Odoo still holds exactly one record, the one the killed
        # worker made, and the store binds it once, nothing dead-lettered
        assert _odoo_count(client, model, domain) == 1, log.read_text()
        canonical = _canonical_id(model, chain, invoice)
        assert _bindings(store, model) == [(canonical, created)], log.read_text()
        assert _dead_letters(store) == 0, log.read_text()


def test_a_pull_between_the_kill_and_the_restart_leaves_one_partner(
    odoo: OdooTarget, store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "push-workers.log"
    with odoo.client() as client:
        chain, invoice = _given_a_chain(odoo, store, client, "res.partner")
        domain = _domain("res.partner", chain, invoice)

        # Given a push worker killed right after Odoo created the partner,
        # before tieline stamped its external id on it
        _kill_mid_push(odoo, store, log, "create", "res.partner")

        # and the hub's periodic pull running before the pushes resume (at a
        # restart it runs at once when its interval has passed, and the dead
        # worker's events wait for its lease to run out; an Odoo webhook on
        # res.partner reads the partner the same way)
        runtime = OdooRuntime(
            OdooConfig(
                url=odoo.url,
                database=odoo.database,
                login=odoo.login,
                secret=SecretStr(odoo.secret),
                limits=Limits(calls_per_second=1000, timeout=10)
                if odoo.double is not None
                else Limits(),
            )
        )
        try:
            runtime.pull(store)
        finally:
            runtime.close()

        # When a fresh worker takes over the dead one's events
        _restart(odoo, store, log)

        # Then Odoo holds one partner for the supplier
        assert _odoo_count(client, "res.partner", domain) == 1, log.read_text()
