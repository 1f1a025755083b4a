"""The approval policy file: rules, bands, tolerances and its own checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tieline.errors import ConfigurationError
from tieline.workflows import (
    DocumentType,
    NoApprovalRule,
    Tolerance,
    parse_policies,
)
from tieline.workflows._policy import Subject

from .conftest import POLICY

D = Decimal


def _subject(amount: str, entity: str = "ACME-US") -> Subject:
    return Subject(DocumentType.REQUISITION, entity, "P-1", D(amount), "purchase_order")


def test_the_first_matching_rule_decides_and_bands_exclude_their_top() -> None:
    policies = parse_policies(POLICY)
    assert policies.rule_for(_subject("9999.99")).name == "small-requisitions"
    assert policies.rule_for(_subject("10000")).name == "large-requisitions"
    # The small band is ACME-US's only: another entity's small one has no rule.
    assert policies.rule_for(_subject("10000", "ACME-UK")).name == "large-requisitions"
    with pytest.raises(NoApprovalRule, match="legal entity ACME-UK"):
        policies.rule_for(_subject("50", "ACME-UK"))


def test_a_document_no_rule_covers_is_named() -> None:
    policies = parse_policies('[[identity]]\nid = "a"\n')
    with pytest.raises(NoApprovalRule, match="requisition of 5 for legal entity"):
        policies.rule_for(_subject("5"))


def test_tolerances_default_to_no_quantity_and_two_percent_price() -> None:
    assert Tolerance() == Tolerance(quantity_percent=D(0), price_percent=D(2))
    policies = parse_policies(POLICY + '[tolerance."ACME-UK"]\nprice_percent = "1"\n')
    assert policies.tolerance("ACME-UK").price_percent == D(1)
    assert policies.tolerance("ACME-US") == Tolerance()


def test_delegates_are_added_only_inside_their_dates() -> None:
    policies = parse_policies(POLICY)
    rule = policies.rule_for(_subject("20000"))
    assert [a.person for a in policies.assignees(rule, date(2026, 5, 31))] == [
        "dir.dan"
    ]
    assert [a.person for a in policies.assignees(rule, date(2026, 6, 30))] == [
        "dir.dan",
        "del.dee",
    ]


def test_a_service_identity_named_as_approver_is_refused() -> None:
    text = POLICY.replace('approvers = ["fin.fay"]', 'approvers = ["svc.procore"]')
    with pytest.raises(ConfigurationError, match=r"svc\.procore is a service identity"):
        parse_policies(text, source="workflows.toml")


def test_an_unknown_approver_or_step_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="nobody is no listed identity"):
        parse_policies(POLICY.replace('["fin.fay"]', '["nobody"]'))
    with pytest.raises(ConfigurationError, match="unknown SLA steps"):
        parse_policies(POLICY.replace("[sla]\n", "[sla]\ncoffee_break = 1\n"))


def test_one_login_cannot_belong_to_two_identities() -> None:
    text = POLICY + '[[identity]]\nid = "x"\nlogins = { odoo = "PPAT" }\n'
    with pytest.raises(ConfigurationError, match=r"belongs to pm\.pat and x"):
        parse_policies(text)
