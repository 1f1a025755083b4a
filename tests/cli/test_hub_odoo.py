"""`tieline serve`'s hub, assembled from its settings, working with Odoo.

Each test runs the hub's worker side (`running_hub`: the backbone's workers,
the Odoo push consumer or the workflows, the webhook processor, the periodic
jobs in their threads) against the Odoo under test: the double as 17 and 19,
or a real Odoo when TIELINE_TEST_ODOO_URL is set (see
tests/connectors/odoo/conftest.py). The hub finds its Odoo, company and
secret through the settings exactly as `tieline serve` does; the tests look
at Odoo only through the client, as any Odoo user would. The store is the
embedded SQLite one: the backbone's tests cover PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tieline.api import create_app
from tieline.cli._hub import running_hub, webhook_token
from tieline.connectors.odoo import OdooClient
from tieline.events import registry
from tieline.events.deadletters import DeadLetterFilter, list_dead_letters
from tieline.events.jobs import job_states
from tieline.model import (
    Commitment,
    CommitmentStatus,
    InvoiceStatus,
    Payment,
    Supplier,
    SupplierInvoice,
)
from tieline.settings import Settings
from tieline.store import Store
from tieline.store._schema import inbox, outbox
from tieline.testing.odoo_double import OdooDouble
from tieline.testing.waiting import wait_for
from tieline.workflows import list_exceptions
from tieline.workflows.people import approve

from ..connectors.odoo.chain import build_chain, user_company
from ..connectors.odoo.conftest import OdooTarget, double, odoo  # noqa: F401
from ..workflows.conftest import POLICY, build_estate
from ..workflows.helpers import award, invoice, receipt

pytestmark = pytest.mark.odoo

D = Decimal


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An embedded store for the hub."""
    opened = Store(f"sqlite:///{tmp_path / 'tieline.db'}")
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    """Whatever a hub registers is gone after the test."""
    before = registry.registered()
    yield
    registry.reset()
    for consumer in before.values():
        registry.register(consumer)


