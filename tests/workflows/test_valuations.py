"""Subcontract valuation to payment, retention, and project closeout."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tieline.model import (
    ClaimLine,
    ClaimStatus,
    Commitment,
    CommitmentStatus,
    InvoiceStatus,
    ProgressClaim,
    Project,
    ProjectStatus,
    SupplierInvoice,
)
from tieline.money import round_money
from tieline.reports import load_commitment_figures, load_cost_report
from tieline.workflows import NotAnApprover, TransitionRefused
from tieline.workflows.closeout import close_project, closeout_blockers
from tieline.workflows.people import approve, history, tasks_for
from tieline.workflows.valuations import release_retention

from .conftest import Flow, origin
from .helpers import invoice

D = Decimal
A, B = D("100000.00"), D("50000.00")  # the subcontract's two lines
RATE, CAP = D(5), D("6000.00")


def _claim(sc: Commitment, period: int, a: str, b: str) -> ProgressClaim:
    return ProgressClaim(
        origin=origin(f"{sc.number}-{period}"),
        commitment_id=sc.id,
        period=period,
        period_end=date(2026, 2 + period, 28),
        currency="USD",
        lines=[
            ClaimLine(commitment_line_key="A", claimed_to_date=D(a)),
            ClaimLine(commitment_line_key="B", claimed_to_date=D(b)),
        ],
    )


def _get(flow: Flow, cls: type, record_id: str):  # type: ignore[no-untyped-def]
    with flow.store.transaction() as tx:
        return tx.get(cls, record_id)


def test_a_subcontract_is_valued_retained_released_and_closed(flow: Flow) -> None:
    sc = flow.subcontract(
        "SC-1", ("A", "03 30 00", str(A)), ("B", "05 12 00", str(B)), cap=str(CAP)
    )
    flow.save(sc)

    # Period 1: 40 000 and 10 000 claimed; the project team certifies 38 000 on A
    first = _claim(sc, 1, "40000.00", "10000.00")
    flow.save(first)
    flow.drive()
    (task,) = tasks_for(flow.store, flow.hub, "pm.pat")
    assert task.document_ref == "SC-1 claim 1"
    approve(
        flow.store,
        flow.hub,
        "SC-1 claim 1",
        "odoo:ppat",
        certified={"A": D("38000.00")},
    )
    certified = _get(flow, ProgressClaim, first.id)
    held_1 = round_money(D("48000") * RATE / 100, "USD")  # 2 400.00, under the cap
    assert certified.status is ClaimStatus.CERTIFIED
    assert (certified.retention_held(), certified.amount_due()) == (
        held_1,
        D("48000") - held_1,
    )

    # The subcontractor's invoice for period 1 matches the certificate
    bill_1 = invoice(
        sc, "SUB-1", ("A", None, None, "38000.00"), ("B", None, None, "10000.00")
    )
    flow.save(bill_1)
    flow.drive()
    assert _get(flow, SupplierInvoice, bill_1.id).status is InvoiceStatus.POSTED

    # Retention cannot be released before completion
    with pytest.raises(TransitionRefused) as early, flow.store.transaction() as tx:
        release_retention(
            tx,
            flow.hub,
            sc.id,
            flow.hub.policies.directory.parse("odoo:ffay"),
            None,
        )
    assert early.value.reason == (
        "line A is certified 38000.00 of 100000.00; "
        "line B is certified 10000.00 of 50000.00"
    )

    # Period 2: everything claimed and certified; retention reaches its cap
    second = _claim(sc, 2, str(A), str(B))
    flow.save(second)
    flow.drive()
    approve(flow.store, flow.hub, "SC-1 claim 2", "odoo:ppat")
    certified_2 = _get(flow, ProgressClaim, second.id)
    held_2 = min(round_money((A + B) * RATE / 100, "USD"), CAP)  # 7 500 -> 6 000
    assert certified_2.retention_held() == held_2 == CAP
    assert certified_2.amount_due() == (A + B - D("48000")) - (held_2 - held_1)
    assert [line.previously_certified for line in certified_2.lines] == [
        D("38000.00"),
        D("10000.00"),
    ]

    # Before release, the report shows the retention held and the accrual
    (figures,) = load_commitment_figures(flow.store)
    assert (figures.certified_to_date, figures.retention_held) == (A + B, CAP)
    assert figures.received_not_invoiced == A + B - D("48000")
    blockers = _blockers(flow)
    assert blockers == [
        "commitment SC-1 is still approved",
        f"SC-1 line A: {A - D('38000')} received, not invoiced",
        f"SC-1 line B: {B - D('10000.00')} received, not invoiced",
        f"SC-1 holds {CAP} retention, not released",
    ]

    # Period 2's invoice bills the rest
    bill_2 = invoice(
        sc, "SUB-2", ("A", None, None, "62000.00"), ("B", None, None, "40000.00")
    )
    flow.save(bill_2)
    flow.drive()
    assert _get(flow, SupplierInvoice, bill_2.id).status is InvoiceStatus.POSTED

    # Only finance may release retention; at completion it does
    with flow.store.transaction() as tx, pytest.raises(NotAnApprover):
        release_retention(
            tx, flow.hub, sc.id, flow.hub.policies.directory.parse("odoo:ppat"), None
        )
    with flow.store.transaction() as tx:
        released = release_retention(
            tx,
            flow.hub,
            sc.id,
            flow.hub.policies.directory.parse("odoo:ffay"),
            "practical completion",
        )
    assert released == CAP
    (figures,) = load_commitment_figures(flow.store)
    assert (figures.retention_held, figures.retention_released) == (D(0), CAP)
    assert (figures.invoiced, figures.open_commitment) == (A + B, D(0))

    # The cost report counts certified work as received, to the cent
    (project,) = load_cost_report(flow.store).projects
    lines = {line.cost_code: line.amounts for line in project.lines}
    assert (lines["03 30 00"].committed, lines["03 30 00"].received) == (A, A)
    assert (lines["05 12 00"].received, lines["05 12 00"].invoiced) == (B, B)

    # Closeout: the open subcontract still blocks; closed, the project closes
    assert _blockers(flow) == ["commitment SC-1 is still approved"]
    with flow.store.transaction() as tx:
        stored = tx.get(Commitment, sc.id)
        assert stored is not None
        tx.save(
            stored.model_copy(update={"status": CommitmentStatus.CLOSED}), actor="odoo"
        )
    with flow.store.transaction() as tx:
        close_project(
            tx,
            flow.hub,
            flow.project.id,
            flow.hub.policies.directory.parse("odoo:ddan"),
            "done",
        )
    assert _get(flow, Project, flow.project.id).status is ProjectStatus.CLOSED
    assert [h.to_state for h in history(flow.store, "P-1")] == ["open", "closed"]


def _blockers(flow: Flow) -> list[str]:
    with flow.store.transaction() as tx:
        return closeout_blockers(tx, flow.project.id)


def test_closing_with_blockers_is_refused_naming_each(flow: Flow) -> None:
    sc = flow.subcontract("SC-2", ("A", "03 30 00", "1000.00"))
    flow.save(sc, _claim_one(sc))
    flow.drive()
    with flow.store.transaction() as tx, pytest.raises(TransitionRefused) as refused:
        close_project(
            tx,
            flow.hub,
            flow.project.id,
            flow.hub.policies.directory.parse("odoo:ddan"),
            None,
        )
    assert refused.value.reason == (
        "commitment SC-2 is still approved; SC-2 claim 1 is not certified"
    )


def _claim_one(sc: Commitment) -> ProgressClaim:
    return ProgressClaim(
        origin=origin("SC-2-1"),
        commitment_id=sc.id,
        period=1,
        period_end=date(2026, 3, 31),
        currency="USD",
        lines=[ClaimLine(commitment_line_key="A", claimed_to_date=D("500.00"))],
    )


def test_a_claim_past_its_contract_value_is_stopped(flow: Flow) -> None:
    # Given a line worth 100 000.00, claimed at 100 000.01 to date
    sc = flow.subcontract(
        "SC-3", ("A", "03 30 00", "100000.00"), ("B", "05 12 00", "1.00")
    )
    over = _claim(sc, 1, "100000.01", "1.00")
    flow.save(sc, over)
    flow.drive()

    # Then it is stopped at once, rejected, and nobody is asked to certify it
    assert _get(flow, ProgressClaim, over.id).status is ClaimStatus.REJECTED
    assert tasks_for(flow.store, flow.hub, "pm.pat") == []
    stopped = history(flow.store, "SC-3 claim 1")[-1]
    assert (stopped.to_state, stopped.comment) == (
        "stopped",
        "line A claims 100000.01 to date, past its contract value 100000.00",
    )


def test_certifying_more_than_claimed_is_refused(flow: Flow) -> None:
    sc = flow.subcontract(
        "SC-4", ("A", "03 30 00", "1000.00"), ("B", "05 12 00", "1.00")
    )
    flow.save(sc, _claim(sc, 1, "400.00", "0.00"))
    flow.drive()
    with pytest.raises(
        TransitionRefused, match=r"500 certified is more than 400\.00 claimed"
    ):
        approve(
            flow.store, flow.hub, "SC-4 claim 1", "odoo:ppat", certified={"A": D(500)}
        )
