"""SLA timers, the exception queue, and workflows surviving a restart."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tieline.errors import ConfigurationError
from tieline.store import Store
from tieline.store._schema import outbox
from tieline.workflows import (
    assign_exception,
    comment_exception,
    list_exceptions,
    parse_policies,
    resolve_exception,
    sweep,
)
from tieline.workflows._consumers import erp_handler
from tieline.workflows._sla import ExceptionClosed, get_exception
from tieline.workflows.people import approve, history, tasks_for

from . import odoo_view
from .conftest import POLICY, START, Flow, OdooFlow
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

    # When the exception is handed on and commented, and then the late
    # step is done
    with flow.store.transaction() as tx:
        assign_exception(tx, flow.hub, opened.id, "ctrl.cy", by="dir.dan")
        comment_exception(tx, flow.hub, opened.id, "ctrl.cy", "chased pm.pat")
    approve(flow.store, flow.hub, "REQ-1", "odoo:ddan", "approved on escalation")

    # Then nothing is late any more: it is resolved with every note kept, and
    # is no longer anyone's task
    with flow.store.transaction() as tx:
        assert list_exceptions(tx.connection) == []
        resolved = get_exception(tx.connection, opened.id)
        with pytest.raises(ExceptionClosed):
            resolve_exception(tx, flow.hub, opened.id, by="ctrl.cy", note="done")
    assert (resolved.status, resolved.owner, resolved.resolved_by) == (
        "resolved",
        "ctrl.cy",
        "dir.dan",
    )
    assert resolved.notes == (
        "dir.dan: assigned to ctrl.cy",
        "ctrl.cy: chased pm.pat",
        "dir.dan: REQ-1 moved on from submitted to approved, by dir.dan "
        "(person, via odoo:ddan)",
    )
    assert tasks_for(flow.store, flow.hub, "ctrl.cy") == []


def test_a_breach_is_resolved_once_an_automatic_step_moves_on(flow: Flow) -> None:
    # Given an order whose push to the ERP is late
    flow.save(flow.requisition("REQ-4", ("1", "03 30 00", "10", "45.00")))
    flow.drive()
    approve(flow.store, flow.hub, "REQ-4", "odoo:ppat")
    flow.clock.advance(hours=25)
    (late,) = sweep(flow.store, flow.hub)
    assert late.reason.startswith("order_dispatch of PO-REQ-4 was due")

    # When the ERP confirms it
    flow.drive()

    # Then the exception is resolved by the ERP's step
    with flow.store.transaction() as tx:
        assert list_exceptions(tx.connection) == []
        done = get_exception(tx.connection, late.id)
    assert done.resolved_by == "system:push_purchase_order"


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


def test_sla_hours_are_whole_hours_or_refused_with_a_sentence() -> None:
    shown = {"0.01": "0.01", "-1": "-1", '"48"': "'48'"}
    for value, as_read in shown.items():
        text = POLICY.replace(
            "requisition_approval = 24", f"requisition_approval = {value}"
        )
        with pytest.raises(ConfigurationError) as refused:
            parse_policies(text, source="workflows.toml")
        assert str(refused.value) == (
            f"workflows.toml: sla.requisition_approval = {as_read}: give the "
            "target as a whole number of hours, 0 or more (e.g. "
            "requisition_approval = 48)"
        )
