"""An estate, a policy, a movable clock and a driver for the workflow consumers.

`Flow` holds what a workflow test needs: the store, the hub (policies and a
clock the test moves), an ERP, and `drive()`, which runs the workflow
consumers over the SQL event log until no event is left, exactly as a worker
would (inbox, version guard and all).

Two estates: `flow` has an in-memory ERP, for tests that look at tieline
only; `odoo_flow` goes through the Odoo connector's gateway to the Odoo
under test (the double as 17 and 19, or a real Odoo when
TIELINE_TEST_ODOO_URL is set), for tests that check what lands in Odoo. Its
supplier's name carries the run's tag, so orders and bills of earlier runs
on a real Odoo are never found as this run's; its currency is the Odoo
company's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tieline.connectors.odoo import OdooClient, OdooErp, OdooSync
from tieline.demo import import_estate
from tieline.events import Consumer, ConsumerWorker, SqlLogBus
from tieline.model import (
    CanonicalRecord,
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    LegalEntity,
    Origin,
    Project,
    Requisition,
    RequisitionLine,
    Supplier,
)
from tieline.store import Store
from tieline.store._schema import dead_letters, inbox
from tieline.testing.waiting import outstanding, wait_for
from tieline.workflows import (
    ErpGateway,
    Hub,
    InMemoryErp,
    parse_policies,
    workflow_consumers,
)

from ..connectors.odoo.conftest import OdooTarget, odoo  # noqa: F401

D = Decimal
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

POLICY = """
[[identity]]
id = "site.sam"
logins = { procore = "sam@site.example", odoo = "ssam" }
[[identity]]
id = "pm.pat"
logins = { odoo = "ppat", procore = "pat@site.example" }
[[identity]]
id = "fin.fay"
logins = { odoo = "ffay" }
[[identity]]
id = "dir.dan"
logins = { odoo = "ddan" }
[[identity]]
id = "ctrl.cy"
logins = { odoo = "ccy" }
[[identity]]
id = "del.dee"
logins = { odoo = "ddee" }
[[identity]]
id = "svc.procore"
kind = "service"
logins = { procore = "integration", odoo = "procore-bot" }

[[rule]]
name = "small-requisitions"
document = "requisition"
legal_entity = "ACME-US"
max_amount = "10000"
approvers = ["pm.pat"]
escalate_to = "dir.dan"
[[rule]]
name = "large-requisitions"
document = "requisition"
min_amount = "10000"
approvers = ["dir.dan"]
[[rule]]
name = "invoice-exceptions"
document = "supplier_invoice"
approvers = ["pm.pat"]
escalate_to = "dir.dan"
[[rule]]
name = "payments"
document = "payment_release"
approvers = ["fin.fay", "pm.pat"]
escalate_to = "ctrl.cy"
[[rule]]
name = "subcontract-claims"
document = "progress_claim"
contract_type = "subcontract"
approvers = ["pm.pat"]
[[rule]]
name = "retention"
document = "retention_release"
approvers = ["fin.fay"]
[[rule]]
name = "changes"
document = "budget_revision"
approvers = ["dir.dan"]
[[rule]]
name = "change-orders"
document = "change_order"
approvers = ["dir.dan"]
[[rule]]
name = "closeout"
document = "project_closeout"
approvers = ["dir.dan"]

[[delegation]]
person = "dir.dan"
delegate = "del.dee"
starts = 2026-06-01
ends = 2026-06-30

[tolerance.default]
quantity_percent = "0"
price_percent = "2"

[sla]
requisition_approval = 24

