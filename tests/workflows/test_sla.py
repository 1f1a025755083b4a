"""SLA timers, the exception queue, and workflows surviving a restart."""

from __future__ import annotations

import json
from datetime import timedelta

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
from tieline.workflows.people import approve, tasks_for

from .conftest import START, Flow


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


def test_timers_and_workflows_survive_a_restart(flow: Flow) -> None:
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
    flow.drive()
    assert flow.erp.calls == ["push_purchase_order PO-REQ-2"]

    # And a restart between approval and push loses nothing, repeats nothing
    flow.store.close()
    flow.store = Store(url)
    flow.drive()
    assert flow.erp.calls == ["push_purchase_order PO-REQ-2"]
    flow.store.close()


def test_a_step_that_moved_on_does_not_breach(flow: Flow) -> None:
    flow.save(flow.requisition("REQ-3", ("1", "03 30 00", "10", "45.00")))
    flow.drive()
    approve(flow.store, flow.hub, "REQ-3", "odoo:ppat")
    flow.clock.advance(hours=23)
    flow.drive()  # pushed: the order's dispatch timer stops
    flow.clock.advance(days=30)
    assert sweep(flow.store, flow.hub) == []
