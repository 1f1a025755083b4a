"""Subcontract valuation to payment, retention, and project closeout."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_FLOOR, Decimal

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
from tieline.reports import CostAmounts, load_commitment_figures, load_cost_report
from tieline.workflows import (
    CertificateRefused,
    DutiesNotSegregated,
    Hub,
    NotAnApprover,
    TransitionRefused,
    parse_policies,
)
from tieline.workflows.closeout import close_project, closeout_blockers
from tieline.workflows.invoices import sync_payments
from tieline.workflows.people import NothingToDecide, approve, history, tasks_for
from tieline.workflows.valuations import release_retention

from . import odoo_view
from .conftest import POLICY, Flow, OdooFlow, origin
from .helpers import invoice
from .test_procure_to_pay import state_of

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


@pytest.mark.odoo
def test_a_subcontract_is_valued_retained_paid_released_and_closed(
    odoo_flow: OdooFlow,
) -> None:
    flow = odoo_flow
    # Given a subcontract awarded in project controls: pushed to Odoo as a
    # confirmed order of two service lines at their contract values
    sc = flow.subcontract(
        "SC-1",
        ("A", "03 30 00", str(A)),
        ("B", "05 12 00", str(B)),
        cap=str(CAP),
        system="procore",
    )
    flow.save(sc)
    flow.drive()
    po = odoo_view.orders(flow)["SC-1"]
    assert po["state"] == "purchase"
    assert [
        odoo_view.money(flow, line["price_subtotal"])
        for line in odoo_view.order_lines(flow, po)
    ] == [A, B]

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
    held_1 = round_money(D("48000") * RATE / 100, flow.currency)  # 2 400, under cap
    due_1 = D("48000") - held_1
    assert certified.status is ClaimStatus.CERTIFIED
    assert (certified.retention_held(), certified.amount_due()) == (held_1, due_1)

    # The subcontractor's invoice for period 1 matches the certificate and is
    # posted in Odoo on the order's lines
    bill_1 = invoice(
        sc,
        f"SUB-1-{flow.tag}",
        ("A", None, None, "38000.00"),
        ("B", None, None, "10000.00"),
    )
    flow.save(bill_1)
    flow.drive()
    assert _get(flow, SupplierInvoice, bill_1.id).status is InvoiceStatus.POSTED
    odoo_1 = odoo_view.bills(flow)[bill_1.supplier_reference]
    assert odoo_view.money(flow, odoo_1["amount_total"]) == D("48000.00")
    assert odoo_view.billed_order_lines(flow, odoo_1) == sorted(po["order_line"])

    # Finance releases it; Odoo pays the certificate's amount due, so the
    # retention stays open on the bill
    approve(flow.store, flow.hub, bill_1.supplier_reference, "odoo:ffay")
    odoo_view.pay(flow, odoo_1, date(2026, 4, 20), due_1)
    (paid_1,) = sync_payments(flow.store, flow.hub, flow.erp)
    assert paid_1.amount == due_1
    assert state_of(flow, "invoice", bill_1.supplier_reference) == "partly_paid"

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
    held_2 = min(round_money((A + B) * RATE / 100, flow.currency), CAP)  # 7 500 -> cap
    due_2 = (A + B - D("48000")) - (held_2 - held_1)
    assert certified_2.retention_held() == held_2 == CAP
    assert certified_2.amount_due() == due_2 == D("98400.00")
    assert [line.previously_certified for line in certified_2.lines] == [
        D("38000.00"),
        D("10000.00"),
    ]

    # Before release, the report shows the retention held and the accrual
    (figures,) = load_commitment_figures(flow.store)
    assert (figures.certified_to_date, figures.retention_held) == (A + B, CAP)
    assert figures.received_not_invoiced == A + B - D("48000")
    assert _blockers(flow) == [
        "commitment SC-1 is still approved",
        f"SC-1 line A: {A - D('38000')} received, not invoiced",
        f"SC-1 line B: {B - D('10000.00')} received, not invoiced",
        f"SC-1 holds {CAP} retention, not released",
    ]

    # Period 2's invoice bills the rest; Odoo pays its amount due
    bill_2 = invoice(
        sc,
        f"SUB-2-{flow.tag}",
        ("A", None, None, "62000.00"),
        ("B", None, None, "40000.00"),
    )
    flow.save(bill_2)
    flow.drive()
    assert _get(flow, SupplierInvoice, bill_2.id).status is InvoiceStatus.POSTED
    approve(flow.store, flow.hub, bill_2.supplier_reference, "odoo:ffay")
    odoo_2 = odoo_view.bills(flow)[bill_2.supplier_reference]
    odoo_view.pay(flow, odoo_2, date(2026, 5, 20), due_2)
    (paid_2,) = sync_payments(flow.store, flow.hub, flow.erp)
    assert paid_2.amount == due_2

    # The cost report's paid is each payment spread over its bill's lines in
    # proportion, to the cent (the cent left over to the largest remainder)
    (project,) = load_cost_report(flow.store).projects
    lines = {line.cost_code: line.amounts for line in project.lines}
    a_2, b_2 = _shares(due_2, [D("62000"), D("40000")])
    assert (a_2, b_2) == (D("59811.76"), D("38588.24"))
    assert lines["03 30 00"].paid == due_1 * 38 / 48 + a_2 == D("95911.76")
    assert lines["05 12 00"].paid == due_1 * 10 / 48 + b_2 == D("48088.24")

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

    # And Odoo pays the retention left open on each bill, which closes both
    for bill in (odoo_1, odoo_2):
        odoo_view.pay(flow, bill, date(2026, 6, 30))
    retention = sync_payments(flow.store, flow.hub, flow.erp)
    assert sorted(p.amount for p in retention) == sorted([held_1, held_2 - held_1])
    assert sum((p.amount for p in retention), D(0)) == CAP
    for billed in (bill_1, bill_2):
        assert _get(flow, SupplierInvoice, billed.id).status is InvoiceStatus.PAID
    assert [b["payment_state"] for b in odoo_view.bills(flow).values()] == [
        "paid",
        "paid",
    ]

    # The cost report counts certified work as received and all of it paid
    (project,) = load_cost_report(flow.store).projects
    lines = {line.cost_code: line.amounts for line in project.lines}
    assert tuple(vars_(lines["03 30 00"])) == (A, A, A, A)
    assert tuple(vars_(lines["05 12 00"])) == (B, B, B, B)

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


def vars_(amounts: CostAmounts) -> list[Decimal]:
    """Committed, received, invoiced and paid."""
    return [amounts.committed, amounts.received, amounts.invoiced, amounts.paid]


def _shares(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` split by `weights`: each share down to the cent, the cents left
    going one each to the largest remainders (worked here, not by the report)."""
    exact = [total * w / sum(weights) for w in weights]
    shares = [e.quantize(D("0.01"), rounding=ROUND_FLOOR) for e in exact]
    left = int((total - sum(shares)) / D("0.01"))
    by_remainder = sorted(
        range(len(exact)), key=lambda i: shares[i] - exact[i]
    )  # most negative first: the largest remainder
    for i in by_remainder[:left]:
        shares[i] += D("0.01")
    return shares


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


