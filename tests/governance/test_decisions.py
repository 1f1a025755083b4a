"""Which statuses are decisions, and who writes them outside a workflow."""

from __future__ import annotations

from tieline.catalog import STATUS_EVENTS
from tieline.governance.decisions import DECISIONS, is_decision, owning_system
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


def test_only_a_service_with_the_integration_role_there_is_an_owning_system() -> None:
    operator_a = (Grant(Role.INTEGRATION_OPERATOR, "le-a"),)

    assert owning_system(operator_a, IN_A, service=True)
    assert not owning_system(operator_a, IN_A, service=False)
    assert not owning_system(operator_a, RecordScope("le-b"), service=True)
    assert not owning_system((Grant(Role.ADMIN, "*"),), IN_A, service=True)