def hub_settings(tmp_path: Path, odoo: OdooTarget, **extra: Any) -> Settings:  # noqa: F811
    """Settings naming the Odoo under test, its secret in the secrets folder."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "odoo_api_key").write_text(odoo.secret + "\n")
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "secrets_dir": secrets,
        "odoo_url": odoo.url,
        "odoo_db": odoo.database,
        "odoo_login": odoo.login,
        "odoo_calls_per_second": 1000,
        "odoo_webhook_delay": 0.05,
        "odoo_pull_interval": 3600,
        "odoo_payment_interval": 3600,
        **extra,
    }
    (tmp_path / "var").mkdir(exist_ok=True)
    return Settings(**values)


def _until(what: str, check: Callable[[], object]) -> Any:
    """Wait until `check()` returns something truthy; return it."""
    found: list[object] = []

    def done() -> bool:
        value = check()
        if value:
            found.append(value)
        return bool(value)

    wait_for(done, what, poll=0.1)
    return found[0]


def _orders(client: OdooClient, number: str) -> list[dict[str, Any]]:
    return client.search_read(
        "purchase.order", [("origin", "=", number)], ["name", "state", "order_line"]
    )


def _bills(client: OdooClient, reference: str) -> list[dict[str, Any]]:
    return client.search_read(
        "account.move",
        [("ref", "=", reference), ("move_type", "=", "in_invoice")],
        ["name", "state", "payment_state", "amount_total"],
    )


def _invoice(store: Store, invoice_id: str) -> SupplierInvoice:
    with store.transaction() as tx:
        found = tx.get(SupplierInvoice, invoice_id)
    assert found is not None
    return found


def _pay(client: OdooClient, bill_id: int, on: date) -> None:
    """What an accountant does in Odoo: Register Payment on the bill, in full."""
    context = {"active_model": "account.move", "active_ids": [bill_id]}
    wizard = client.create(
        "account.payment.register", {"payment_date": on.isoformat()}, context=context
    )
    client.call(
        "account.payment.register", "action_create_payments", [wizard], context=context
    )


def _payments(store: Store, invoice_id: str) -> list[Payment]:
    with store.transaction() as tx:
        return [
            p
            for p in tx.list(Payment)
            if any(a.invoice_id == invoice_id for a in p.allocations)
        ]


def _approve(store: Store, commitment: Commitment) -> None:
    with store.transaction() as tx:
        tx.save(
            commitment.model_copy(update={"status": CommitmentStatus.APPROVED}),
            actor="buyer",
        )


def test_approved_documents_reach_odoo_and_a_payment_there_closes_the_invoice(
    odoo: OdooTarget,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    with odoo.client() as client:
        company, _ = user_company(client)
        # Given a draft order in tieline, its legal entity mapped in the settings
        chain = build_chain(
            store, client, None, odoo.tag, status=CommitmentStatus.DRAFT
        )
        settings = hub_settings(
            tmp_path,
            odoo,
            odoo_companies=f"{chain.entity.code}={company}",
            odoo_payment_interval=0.2,
        )
        with running_hub(settings, {"worker"}, store=store, job_tick=0.05) as hub:
            assert hub.assembly.consumers == ["odoo-main"]
            assert hub.assembly.health()["odoo"]["status"] == "ok"

            # When the buyer approves it in tieline
            _approve(store, chain.commitment)

            # Then it appears in Odoo as one confirmed purchase order
            (order,) = _until(
                "the order in Odoo",
                lambda: _orders(client, chain.commitment.number),
            )
            _until(
                "the order confirmed",
                lambda: (
                    _orders(client, chain.commitment.number)[0]["state"] == "purchase"
                ),
            )

            # When the goods arrive and the approved invoice comes in
            with store.transaction() as tx:
                tx.save(
                    chain.receipt("GR-1", {"1": "10", "2": "5"}, final=True),
                    actor="site",
                )
                tx.save(chain.invoice(f"INV-{odoo.tag}"), actor="finance")
            invoice_id = chain.invoice(f"INV-{odoo.tag}").id
            _until(
                "the bill posted",
                lambda: _invoice(store, invoice_id).status is InvoiceStatus.POSTED,
            )
            (bill,) = _bills(client, f"INV-{odoo.tag}")
            assert bill["state"] == "posted"

            # And the accountant pays the bill in Odoo
            _pay(client, bill["id"], date(2026, 12, 20))

            # Then the payment comes back and closes the invoice
            _until(
                "the invoice paid",
                lambda: _invoice(store, invoice_id).status is InvoiceStatus.PAID,
            )
        (payment,) = _payments(store, invoice_id)
        assert (payment.amount, payment.currency) == (
            D("1395.00"),
            chain.commitment.currency,
        )
        assert [o["name"] for o in _orders(client, chain.commitment.number)] == [
            order["name"]
        ]
        assert len(_bills(client, f"INV-{odoo.tag}")) == 1
        assert list_dead_letters(store, DeadLetterFilter()) == []
        states = {s.name: s for s in job_states(store)}
        assert states["odoo-payments-main"].last_outcome == "ok"
        assert states["odoo-payments-main"].last_correlation_id


def test_with_a_policy_the_workflows_push_to_odoo_and_payment_closes_the_loop(
    odoo: OdooTarget,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    with odoo.client() as client:
        company, currency = user_company(client)
        flow = build_estate(
            store, supplier_name=f"Cascade Concrete {odoo.tag}", currency=currency
        )
        settings = hub_settings(
            tmp_path,
            odoo,
            odoo_companies=f"{flow.entity.code}={company}",
            odoo_payment_interval=0.2,
            sla_sweep_interval=0.2,
        )
        # A payment is due for release at once, so its SLA breaches at once
        (settings.data_dir / "workflows.toml").write_text(
            POLICY.replace(
                "requisition_approval = 24",
                "requisition_approval = 24\npayment_readiness = 0",
            )
        )
        with running_hub(settings, {"worker"}, store=store, job_tick=0.05) as hub:
            workflows = hub.assembly.hub
            assert workflows is not None
            assert "workflow-erp" in hub.assembly.consumers
            assert "odoo-main" not in hub.assembly.consumers

            # Given an order awarded in project controls, delivered in full
            number = f"PO-{odoo.tag}"
            order = award(flow, number, "10", "45.00", system="procore")
            (po,) = _until("the order in Odoo", lambda: _orders(client, number))
            flow.save(receipt(order, "GR-1", ("1", "10"), final=True))
            _until(
                "the receipt in Odoo",
                lambda: (
                    client.read(
                        "purchase.order.line", po["order_line"], ["qty_received"]
                    )[0]["qty_received"]
                    == 10
                ),
            )

            # When the supplier's invoice matches it
            bill_ref = f"INV-{odoo.tag}"
            billed = invoice(
                order,
                bill_ref,
                ("1", "10", "45.00", "450.00"),
                supplier_name=flow.supplier.legal_name,
            )
            flow.save(billed)

            # Then the policy approves it and the workflow posts it in Odoo,
            # and the release of its payment, already late, is an exception
            _until(
                "the bill posted",
                lambda: _invoice(store, billed.id).status is InvoiceStatus.POSTED,
            )
            (exception,) = _until(
                "the SLA breach",
                lambda: _exceptions(store, bill_ref),
            )
            assert exception.owner == "ctrl.cy"

            # When finance releases it and the accountant pays it in Odoo
            approve(store, workflows, bill_ref, "odoo:ffay")
            (bill,) = _bills(client, bill_ref)
            _pay(client, bill["id"], date(2026, 12, 21))

            # Then the payment comes back and the invoice is paid
            _until(
                "the invoice paid",
                lambda: _invoice(store, billed.id).status is InvoiceStatus.PAID,
            )
        (payment,) = _payments(store, billed.id)
        assert payment.amount == D("450.00")
        assert len(_orders(client, number)) == 1
        assert len(_bills(client, bill_ref)) == 1
        assert list_dead_letters(store, DeadLetterFilter()) == []


def _exceptions(store: Store, document_ref: str) -> list[Any]:
    with store.transaction() as tx:
        return [
            e for e in list_exceptions(tx.connection) if e.document_ref == document_ref
        ]


def _supplier_events(store: Store, supplier_id: str) -> list[str]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.type)
            .where(outbox.c.subject == f"supplier/{supplier_id}")
            .order_by(outbox.c.seq)
        ).all()
    return [row.type for row in rows]


def _supplier_named(store: Store, name: str) -> Supplier | None:
    with store.transaction() as tx:
        found = [s for s in tx.list(Supplier) if s.legal_name == name]
    return found[0] if found else None


def test_a_partner_changed_in_odoo_is_pulled_once(
    odoo: OdooTarget,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    with odoo.client() as client:
        settings = hub_settings(tmp_path, odoo, odoo_pull_interval=0.2)
        name = f"Alder Steel {odoo.tag}"
        partner = client.create(
            "res.partner", {"name": name, "is_company": True, "supplier_rank": 1}
        )
        with running_hub(settings, {"worker"}, store=store, job_tick=0.05):
            supplier = _until("the new partner", lambda: _supplier_named(store, name))

            # When the partner's tax id is changed in Odoo
            client.write("res.partner", [partner], {"vat": f"US{odoo.tag}"})

            # Then the next pull brings the change, and later pulls nothing more
            _until(
                "the change",
                lambda: (_supplier_named(store, name) or supplier).tax_id,
            )
            runs = _pull_runs(store)
            _until("two more pulls", lambda: _pull_runs(store) >= runs + 2)
        assert _supplier_events(store, supplier.id) == [
            "tieline.supplier.created",
            "tieline.supplier.updated",
        ]
        state = {s.name: s for s in job_states(store)}["odoo-pull-main"]
        assert state.last_outcome == "ok"
        assert state.last_summary == "suppliers changed 0, deleted 0"


def _pull_runs(store: Store) -> int:
    states = {s.name: s for s in job_states(store)}
    return states["odoo-pull-main"].runs if "odoo-pull-main" in states else 0


def test_odoos_webhook_notification_is_read_and_applied(
    odoo: OdooTarget,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    with odoo.client() as client:
        settings = hub_settings(tmp_path, odoo)
        with running_hub(settings, {"worker"}, store=store, job_tick=0.05):
            # Given the start's pull has run (the next is an hour away)
            _until("the first pull", lambda: _pull_runs(store) >= 1)
            name = f"Birch Glass {odoo.tag}"
            partner = client.create(
                "res.partner", {"name": name, "is_company": True, "supplier_rank": 1}
            )

            # When Odoo notifies the API, three identical times
            body = (
                f'{{"_action": "Send Webhook Notification(#9)", "_id": {partner}, '
                f'"_model": "res.partner", "name": "{name}"}}'
            ).encode()
            api = TestClient(create_app(store, settings=settings))
            path = f"/hooks/odoo-main/{webhook_token(settings)}"
            answers = [api.post(path, content=body).status_code for _ in range(3)]

            # Then it is accepted once, read, and applied as a new supplier
            assert answers == [202, 200, 200]
            supplier = _until("the partner", lambda: _supplier_named(store, name))
            assert api.post("/hooks/odoo-main/wrong", content=body).status_code == 401
        assert _supplier_events(store, supplier.id) == ["tieline.supplier.created"]


def test_an_odoo_down_at_start_degrades_the_hub_and_loses_no_event(
    odoo: OdooTarget,  # noqa: F811
    double: OdooDouble,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    with odoo.client() as client:
        company, _ = user_company(client)
        chain = build_chain(
            store, client, None, odoo.tag, status=CommitmentStatus.DRAFT
        )
    settings = hub_settings(
        tmp_path, odoo, odoo_companies=f"{chain.entity.code}={company}"
    )
    # Given an Odoo that does not answer when the hub starts
    double.stop()
    with running_hub(settings, {"worker"}, store=store, job_tick=0.05) as hub:
        runtime = hub.assembly.odoo
        assert runtime is not None
        api = TestClient(
            create_app(store, settings=settings, health=hub.assembly.health)
        )
        health = api.get("/health").json()
        assert health["status"] == "degraded"
        assert health["components"]["odoo"]["status"] == "unreachable"
        assert "cannot reach Odoo" in health["components"]["odoo"]["error"]

        # When an order is approved while Odoo is down
        attempts: list[str] = []
        push = runtime.sync.push_commitment

        def counted(*args: Any) -> int:
            try:
                return push(*args)
            except Exception as err:
                attempts.append(type(err).__name__)
                raise

        runtime.sync.push_commitment = counted  # type: ignore[method-assign]
        _approve(store, chain.commitment)
        approved = _last_event(store, f"commitment/{chain.commitment.id}")

        # Then the push fails, is kept and retried, not dead-lettered
        _until("a failed push", lambda: attempts)
        assert set(attempts) == {"OdooUnavailable"}
        assert list_dead_letters(store, DeadLetterFilter()) == []
        assert approved not in _handled(store, "odoo-main")

        # When Odoo is back
        double.start()

        # Then the order goes through, once, and the hub is healthy again
        with OdooClient.connect(
            odoo.url, odoo.database, odoo.login, odoo.secret
        ) as client:
            _until(
                "the order in Odoo",
                lambda: _orders(client, chain.commitment.number),
            )
            assert len(_orders(client, chain.commitment.number)) == 1
        assert api.get("/health").json()["status"] == "ok"
    assert list_dead_letters(store, DeadLetterFilter()) == []
    assert approved in _handled(store, "odoo-main")


def _last_event(store: Store, subject: str) -> str:
    with store.engine.connect() as connection:
        return str(
            connection.execute(
                select(outbox.c.event_id)
                .where(outbox.c.subject == subject)
                .order_by(outbox.c.seq.desc())
            ).first()[0]  # type: ignore[index]
        )


def _handled(store: Store, consumer: str) -> list[str]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(inbox.c.event_id).where(
                inbox.c.consumer == consumer, inbox.c.outcome == "handled"
            )
        ).all()
    return [row.event_id for row in rows]