def test_an_invoice_ahead_of_its_certificate_is_approved_once_certified(
    flow: Flow,
) -> None:
    # Given a subcontract billed for 400.00 on A before any certificate: held
    sc = flow.subcontract(
        "SC-5", ("A", "03 30 00", "1000.00"), ("B", "05 12 00", "1.00")
    )
    flow.save(sc)
    early = invoice(sc, "SUB-5", ("A", None, None, "400.00"))
    flow.save(early)
    flow.drive()
    assert state_of(flow, "invoice", "SUB-5") == "awaiting_approval"

    # When the claim for 400.00 is certified at 350.00, the bill is still ahead
    flow.save(_claim(sc, 1, "400.00", "0.00"))
    flow.drive()
    approve(flow.store, flow.hub, "SC-5 claim 1", "odoo:ppat", certified={"A": D(350)})
    (task,) = tasks_for(flow.store, flow.hub, "pm.pat")
    assert task.details == (
        "line 1: received or certified value to date billed 400.00, expected "
        "350.00 (allowed up to 350.00 + 0%)",
    )

    # When period 2 certifies 400.00 to date
    flow.save(_claim(sc, 2, "400.00", "0.00"))
    flow.drive()
    approve(flow.store, flow.hub, "SC-5 claim 2", "odoo:ppat")
    flow.drive()

    # Then the policy approves the invoice, and it is posted
    last = history(flow.store, "SUB-5")[-2:]
    assert [(h.to_state, h.actor, h.comment) for h in last] == [
        (
            "approved",
            "policy:three-way-match",
            "matched within the tolerances of ACME-US after certificate 2",
        ),
        ("posted", "system:post_vendor_bill", last[1].comment),
    ]
    assert _get(flow, SupplierInvoice, early.id).status is InvoiceStatus.POSTED


