"""Accruals, open commitment, certified work and retention in the cost report.

Two subcontracts with certificates over two periods, worked out here from
the test's own figures (the rate on certified work rounded half-up to the
cent, up to the cap), never read back from tieline.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tieline.model import (
    ClaimLine,
    ClaimStatus,
    CommitmentStatus,
    CommitmentType,
    InvoiceStatus,
    ProgressClaim,
    Project,
)
from tieline.reports import CostRecords, build_cost_report, render_json

from .conftest import billing, commitment, invoice, origin

D = Decimal
CENT = D("0.01")


def _project() -> Project:
    return Project(
        origin=origin("Q-1"),
        code="Q-1",
        name="Quayside",
        legal_entity_id="us",
        currency="USD",
        cost_code_system="masterformat",
    )


def _claim(
    of_id: str,
    period: int,
    certified: dict[str, str],
    *,
    rate: str,
    cap: str | None,
    status: ClaimStatus = ClaimStatus.CERTIFIED,
) -> ProgressClaim:
    return ProgressClaim(
        origin=origin(f"{of_id}-{period}"),
        commitment_id=of_id,
        period=period,
        period_end=date(2024, 2 + period, 28),
        currency="USD",
        status=status,
        retention_percent=D(rate),
        retention_cap=None if cap is None else D(cap),
        lines=[
            ClaimLine(
                commitment_line_key=key,
                claimed_to_date=D(amount),
                certified_to_date=D(amount),
            )
            for key, amount in certified.items()
        ],
    )


def _retention(certified: Decimal, rate: str, cap: str | None) -> Decimal:
    held = (certified * D(rate) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return held if cap is None else min(held, D(cap))


def test_the_report_shows_each_subcontracts_accruals_and_retention_to_the_cent() -> (
    None
):
    project = _project()
    # SC-7: 5 % retention capped at 2,000.00; two lines on two cost codes
    sc7 = commitment(
        "SC-7",
        project,
        CommitmentStatus.APPROVED,
        ("A", "03 30 00", "40000.00"),
        ("B", "05 12 00", "25000.00"),
        kind=CommitmentType.SUBCONTRACT,
    ).model_copy(update={"retention_percent": D(5), "retention_cap": D("2000.00")})
    # SC-8: 10 % capped at 5,000.00, completed and its retention released
    sc8 = commitment(
        "SC-8",
        project,
        CommitmentStatus.CLOSED,
        ("C", "03 30 00", "100000.00"),
        kind=CommitmentType.SUBCONTRACT,
    ).model_copy(
        update={
            "retention_percent": D(10),
            "retention_cap": D("5000.00"),
            "retention_released_on": date(2024, 9, 30),
        }
    )
    claims = [
        _claim(sc7.id, 1, {"A": "10000.00", "B": "3333.33"}, rate="5", cap="2000.00"),
        _claim(sc7.id, 2, {"A": "24680.25", "B": "9876.54"}, rate="5", cap="2000.00"),
        # A third period still submitted: certifies nothing yet
        _claim(
            sc7.id,
            3,
            {"A": "39000.00", "B": "20000.00"},
            rate="5",
            cap="2000.00",
            status=ClaimStatus.SUBMITTED,
        ),
        _claim(sc8.id, 1, {"C": "100000.00"}, rate="10", cap="5000.00"),
    ]
    bills = [
        invoice(
            "SUB-7",
            InvoiceStatus.POSTED,
            [billing("1", "20000.00", "A"), billing("2", "9876.54", "B")],
            tax="0.00",
            of=sc7,
        ),
        invoice(
            "SUB-8",
            InvoiceStatus.PAID,
            [billing("1", "100000.00", "C")],
            tax="0.00",
            of=sc8,
        ),
    ]

    # When the report is built and rendered as JSON
    report = build_cost_report(
        CostRecords(
            projects=[project],
            commitments=[sc7, sc8],
            claims=claims,
            invoices=bills,
        )
    )
    (data,) = json.loads(render_json(report))["projects"]

    # Then each subcontract's figures are the test's own, to the cent
    certified_7 = D("24680.25") + D("9876.54")
    held_7 = _retention(certified_7, "5", "2000.00")
    released_8 = _retention(D("100000.00"), "10", "5000.00")
    assert (held_7, released_8) == (D("1727.84"), D("5000.00"))
    expected = {
        "SC-7": {
            "commitment_type": "subcontract",
            "committed": D("65000.00"),
            "received": certified_7,
            "invoiced": D("29876.54"),
            "received_not_invoiced": D("24680.25") - D("20000.00"),
            "open_commitment": D("65000.00") - D("29876.54"),
            "certified_to_date": certified_7,
            "retention_held": held_7,
            "retention_released": D(0),
        },
        "SC-8": {
            "commitment_type": "subcontract",
            "committed": D("100000.00"),
            "received": D("100000.00"),
            "invoiced": D("100000.00"),
            "received_not_invoiced": D(0),
            "open_commitment": D(0),
            "certified_to_date": D("100000.00"),
            "retention_held": D(0),
            "retention_released": released_8,
        },
    }
    assert {
        c["number"]: {
            k: (v if k == "commitment_type" else D(v))
            for k, v in c.items()
            if k not in ("number", "commitment_id")
        }
        for c in data["commitments"]
    } == expected

    # And per cost code: what is certified and not billed accrues, and what
    # is committed and not billed is open
    by_code = {
        line["cost_code"]: (
            D(line["received_not_invoiced"]),
            D(line["open_commitment"]),
        )
        for line in data["lines"]
    }
    assert by_code == {
        "03 30 00": (
            D("24680.25") - D("20000.00"),
            D("40000.00") - D("20000.00") + D(0),
        ),
        "05 12 00": (D(0), D("25000.00") - D("9876.54")),
    }
    assert (
        D(data["totals"]["received_not_invoiced"]),
        D(data["totals"]["open_commitment"]),
    ) == (D("4680.25"), D("35123.46"))
