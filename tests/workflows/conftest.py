"""An estate, a policy, a movable clock and a driver for the workflow consumers.

`Flow` holds what a workflow test needs: the store, the hub (policies and a
clock the test moves), an in-memory ERP, and `drive()`, which runs the
workflow consumers over the SQL event log until no event is left, exactly as
a worker would (inbox, version guard and all).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tieline.events import Consumer, ConsumerWorker, SqlLogBus
from tieline.events._log import matches
from tieline.model import (
    CanonicalRecord,
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    LegalEntity,
    Origin,
    Project,
    Requisition,
    RequisitionLine,
    Supplier,
)
from tieline.store import Store
from tieline.store._schema import dead_letters, inbox, outbox
from tieline.workflows import Hub, InMemoryErp, parse_policies, workflow_consumers

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
    erp: InMemoryErp
    entity: LegalEntity
    project: Project
    supplier: Supplier
    hub: Hub = field(init=False)

    def __post_init__(self) -> None:
        self.hub = Hub(parse_policies(POLICY), clock=self.clock)

    def save(self, *records: CanonicalRecord, actor: str = "import:test") -> None:
        """Save records as an import would."""
        with self.store.transaction() as tx:
            for record in records:
                tx.save(record, actor=actor)

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
        deadline = time.monotonic() + 30
        total = 0
        try:
            while time.monotonic() < deadline:
                total += sum(
                    worker.poll(consumer, feed, stop)
                    for consumer in consumers
                    for feed in bus.feeds(consumer.subscription)
                )
                if all(_caught_up(self.store, c) for c in consumers):
                    return total
            raise AssertionError("the workflow consumers did not catch up in 30 s")
        finally:
            worker.close()

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
            currency="USD",
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
        self, number: str, *lines: tuple[str, str, str], cap: str | None = None
    ) -> Commitment:
        """An approved subcontract with 5 % retention: (key, code, amount)."""
        return Commitment(
            origin=origin(number, "odoo"),
            number=number,
            commitment_type=CommitmentType.SUBCONTRACT,
            legal_entity_id=self.entity.id,
            project_id=self.project.id,
            supplier_id=self.supplier.id,
            currency="USD",
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


def _caught_up(store: Store, consumer: Consumer) -> bool:
    with store.engine.connect() as connection:
        wanted = {
            row.event_id
            for row in connection.execute(select(outbox.c.event_id, outbox.c.type))
            if matches(row.type, consumer.patterns)
        }
        done = {
            row.event_id
            for table in (inbox, dead_letters)
            for row in connection.execute(
                select(table.c.event_id).where(table.c.consumer == consumer.name)
            )
        }
    return wanted <= done


@pytest.fixture
def flow(store: Store) -> Flow:
    """A store holding one legal entity, one project and one supplier."""
    return build_estate(store)


def build_estate(store: Store) -> Flow:
    """Save the estate in `store`; the flow to drive it."""
    entity = LegalEntity(
        origin=origin("ACME-US", "odoo"),
        code="ACME-US",
        name="Acme Build Inc",
        base_currency="USD",
    )
    project = Project(
        origin=origin("P-1"),
        code="P-1",
        name="Riverside Depot",
        legal_entity_id=entity.id,
        currency="USD",
        cost_code_system="masterformat",
        start_date=date(2026, 1, 5),
    )
    supplier = Supplier(origin=origin("S-1", "odoo"), legal_name="Cascade Concrete LLC")
    built = Flow(store, Clock(), InMemoryErp(), entity, project, supplier)
    built.save(entity, project, supplier)
    return built