def _two_line_subcontract(flow: Flow, number: str) -> Commitment:
    """Lines A (100 000.00) and B (50 000.00) at 5 % retention, no cap."""
    sc = flow.subcontract(number, ("A", "03 30 00", str(A)), ("B", "05 12 00", str(B)))
    flow.save(sc)
    return sc


def _claim_of(sc: Commitment, period: int, **lines: str) -> ProgressClaim:
    """A claim naming only the lines given (key=claimed to date)."""
    return ProgressClaim(
        origin=origin(f"{sc.number}-{period}"),
        commitment_id=sc.id,
        period=period,
        period_end=date(2026, 2 + period, 28),
        currency="USD",
        lines=[
            ClaimLine(commitment_line_key=key, claimed_to_date=D(amount))
            for key, amount in lines.items()
        ],
    )


def _certify_first(flow: Flow, sc: Commitment, a: str, b: str) -> None:
    """Period 1 claimed and certified at A=a, B=b."""
    flow.save(_claim_of(sc, 1, A=a, B=b))
    flow.drive()
    approve(flow.store, flow.hub, f"{sc.number} claim 1", "odoo:ppat")


def test_a_certifier_certifies_less_than_claimed_and_retention_follows(
    flow: Flow,
) -> None:
    # Given a claim for 40 000.00 on A and 10 000.00 on B
    sc = _two_line_subcontract(flow, "SC-6")
    claim = _claim_of(sc, 1, A="40000.00", B="10000.00")
    flow.save(claim)
    flow.drive()

    # When pm.pat certifies 38 000.00 on A (B as claimed)
    said = approve(
        flow.store, flow.hub, "SC-6 claim 1", "odoo:ppat", certified={"A": D("38000")}
    )

    # Then the certificate holds 48 000.00 to date; 5 % of it is held
    certified = _get(flow, ProgressClaim, claim.id)
    assert [(c.claimed_to_date, c.certified_to_date) for c in certified.lines] == [
        (D("40000.00"), D("38000.00")),
        (D("10000.00"), D("10000.00")),
    ]
    assert certified.certified_to_date() == D("48000.00")
    assert certified.retention_held() == D("2400.00")
    assert certified.amount_due() == D("45600.00")
    assert said == (
        "SC-6 claim 1: certified 48000.00 to date, retention held 2400.00, "
        "amount due 45600.00"
    )
    (figures,) = load_commitment_figures(flow.store)
    assert (figures.certified_to_date, figures.retention_held) == (
        D("48000.00"),
        D("2400.00"),
    )


@pytest.mark.parametrize(
    ("certified", "reason"),
    [
        ({"A": D("100.001")}, "line A: 100.001 has more decimals than USD allows"),
        ({"A": D("-1")}, "line A: -1 certified is negative"),
        ({"C": D("1")}, "line C is not claimed in this claim"),
        ({"B": D("10000.01")}, "line B: 10000.01 certified is more than 10000.00"),
    ],
)
def test_a_certified_figure_the_certificate_cannot_hold_is_refused_by_line(
    flow: Flow, certified: dict[str, Decimal], reason: str
) -> None:
    sc = _two_line_subcontract(flow, "SC-7")
    claim = _claim_of(sc, 1, A="40000.00", B="10000.00")
    flow.save(claim)
    flow.drive()
    with pytest.raises(CertificateRefused) as refused:
        approve(flow.store, flow.hub, "SC-7 claim 1", "odoo:ppat", certified=certified)
    assert refused.value.reason.startswith(reason)
    assert refused.value.line_key == next(iter(certified))
    # Nothing was certified: the claim still waits
    assert _get(flow, ProgressClaim, claim.id).status is ClaimStatus.SUBMITTED
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "pm.pat")] == [
        "SC-7 claim 1"
    ]


def test_certified_amounts_are_refused_on_anything_but_a_claim(flow: Flow) -> None:
    flow.save(flow.requisition("REQ-9", ("1", "03 30 00", "2", "10.00")))
    flow.drive()
    with pytest.raises(NothingToDecide, match="only when certifying a progress"):
        approve(flow.store, flow.hub, "REQ-9", "odoo:ppat", certified={"1": D(1)})


