"""SLA timers, the exception queue, and workflows surviving a restart."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tieline.store import Store
from tieline.store._schema import outbox
from tieline.workflows import (
    assign_exception,
    comment_exception,
    list_exceptions,
    resolve_exception,
    sweep,
)
from tieline.workflows._consumers import erp_handler
from tieline.workflows.people import approve, history, tasks_for

from . import odoo_view
from .conftest import START, Flow, OdooFlow
from .test_procure_to_pay import state_of


def _event(store: Store, event_type: str) -> dict[str, object]:
    with store.engine.connect() as connection:
        (row,) = connection.execute(
            select(outbox.c.envelope).where(outbox.c.type == event_type)
        )
    event: dict[str, object] = json.loads(row.envelope)
    return event


def _breach_events(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.envelope).where(
                outbox.c.type == "tieline.workflow.sla_breached"
            )
        )
        return [json.loads(row.envelope)["data"] for row in rows]


def test_a_late_approval_raises_an_event_and_an_owned_exception(flow: Flow) -> None:
    # Given a requisition whose approval is due in 24 hours
    flow.save(flow.requisition("REQ-1", ("1", "03 30 00", "10", "45.00")))
    flow.drive()

    # When 23 hours pass nothing breaks; at 25 hours the step is late
    flow.clock.advance(hours=23)
    assert sweep(flow.store, flow.hub) == []
    flow.clock.advance(hours=2)
    (opened,) = sweep(flow.store, flow.hub)

    # Then the rule's escalation owner has the exception and may now decide
    due = (START + timedelta(hours=24)).isoformat()
    assert (opened.owner, opened.reason) == (
        "dir.dan",
        f"requisition_approval of REQ-1 was due {due} and is still submitted",
    )
    assert _breach_events(flow.store) == [
        {
            "workflow": "requisition",
            "document_ref": "REQ-1",
            "step": "requisition_approval",
            "state": "submitted",
            "due_at": due,
            "owner": "dir.dan",
            "exception_id": opened.id,
        }
    ]
    assert sorted(t.workflow for t in tasks_for(flow.store, flow.hub, "dir.dan")) == [
        "exception",
        "requisition",
    ]
    # A timer fires once
    assert sweep(flow.store, flow.hub) == []

    # When the exception is handed on, commented and resolved
    with flow.store.transaction() as tx:
        assign_exception(tx, flow.hub, opened.id, "ctrl.cy", by="dir.dan")
        comment_exception(tx, flow.hub, opened.id, "ctrl.cy", "chased pm.pat")
    approve(flow.store, flow.hub, "REQ-1", "odoo:ddan", "approved on escalation")
    with flow.store.transaction() as tx:
        resolved = resolve_exception(
            tx, flow.hub, opened.id, by="ctrl.cy", note="approved"
        )
        assert list_exceptions(tx.connection) == []

    # Then it is closed with every note kept
    assert (resolved.status, resolved.owner) == ("resolved", "ctrl.cy")
    assert resolved.notes == (
        "dir.dan: assigned to ctrl.cy",
        "ctrl.cy: chased pm.pat",
        "ctrl.cy: approved",
    )


@pytest.mark.odoo
def test_timers_and_workflows_survive_a_restart(odoo_flow: OdooFlow) -> None:
    flow = odoo_flow
    # Given a requisition waiting for approval, and the hub stopped
    flow.save(flow.requisition("REQ-2", ("1", "03 30 00", "10", "45.00")))
    flow.drive()
    url = flow.store.url
    flow.store.close()

    # When the hub starts again on the same database, past the due time
    flow.store = Store(url)
    flow.clock.advance(hours=30)
    (opened,) = sweep(flow.store, flow.hub)

    # Then the persisted timer fired, and the workflow goes on from where it was
    assert (opened.document_ref, opened.owner) == ("REQ-2", "dir.dan")
    approve(flow.store, flow.hub, "REQ-2", "odoo:ppat")

    # And a restart between approval and push loses nothing...
    flow.store.close()
    flow.store = Store(url)
    flow.drive()
    (po,) = odoo_view.orders(flow).values()
    assert (po["origin"], po["state"]) == ("PO-REQ-2", "purchase")
    assert state_of(flow, "order", "PO-REQ-2") == "dispatched"

    # ...and after another restart, the order's event handled a second time
    # (a replay from the dead letters, a worker that crashed before its
    # inbox row committed) repeats nothing in Odoo or in the workflow
    flow.store.close()
    flow.store = Store(url)
    handle = erp_handler(lambda: flow.hub, flow.erp)
    created = _event(flow.store, "tieline.commitment.created")
    with flow.store.transaction() as tx:
        handle(tx, created)
    flow.drive()
    assert [o["origin"] for o in odoo_view.orders(flow).values()] == ["PO-REQ-2"]
    assert [h.to_state for h in history(flow.store, "PO-REQ-2")] == [
        "awaiting_dispatch",
        "dispatched",
    ]


def test_a_step_that_moved_on_does_not_breach(flow: Flow) -> None:
    flow.save(flow.requisition("REQ-3", ("1", "03 30 00", "10", "45.00")))
    flow.drive()
    approve(flow.store, flow.hub, "REQ-3", "odoo:ppat")
    flow.clock.advance(hours=23)
    flow.drive()  # pushed: the order's dispatch timer stops
    flow.clock.advance(days=30)
    assert sweep(flow.store, flow.hub) == []