[exceptions]
default_owner = "ctrl.cy"
"""


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


def origin(key: str, system: str = "procore") -> Origin:
    """An origin in a project-controls system."""
    return Origin(system=system, key=key)


@dataclass
class Flow:
    """The store, hub, ERP and estate of one workflow test."""

    store: Store
    clock: Clock
    erp: ErpGateway
    entity: LegalEntity
    project: Project
    supplier: Supplier
    currency: str = "USD"
    policy: str = POLICY
    hub: Hub = field(init=False)

    def __post_init__(self) -> None:
        self.hub = Hub(parse_policies(self.policy), clock=self.clock)

    def save(self, *records: CanonicalRecord, actor: str = "import:test") -> None:
        """Save records as an import would."""
        with self.store.transaction() as tx:
            for record in records:
                tx.save(record, actor=actor)

    @property
    def memory(self) -> InMemoryErp:
        """The in-memory ERP (tests of `flow`, not `odoo_flow`)."""
        assert isinstance(self.erp, InMemoryErp)
        return self.erp

    def drive(self) -> int:
        """Run the workflow consumers until each has every event it wants.

        On PostgreSQL the SQL log holds back events newer than the oldest
        running transaction of the whole server (another database's included),
        so an empty fetch does not mean "done": the loop waits until every
        matching outbox event is in the consumer's inbox or dead letters.
        """
        # A short lease: each drive is a new worker (as after a restart), and
        # must not wait for the previous one's lease to run out.
        bus = SqlLogBus(self.store, lease_seconds=0.01, poll_interval=0.01)
        consumers = workflow_consumers(lambda: self.hub, self.erp)
        worker = ConsumerWorker(self.store, bus, consumers, fetch_timeout=0.05)
        stop = threading.Event()
        total = 0

        def caught_up() -> bool:
            nonlocal total
            total += sum(
                worker.poll(consumer, feed, stop)
                for consumer in consumers
                for feed in bus.feeds(consumer.subscription)
            )
            return all(_caught_up(self.store, c) for c in consumers)

        try:
            # Gives up only when no event was finished for a minute.
            wait_for(
                caught_up,
                "the workflow consumers catching up",
                progress=lambda: _finished(self.store),
                poll=0.0,
            )
        finally:
            worker.close()
        return total

    def requisition(
        self, number: str, *lines: tuple[str, str, str, str]
    ) -> Requisition:
        """A requisition site.sam sent from Procore: (key, code, qty, price)."""
        return Requisition(
            origin=origin(number),
            number=number,
            legal_entity_id=self.entity.id,
            project_id=self.project.id,
            supplier_id=self.supplier.id,
            requested_by="sam@site.example",
            currency=self.currency,
            lines=[
                RequisitionLine(
                    line_key=key,
                    cost_code=code,
                    quantity=D(qty),
                    unit_price=D(price),
                    amount=D(qty) * D(price),
                )
                for key, code, qty, price in lines
            ],
        )

    def subcontract(
        self,
        number: str,
        *lines: tuple[str, str, str],
        cap: str | None = None,
        system: str = "odoo",
    ) -> Commitment:
        """An approved subcontract with 5 % retention: (key, code, amount).

        From Odoo by default; awarded in another `system`, the workflows push
        it to the ERP.
        """
        return Commitment(
            origin=origin(number, system),
            number=number,
            commitment_type=CommitmentType.SUBCONTRACT,
            legal_entity_id=self.entity.id,
            project_id=self.project.id,
            supplier_id=self.supplier.id,
            currency=self.currency,
            status=CommitmentStatus.APPROVED,
            retention_percent=D(5),
            retention_cap=None if cap is None else D(cap),
            lines=[
                CommitmentLine(
                    line_key=key,
                    project_id=self.project.id,
                    cost_code=code,
                    amount=D(amount),
                )
                for key, code, amount in lines
            ],
        )


def _finished(store: Store) -> int:
    """How many events the consumers have handled or dead-lettered."""
    with store.engine.connect() as connection:
        return sum(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (inbox, dead_letters)
        )


def _caught_up(store: Store, consumer: Consumer) -> bool:
    return not outstanding(store, consumer.name, consumer.patterns)


@pytest.fixture
def flow(store: Store) -> Flow:
    """A store holding one legal entity, one project and one supplier."""
    return build_estate(store)


COST_CODES = {
    "03 20 00": "Concrete reinforcing",
    "03 30 00": "Cast-in-place concrete",
    "05 12 00": "Structural steel framing",
    "27 15 00": "Communications horizontal cabling",
}


def build_estate(
    store: Store,
    erp: ErpGateway | None = None,
    *,
    supplier_name: str = "Cascade Concrete LLC",
    currency: str = "USD",
) -> Flow:
    """Save the estate in `store`; the flow to drive it."""
    entity = LegalEntity(
        origin=origin("ACME-US", "odoo"),
        code="ACME-US",
        name="Acme Build Inc",
        base_currency=currency,
    )
    project = Project(
        origin=origin("P-1"),
        code="P-1",
        name="Riverside Depot",
        legal_entity_id=entity.id,
        currency=currency,
        cost_code_system="masterformat",
        start_date=date(2026, 1, 5),
    )
    supplier = Supplier(origin=origin("S-1", "odoo"), legal_name=supplier_name)
    codes = [
        CostCode(
            origin=origin(f"masterformat:{code}"),
            system="masterformat",
            code=code,
            name=name,
        )
        for code, name in COST_CODES.items()
    ]
    built = Flow(
        store, Clock(), erp or InMemoryErp(), entity, project, supplier, currency
    )
    built.save(entity, project, supplier, *codes)
    return built


@dataclass
class OdooFlow(Flow):
    """A flow whose ERP is the Odoo under test, with a client to look at it."""

    client: OdooClient | None = None
    tag: str = ""

    @property
    def odoo(self) -> OdooClient:
        """The client the test reads Odoo with."""
        assert self.client is not None
        return self.client


@pytest.fixture
def odoo_flow(store: Store, odoo: OdooTarget) -> Iterator[OdooFlow]:  # noqa: F811
    """The estate on the Odoo under test, its legal entity bound to the
    test user's company and costed in that company's currency."""
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        (user,) = client.read("res.users", [client.uid], ["company_id"])
        company = user["company_id"][0]
        (row,) = client.read("res.company", [company], ["currency_id"])
        built = build_estate(
            store,
            OdooErp(sync),
            supplier_name=f"Cascade Concrete {odoo.tag}",
            currency=row["currency_id"][1],
        )
        with store.transaction() as tx:
            sync.bind_legal_entity(tx, built.entity, company)
        yield OdooFlow(
            store,
            built.clock,
            built.erp,
            built.entity,
            built.project,
            built.supplier,
            built.currency,
            client=client,
            tag=odoo.tag,
        )


def build_example_estate(
    store: Store,
    runs_dir: Path,
    policy: str,
    erp: ErpGateway | None = None,
    *,
    entity: str = "LCL",
    project: str = "RIV",
    supplier_tax_id: str = "GB274553190",
) -> Flow:
    """Import the shipped example estate as `tieline demo` does; its flow.

    The flow's legal entity, project and supplier are the estate's records
    named by code (Larkfield Construction Ltd, Riverside, Castlegate
    Concrete by default), costed in the project's currency.
    """
    import_estate(store, runs_dir=runs_dir)
    with store.transaction() as tx:
        (found_entity,) = [e for e in tx.list(LegalEntity) if e.code == entity]
        (found_project,) = [p for p in tx.list(Project) if p.code == project]
        (found_supplier,) = [
            s for s in tx.list(Supplier) if s.tax_id == supplier_tax_id
        ]
    return Flow(
        store,
        Clock(),
        erp or InMemoryErp(),
        found_entity,
        found_project,
        found_supplier,
        found_project.currency,
        policy,
    )


# The VAT rates on the estate's UBL files per legal entity: the standard
# rate, and 0 for the reverse-charged subcontract valuations.
ESTATE_VAT = {"LCL": (20, 0), "LCI": (23, 0)}


def estate_company(client: OdooClient, entity: LegalEntity, tag: str) -> int:
    """A company in Odoo for an estate's legal entity, in its currency.

    Made over RPC, it has no chart of accounts; it gets the purchase and bank
    journals and the purchase VAT a bill and its payment need. Its currency is
    activated first (a new database keeps EUR and GBP inactive).
    """
    (currency,) = client.search(
        "res.currency",
        [("name", "=", entity.base_currency)],
        context={"active_test": False},
    )
    client.write("res.currency", [currency], {"active": True})
    company = client.create(
        "res.company", {"name": f"{entity.name} {tag}", "currency_id": currency}
    )
    for kind, suffix in (("purchase", "B"), ("bank", "K")):
        client.create(
            "account.journal",
            {
                "name": f"{kind} {entity.code}",
                "code": entity.code + suffix,
                "type": kind,
            },
            context={"allowed_company_ids": [company]},
        )
    for rate in ESTATE_VAT[entity.code]:
        client.create(
            "account.tax",
            {
                "name": f"VAT {rate}% {entity.code}",
                "amount": rate,
                "amount_type": "percent",
                "type_tax_use": "purchase",
                "company_id": company,
            },
        )
    return company


def build_example_estate_in_odoo(
    store: Store,
    runs_dir: Path,
    policy: str,
    target: OdooTarget,
    client: OdooClient,
) -> OdooFlow:
    """The example estate on the Odoo under test, each legal entity bound to a
    company of its own currency; the flow's supplier is the estate's."""
    # The estate's orders share suppliers, products and companies, so the
    # workers' lanes wait on each other's binding rows (`_locks.push_lock`);
    # a short wait keeps the test quick, the retry finds the other's row.
    sync = OdooSync(client, instance="main", lock_wait=0.2)
    built = build_example_estate(store, runs_dir, policy, OdooErp(sync))
    with store.transaction() as tx:
        for entity in tx.list(LegalEntity):
            sync.bind_legal_entity(
                tx, entity, estate_company(client, entity, target.tag)
            )
    return OdooFlow(
        store,
        built.clock,
        built.erp,
        built.entity,
        built.project,
        built.supplier,
        built.currency,
        policy,
        client=client,
        tag=target.tag,
    )