def test_a_line_the_claim_leaves_out_keeps_its_certified_value(flow: Flow) -> None:
    # Given period 1 certified at 70 000.00 on A and 15 000.00 on B
    sc = _two_line_subcontract(flow, "SC-8")
    _certify_first(flow, sc, "70000.00", "15000.00")

    # When period 2 claims only A, at 80 000.00, and is certified as claimed
    second = _claim_of(sc, 2, A="80000.00")
    flow.save(second)
    flow.drive()
    approve(flow.store, flow.hub, "SC-8 claim 2", "odoo:ppat")

    # Then B is carried at 15 000.00: 95 000.00 to date, 10 000.00 earned
    certified = _get(flow, ProgressClaim, second.id)
    assert [
        (c.commitment_line_key, c.certified_to_date, c.previously_certified)
        for c in certified.lines
    ] == [("A", D("80000.00"), D("70000.00")), ("B", D("15000.00"), D("15000.00"))]
    assert certified.certified_to_date() == D("95000.00")
    assert certified.retention_held() == D("4750.00")
    assert certified.amount_due() == D("10000.00") - D("500.00")
    (figures,) = load_commitment_figures(flow.store)
    assert figures.certified_to_date == D("95000.00")


def test_a_line_below_its_last_certificate_needs_an_explicit_reduction(
    flow: Flow,
) -> None:
    # Given the review's example: 70 000.00 on A and 15 000.00 on B certified
    sc = _two_line_subcontract(flow, "SC-9")
    _certify_first(flow, sc, "70000.00", "15000.00")
    second = _claim_of(sc, 2, A="60000.00")
    flow.save(second)
    flow.drive()

    # When period 2 names only A, at 60 000.00, it is not certified by default
    with pytest.raises(CertificateRefused) as refused:
        approve(flow.store, flow.hub, "SC-9 claim 2", "odoo:ppat")
    assert refused.value.reason == (
        "line A: 60000.00 certified to date is below the 70000.00 certified "
        "before; certify a reduction only by allowing it explicitly"
    )
    (figures,) = load_commitment_figures(flow.store)
    assert figures.certified_to_date == D("85000.00")

    # When the certifier allows the reduction
    approve(flow.store, flow.hub, "SC-9 claim 2", "odoo:ppat", allow_reduction=True)

    # Then A falls to 60 000.00, B stays 15 000.00: 75 000.00 to date, and
    # the certificate gives back 10 000.00 less the 500.00 retention released
    certified = _get(flow, ProgressClaim, second.id)
    assert certified.certified_to_date() == D("75000.00")
    assert certified.retention_held() == D("3750.00")
    assert certified.amount_due() == D("-9500.00")
    (figures,) = load_commitment_figures(flow.store)
    assert (figures.certified_to_date, figures.retention_held) == (
        D("75000.00"),
        D("3750.00"),
    )


def test_whoever_certified_the_work_cannot_release_its_retention(flow: Flow) -> None:
    # Given a policy that lets pm.pat release retention too
    policy = POLICY.replace(
        'document = "retention_release"\napprovers = ["fin.fay"]',
        'document = "retention_release"\napprovers = ["pm.pat", "fin.fay"]',
    )
    assert policy != POLICY
    flow.hub = Hub(parse_policies(policy), clock=flow.clock)
    sc = _two_line_subcontract(flow, "SC-10")

    # And pm.pat certified the whole subcontract
    _certify_first(flow, sc, str(A), str(B))

    # Then pm.pat may not release the retention, and fin.fay may
    with flow.store.transaction() as tx, pytest.raises(DutiesNotSegregated) as own:
        release_retention(
            tx,
            flow.hub,
            sc.id,
            flow.hub.policies.directory.parse("procore:pat@site.example"),
            None,
        )
    assert str(own.value) == (
        "SC-10: pm.pat certified claim 1 (as odoo:ppat) and cannot release the "
        "retention it holds (as procore:pat@site.example) "
        "(approver cannot release payment)"
    )
    with flow.store.transaction() as tx:
        released = release_retention(
            tx, flow.hub, sc.id, flow.hub.policies.directory.parse("odoo:ffay"), None
        )
    assert released == D("7500.00")
