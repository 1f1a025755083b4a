"""The catalog of event types tieline emits: one place, documented.

A type reads `tieline.<kind>.<what happened>`. Every canonical kind emits
`created` and `updated`; a change of status emits the status's own type
instead of `updated` when the catalog lists it (an approved commitment emits
`tieline.commitment.approved`, not `tieline.commitment.updated`). The event's
`subject` is `<kind>/<canonical id>`, and its data is the whole record after
the change, plus `previous_status` when the status moved.
"""

from __future__ import annotations

from typing import Final

# kind -> statuses whose arrival is an event of its own.
STATUS_EVENTS: Final[dict[str, tuple[str, ...]]] = {
    "legal_entity": (),
    "project": ("active", "closed"),
    "cost_code": (),
    "cost_code_crosswalk": (),
    "budget": ("approved",),
    "budget_revision": ("submitted", "approved", "rejected"),
    "supplier": ("active", "blocked", "merged"),
    "requisition": ("submitted", "approved", "rejected", "ordered"),
    "commitment": ("approved", "closed", "cancelled"),
    "change_order": ("submitted", "approved", "rejected"),
    "goods_receipt": ("confirmed",),
    "supplier_invoice": ("matched", "approved", "rejected", "posted", "paid"),
    "progress_claim": ("submitted", "certified", "rejected", "paid"),
    "payment": ("paid",),
}

COMMON_ACTIONS: Final[tuple[str, ...]] = ("created", "updated")

# Events that are about an import or a review rather than a canonical record.
OTHER_EVENTS: Final[dict[str, str]] = {
    "tieline.import.completed": "an import run finished; data has its counts",
    "tieline.supplier.review_requested": "a near supplier match awaits a person",
    "tieline.workflow.sla_breached": (
        "a workflow step passed its target time; data names the document, the "
        "step, the due time and the exception's owner"
    ),
    "tieline.workflow.exception_opened": (
        "a workflow put something on the exception queue that is not a late "
        "step (an over-receipt); data names the document, the reason and the owner"
    ),
    "tieline.workflow.exception_resolved": "a person resolved a workflow exception",
    "tieline.webhook_endpoint.disabled": (
        "an outbound webhook endpoint kept failing and was disabled; data has "
        "its id, URL host and the reason"
    ),
    "tieline.inbound.received": (
        "a verified inbound webhook was accepted into the inbox; data has its "
        "source and inbox id"
    ),
}


def event_type(kind: str, action: str) -> str:
    """The catalog type for `action` on `kind`, refusing names it does not list."""
    if kind not in STATUS_EVENTS:
        raise KeyError(f"no event kind {kind!r} in the catalog")
    if action not in COMMON_ACTIONS and action not in STATUS_EVENTS[kind]:
        raise KeyError(f"no event {action!r} for {kind!r} in the catalog")
    return f"tieline.{kind}.{action}"


def all_event_types() -> list[str]:
    """Every event type in the catalog, sorted."""
    types = [
        f"tieline.{kind}.{action}"
        for kind, statuses in STATUS_EVENTS.items()
        for action in (*COMMON_ACTIONS, *statuses)
    ]
    return sorted([*types, *OTHER_EVENTS])
