"""Which statuses are decisions, and who writes them outside a workflow."""

from __future__ import annotations

from tieline.catalog import STATUS_EVENTS
from tieline.governance.decisions import (
    DECISIONS,
    changed_decision_fields,
    is_decision,
    owning_system,
)
from tieline.governance.roles import Grant, RecordScope, Role
from tieline.model import RECORD_TYPES

IN_A = RecordScope("le-a")


def test_every_decision_is_a_status_of_its_kind() -> None:
    for kind, statuses in DECISIONS.items():
        default = RECORD_TYPES[kind].model_fields["status"].default
        known = {status.value for status in type(default)}
        assert statuses <= known, kind
        assert statuses <= set(STATUS_EVENTS[kind]), kind


def test_approval_payment_and_certification_are_decisions() -> None:
    assert is_decision("commitment", "approved")
    assert is_decision("supplier_invoice", "paid")
    assert is_decision("progress_claim", "certified")
    assert is_decision("payment", "paid")
    assert not is_decision("commitment", "draft")
    assert not is_decision("payment", "pending")
    assert not is_decision("project", "closed")


def test_only_its_own_systems_service_with_the_integration_role_owns_a_record() -> None:
    operator_a = (Grant(Role.INTEGRATION_OPERATOR, "le-a"),)

    def owns(grants: tuple[Grant, ...], scope: RecordScope, **who: object) -> bool:
        caller = {"service": True, "caller": "odoo", "origin": "odoo", **who}
        return owning_system(grants, scope, **caller)  # type: ignore[arg-type]

    assert owns(operator_a, IN_A)
    assert not owns(operator_a, IN_A, service=False)
    assert not owns(operator_a, RecordScope("le-b"))
    assert not owns((Grant(Role.ADMIN, "*"),), IN_A)
    # Another system's integration owns nothing of Odoo's, whatever its role
    assert not owns(operator_a, IN_A, caller="svc.procore")
    assert not owns(operator_a, IN_A, origin="tieline")


def test_retention_release_is_a_decision_field_of_a_commitment() -> None:
    assert changed_decision_fields(
        "commitment", {"retention_released_on": None}, {"retention_released_on": "x"}
    ) == ["retention_released_on"]
    assert changed_decision_fields("commitment", None, {"number": "C-1"}) == []
    assert changed_decision_fields("budget", None, {"retention_released_on": "x"}) == []
