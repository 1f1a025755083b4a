"""Canonical records validate their input and name the field at fault."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tieline.errors import ValidationFailed
from tieline.model import (
    BudgetLine,
    ClaimLine,
    Commitment,
    CommitmentLine,
    CommitmentType,
    InvoiceLine,
    Origin,
    ProgressClaim,
    SupplierInvoice,
    record_id,
)


def _line(key: str = "1", amount: str = "100.00") -> CommitmentLine:
    return CommitmentLine(
        line_key=key, project_id="p", cost_code="03 30 00", amount=Decimal(amount)
    )


def _commitment(*lines: CommitmentLine, currency: str = "EUR") -> Commitment:
    return Commitment(
        origin=Origin(system="erp", key="SC-7"),
        number="SC-7",
        commitment_type=CommitmentType.SUBCONTRACT,
        legal_entity_id="e",
        project_id="p",
        supplier_id="s",
        currency=currency,
        lines=list(lines),
    )


def test_the_id_is_derived_from_kind_and_origin() -> None:
    commitment = _commitment(_line())

    assert commitment.id == record_id("commitment", "erp", "SC-7")
    assert commitment.id != record_id("supplier_invoice", "erp", "SC-7")


def test_an_amount_finer_than_the_currency_is_refused_naming_the_line() -> None:
    with pytest.raises(ValidationFailed) as caught:
        _commitment(_line("1"), _line("2", "10.001"))

    assert caught.value.field == "lines[1].amount"
    assert caught.value.record == "commitment SC-7"


def test_a_yen_amount_may_not_carry_cents() -> None:
    with pytest.raises(ValidationFailed, match="JPY"):
        _commitment(_line("1", "100.50"), currency="JPY")


def test_a_line_key_may_not_repeat() -> None:
    with pytest.raises(ValidationFailed, match="appears twice"):
        _commitment(_line("1"), _line("1"))


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="colour"):
        CommitmentLine(
            line_key="1", project_id="p", cost_code="c", amount=Decimal(1), colour="red"
        )  # type: ignore[call-arg]


def test_invoice_totals_must_add_up() -> None:
    with pytest.raises(ValidationFailed) as caught:
        SupplierInvoice(
            origin=Origin(system="ubl", key="INV-1"),
            supplier_reference="INV-1",
            supplier_name="Acme",
            issue_date=date(2026, 11, 30),
            currency="EUR",
            lines=[InvoiceLine(line_key="1", net_amount=Decimal("100.00"))],
            net_total=Decimal("100.00"),
            tax_total=Decimal("21.00"),
            gross_total=Decimal("120.00"),
        )

    assert caught.value.field == "gross_total"


def test_a_claim_holds_retention_at_the_rate_up_to_the_cap() -> None:
    claim = ProgressClaim(
        origin=Origin(system="site", key="SC-7/3"),
        commitment_id="c",
        period=3,
        period_end=date(2026, 11, 30),
        currency="GBP",
        retention_percent=Decimal(5),
        retention_cap=Decimal("1500.00"),
        previous_retention_held=Decimal("1000.00"),
        lines=[
            ClaimLine(
                commitment_line_key="1",
                claimed_to_date=Decimal("40000.00"),
                certified_to_date=Decimal("36000.00"),
                previously_certified=Decimal("20000.00"),
            )
        ],
    )

    # 5% of 36,000 is 1,800, capped at 1,500; this period adds 500 retention.
    assert claim.retention_held() == Decimal("1500.00")
    assert claim.amount_due() == Decimal("15500.00")


def test_an_ordered_quantity_may_not_be_negative() -> None:
    with pytest.raises(ValidationError, match="quantity"):
        CommitmentLine(
            line_key="1",
            project_id="p",
            cost_code="c",
            quantity=Decimal(-3),
            amount=Decimal(0),
        )


def test_an_original_budget_line_may_not_be_negative() -> None:
    with pytest.raises(ValidationError, match="amount"):
        BudgetLine(line_key="1", cost_code="c", amount=Decimal("-5000.00"))
