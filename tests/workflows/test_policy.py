"""The approval policy file: rules, bands, tolerances and its own checks."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tieline.errors import ConfigurationError
from tieline.workflows import (
    SLA_DEFAULTS,
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


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Workflow policy")
    return text[start : text.index("\n## ", start + 1)]


def test_the_readmes_example_policy_loads_and_means_what_it_says() -> None:
    # Given the README's example, as a user would copy it
    (example,) = re.findall(r"```toml\n(.*?)```", _readme_section(), re.S)

    policies = parse_policies(example, source="README.md")

    # Then its bands, delegation, tolerances, SLAs and owners are as described
    assert policies.rule_for(_subject("9999.99")).name == "site-orders"
    assert policies.rule_for(_subject("10000")).name == "large-orders"
    large = policies.rule_for(_subject("25000"))
    assert [a.person for a in policies.assignees(large, date(2026, 8, 14))] == [
        "dir.dan",
        "fin.fay",
    ]
    assert [a.person for a in policies.assignees(large, date(2026, 8, 15))] == [
        "dir.dan"
    ]
    assert policies.tolerance("ACME-UK") == Tolerance(price_percent=D(1))
    assert policies.tolerance("ACME-US") == Tolerance()
    assert policies.sla("requisition_approval") == timedelta(hours=24)
    assert policies.sla("invoice_approval") == timedelta(hours=72)
    assert policies.owner(policies.rule_for(_subject("50"))) == "dir.dan"
    assert policies.owner(None) == "fin.fay"
    service = policies.directory.parse("procore:integration")
    assert (service.id, service.kind.value) == ("svc.procore", "service")
    assert policies.directory.parse("odoo:ppat").id == "pm.pat"


def test_the_readme_states_the_defaults_the_code_has() -> None:
    section = " ".join(_readme_section().split())
    stated = dict(re.findall(r"`([a-z_]+)` (\d+)", section))
    assert {step: int(hours) for step, hours in stated.items()} == dict(SLA_DEFAULTS)
    assert '`quantity_percent = "0"`' in section
    assert '`price_percent = "2"`' in section
    assert Tolerance() == Tolerance(quantity_percent=D(0), price_percent=D(2))
    assert "(default `unassigned`)" in section
    assert parse_policies("").default_owner == "unassigned"
