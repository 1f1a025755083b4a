"""Every workflow on two projects through Odoo, then the cost report to the cent.

The scenario is drawn from a seeded random generator: budgets and their
revisions approved, pending or rejected; requisitions approved or rejected;
partial and final deliveries; invoices within tolerance (approved by the
policy), over it (approved by a person, or rejected) and one duplicate;
subcontracts with change orders, certificates below the claims, retention
under a cap and released at completion; Odoo paying bills in full, in part
or not at all.

While it runs, the test keeps its own books (`Books`) from what it sends and
decides: each amount goes where the issue's rules put it, computed from the
test's inputs (quantities, prices, certified amounts, what it paid in Odoo),
never read back from tieline. At the end `tieline report cost --format json`
(every figure per cost code, accruals and open commitment included, and
each commitment's figures), the commitment figures and the accruals per cost
code must equal those books to the cent, and Odoo's ledger (bills, and what
is paid on them) must agree with them.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tieline.cli import app
from tieline.model import (
    Budget,
    BudgetLine,
    BudgetRevision,
    BudgetRevisionLine,
    BudgetStatus,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    ClaimLine,
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    ProgressClaim,
    Project,
    Requisition,
    RequisitionLine,
    RevisionStatus,
)
from tieline.reports import (
    AMOUNT_KEYS,
    COMMITMENT_KEYS,
    accruals_by_cost_code,
    load_commitment_figures,
    read_cost_records,
)
from tieline.workflows.invoices import sync_payments
from tieline.workflows.people import approve, reject
from tieline.workflows.valuations import release_retention

from ..connectors.odoo.conftest import REAL_URL
from . import odoo_view
from .conftest import COST_CODES, OdooFlow, origin
from .helpers import invoice, receipt

D = Decimal
CENT = D("0.01")
ZERO = D(0)
CODES = sorted(COST_CODES)
SEED = 20260302
RETENTION = D(5)

pytestmark = pytest.mark.odoo

Place = tuple[str, str]  # (project code, cost code)
LineRef = tuple[str, str]  # (commitment number, line key)
InvoiceLineSpec = tuple[str, str | None, str | None, str]


# -- the test's own books -----------------------------------------------------


@dataclass
class Line:
    """What the test knows of one commitment line."""

    place: Place
    committed: Decimal = ZERO
    received: Decimal = ZERO  # goods received on an order
    certified: Decimal = ZERO  # certified to date on a subcontract
    invoiced: Decimal = ZERO

    @property
    def accrued(self) -> Decimal:
        """Received (or certified) not invoiced; nothing when billed ahead."""
        return max(self.received + self.certified - self.invoiced, D(0))


@dataclass
class Bill:
    """An invoice that counts: each line's place and net amount, and what Odoo
    was told to pay on it."""

    lines: list[tuple[Place, Decimal]]
    paid: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return sum((net for _, net in self.lines), D(0))


@dataclass
class Books:
    """The figures the report must show, kept by the test as it goes."""

    figures: defaultdict[Place, defaultdict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    lines: dict[LineRef, Line] = field(default_factory=dict)
    bills: dict[str, Bill] = field(default_factory=dict)
    # Per subcontract: its retention cap (None: no cap), and whether released
    retention: dict[str, tuple[Decimal | None, bool]] = field(default_factory=dict)

    def add(self, place: Place, figure: str, amount: Decimal) -> None:
        self.figures[place][figure] += amount

    def commit(self, ref: LineRef, place: Place, amount: Decimal) -> None:
        line = self.lines.setdefault(ref, Line(place))
        line.committed += amount
        self.add(place, "committed", amount)

    def receive(self, ref: LineRef, amount: Decimal) -> None:
        line = self.lines[ref]
        line.received += amount
        self.add(line.place, "received", amount)

    def certify(self, ref: LineRef, to_date: Decimal) -> None:
        # A certificate is to date: it replaces the one before.
        line = self.lines[ref]
        self.add(line.place, "received", to_date - line.certified)
        line.certified = to_date

    def bill(self, reference: str, lines: list[tuple[LineRef, Decimal]]) -> None:
        placed = []
        for ref, net in lines:
            line = self.lines[ref]
            line.invoiced += net
            self.add(line.place, "invoiced", net)
            placed.append((line.place, net))
        self.bills[reference] = Bill(placed)

    def settle(self) -> None:
        """Spread what was paid on each bill over its lines."""
        for bill in self.bills.values():
            shares = spread(bill.paid, [net for _, net in bill.lines])
            for (place, _), share in zip(bill.lines, shares, strict=True):
                self.add(place, "paid", share)

    def of(self, number: str) -> list[Line]:
        """The lines of one commitment."""
        return [line for (n, _), line in self.lines.items() if n == number]

    def retention_held(self, number: str) -> Decimal:
        """The rate on work certified to date, rounded half-up, up to the cap."""
        certified = sum((line.certified for line in self.of(number)), D(0))
        cap, _ = self.retention[number]
        held = (certified * RETENTION / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        return held if cap is None else min(held, cap)


def spread(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` over `weights` in whole cents: each share rounded down, the cents
    left one each to the largest remainders, ties to the earlier line (the
    report's stated rule, worked here in integers)."""
    cents = int(total / CENT)
    parts = [int(weight / CENT) for weight in weights]
    whole = sum(parts)
    shares = [cents * part // whole for part in parts]
    remainders = [cents * part % whole for part in parts]
    left = cents - sum(shares)
    for i in sorted(range(len(parts)), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return [D(share) * CENT for share in shares]


# -- the scenario -------------------------------------------------------------


@dataclass
class Order:
    """An order the scenario made, and what it did with it."""

    project: Project
    commitment: Commitment
    first_receipt: dict[str, Decimal] = field(default_factory=dict)
    billed: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Scenario:
    """The flow, the projects, the generator and the books."""

    flow: OdooFlow
    projects: list[Project]
    rng: random.Random
    books: Books = field(default_factory=Books)
    orders: list[Order] = field(default_factory=list)
    subcontracts: list[tuple[Project, Commitment]] = field(default_factory=list)

    def money(self, low: int, high: int) -> Decimal:
        """A random amount from `low` to `high`, in cents."""
        return D(self.rng.randint(low * 100, high * 100)) * CENT

    def ref(self, name: str) -> str:
        """A supplier reference of this run (a real Odoo keeps earlier runs')."""
        return f"{name}-{self.flow.tag}"


def _budgets(s: Scenario) -> None:
    flow = s.flow
    for project in s.projects:
        lines = [(code, s.money(20_000, 90_000)) for code in CODES]
        flow.save(
            Budget(
                origin=origin(f"{project.code}-B"),
                project_id=project.id,
                currency=flow.currency,
                status=BudgetStatus.APPROVED,
                lines=[
                    BudgetLine(line_key=str(n), cost_code=code, amount=amount)
                    for n, (code, amount) in enumerate(lines, 1)
                ],
            )
        )
        for code, amount in lines:
            s.books.add((project.code, code), "original_budget", amount)
        # Three revisions: an increase approved, a cut left pending, an
        # increase rejected
        for n, figure in (
            (1, "approved_changes"),
            (2, "pending_budget_changes"),
            (3, None),
        ):
            code = s.rng.choice(CODES)
            amount = s.money(1_000, 9_000) * (-1 if n == 2 else 1)
            flow.save(
                BudgetRevision(
                    origin=origin(f"{project.code}-BR-{n}"),
                    project_id=project.id,
                    number=f"{project.code}-BR-{n}",
                    reason="design change",
                    currency=flow.currency,
                    status=RevisionStatus.SUBMITTED,
                    lines=[BudgetRevisionLine(cost_code=code, amount=amount)],
                ),
                actor="pat@site.example",
            )
            if figure is not None:
                s.books.add((project.code, code), figure, amount)
    flow.drive()
    for project in s.projects:
        approve(flow.store, flow.hub, f"{project.code}-BR-1", "odoo:ddan", "ok")
        reject(flow.store, flow.hub, f"{project.code}-BR-3", "odoo:ddan", "no")


def _requisitions(s: Scenario) -> None:
    flow = s.flow
    decisions = []
    for project in s.projects:
        for n in range(1, 6):
            number = f"{project.code}-REQ-{n}"
            lines = [
                (str(k), s.rng.choice(CODES), D(s.rng.randint(4, 60)), s.money(3, 180))
                for k in range(1, s.rng.randint(2, 3) + 1)
            ]
            flow.save(_requisition(flow, project, number, lines))
            total = sum((quantity * price for _, _, quantity, price in lines), D(0))
            approver = "odoo:ppat" if total < 10_000 else "odoo:ddan"
            # The fifth of each project is rejected: it commits nothing
            decisions.append((project, number, lines, approver, n < 5))
    flow.drive()
    for project, number, lines, approver, approved in decisions:
        if not approved:
            reject(flow.store, flow.hub, number, approver, "use stock")
            continue
        approve(flow.store, flow.hub, number, approver)
        for key, code, quantity, price in lines:
            s.books.commit(
                (f"PO-{number}", key), (project.code, code), quantity * price
            )
    flow.drive()
    with flow.store.transaction() as tx:
        found = {c.number: c for c in tx.list(Commitment)}
    s.orders = [
        Order(project, found[f"PO-{number}"])
        for project, number, _, _, approved in decisions
        if approved
    ]


def _requisition(
    flow: OdooFlow,
    project: Project,
    number: str,
    lines: list[tuple[str, str, Decimal, Decimal]],
) -> Requisition:
    return Requisition(
        origin=origin(number),
        number=number,
        legal_entity_id=flow.entity.id,
        project_id=project.id,
        supplier_id=flow.supplier.id,
        requested_by="sam@site.example",
        currency=flow.currency,
        lines=[
            RequisitionLine(
                line_key=key,
                cost_code=code,
                quantity=quantity,
                unit_price=price,
                amount=quantity * price,
            )
            for key, code, quantity, price in lines
        ],
    )


def _deliver(s: Scenario, order: Order, name: str, got: dict[str, Decimal]) -> None:
    """Confirm a delivery of `got` (quantity per line) on the order."""
    commitment = order.commitment
    lines = [(key, str(quantity)) for key, quantity in got.items()]
    final = name == "GR-2"
    s.flow.save(receipt(commitment, f"{name}-{commitment.number}", *lines, final=final))
    for key, quantity in got.items():
        price = commitment.line(key).unit_price or D(0)
        s.books.receive((commitment.number, key), quantity * price)


def _order_invoice(
    s: Scenario, order: Order, name: str, quantities: dict[str, Decimal], *, over: bool
) -> tuple[str, list[InvoiceLineSpec]]:
    """Send an invoice for `quantities`: within 1.5 % of the order's prices,
    or 5 % over them when `over`. Returns its reference and lines."""
    commitment = order.commitment
    lines: list[InvoiceLineSpec] = []
    for key, quantity in quantities.items():
        ordered = commitment.line(key).unit_price or D(0)
        per_mille = 50 if over else s.rng.randint(-15, 15)
        price = (ordered * (1000 + per_mille) / 1000).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        lines.append((key, str(quantity), str(price), str(quantity * price)))
        order.billed[key] = order.billed.get(key, D(0)) + quantity
    reference = s.ref(f"{name}-{commitment.number}")
    s.flow.save(invoice(commitment, reference, *lines))
    return reference, lines


def _to_books(
    s: Scenario, number: str, reference: str, lines: list[InvoiceLineSpec]
) -> None:
    s.books.bill(reference, [((number, key), D(net)) for key, _, _, net in lines])


def _procure_to_pay(s: Scenario) -> None:
    flow = s.flow
    # First deliveries: part of every line
    for order in s.orders:
        order.first_receipt = {
            line.line_key: D(s.rng.randint(1, int(line.quantity or 0) - 1))
            for line in order.commitment.lines
        }
        _deliver(s, order, "GR-1", order.first_receipt)
    flow.drive()

    # Invoices for part of what arrived, within tolerance: the policy approves
    first_sent: list[tuple[Order, str, list[InvoiceLineSpec]]] = []
    for order in s.orders:
        billed = {
            k: D(s.rng.randint(1, int(q))) for k, q in order.first_receipt.items()
        }
        reference, lines = _order_invoice(s, order, "INV-1", billed, over=False)
        _to_books(s, order.commitment.number, reference, lines)
        first_sent.append((order, reference, lines))
    flow.drive()

    # The rest arrives on all orders but the last of each project
    finished = [o for o in s.orders if o is not _last_of(s, o.project)]
    for order in finished:
        rest = {
            line.line_key: (line.quantity or D(0)) - order.first_receipt[line.line_key]
            for line in order.commitment.lines
        }
        _deliver(s, order, "GR-2", rest)
    flow.drive()

    # Each finished order is billed for the rest; the first of each project
    # 5 % over the order's prices, which goes to a person
    over_priced: list[tuple[Order, str, list[InvoiceLineSpec]]] = []
    for order in finished:
        rest = {
            line.line_key: (line.quantity or D(0)) - order.billed[line.line_key]
            for line in order.commitment.lines
        }
        over = all(o.project is not order.project for o, _, _ in over_priced)
        reference, lines = _order_invoice(s, order, "INV-2", rest, over=over)
        if over:
            over_priced.append((order, reference, lines))
        else:
            _to_books(s, order.commitment.number, reference, lines)
    flow.drive()

    # The supplier sends a first invoice again, by e-mail: stopped as a duplicate
    order, reference, lines = first_sent[0]
    again = f" {reference.lower()} "
    flow.save(invoice(order.commitment, again, *lines, key="mail-1", system="email"))
    flow.drive()

    # The project manager approves the first project's over-priced invoice and
    # rejects the second's
    (approved, rejected) = over_priced
    approve(flow.store, flow.hub, approved[1], "odoo:ppat", "price agreed")
    _to_books(s, approved[0].commitment.number, approved[1], approved[2])
    reject(flow.store, flow.hub, rejected[1], "odoo:ppat", "not the agreed price")
    flow.drive()


def _last_of(s: Scenario, project: Project) -> Order:
    return [o for o in s.orders if o.project is project][-1]


def _subcontracts(s: Scenario) -> None:
    flow = s.flow
    for index, project in enumerate(s.projects):
        number = f"{project.code}-SC"
        codes = s.rng.sample(CODES, 3)
        values = [s.money(20_000, 60_000) for _ in codes]
        # The first project's retention has no cap; the second's is capped
        cap = None if index == 0 else s.money(1_000, 2_000)
        sc = Commitment(
            origin=origin(number),
            number=number,
            commitment_type=CommitmentType.SUBCONTRACT,
            legal_entity_id=flow.entity.id,
            project_id=project.id,
            supplier_id=flow.supplier.id,
            currency=flow.currency,
            status=CommitmentStatus.APPROVED,
            retention_percent=RETENTION,
            retention_cap=cap,
            lines=[
                CommitmentLine(
                    line_key=key, project_id=project.id, cost_code=code, amount=value
                )
                for key, code, value in zip("ABC", codes, values, strict=True)
            ],
        )
        flow.save(sc)
        s.subcontracts.append((project, sc))
        s.books.retention[number] = (cap, False)
        for key, code, value in zip("ABC", codes, values, strict=True):
            s.books.commit((number, key), (project.code, code), value)

        # Change orders: on A approved, on B left pending, on C rejected
        for key, code in zip("ABC", codes, strict=True):
            amount = s.money(1_000, 5_000)
            flow.save(
                ChangeOrder(
                    origin=origin(f"{number}-CO-{key}"),
                    commitment_id=sc.id,
                    number=f"{number}-CO-{key}",
                    reason="extra work",
                    currency=flow.currency,
                    status=ChangeOrderStatus.SUBMITTED,
                    lines=[
                        ChangeOrderLine(line_key=key, cost_code=code, amount=amount)
                    ],
                ),
                actor="pat@site.example",
            )
            if key == "A":
                s.books.commit((number, key), (project.code, code), amount)
            elif key == "B":
                s.books.add((project.code, code), "pending_change_orders", amount)
    flow.drive()
    for _, sc in s.subcontracts:
        approve(flow.store, flow.hub, f"{sc.number}-CO-A", "odoo:ddan")
        reject(flow.store, flow.hub, f"{sc.number}-CO-C", "odoo:ddan", "not agreed")


def _valuations(s: Scenario) -> None:
    """Two periods of claims, certified, billed and paid net of retention."""
    flow = s.flow
    for period in (1, 2):
        sent = []
        for index, (_, sc) in enumerate(s.subcontracts):
            claimed, certified = _claim(s, sc, period, complete=index == 0)
            flow.save(
                ProgressClaim(
                    origin=origin(f"{sc.number}-{period}"),
                    commitment_id=sc.id,
                    period=period,
                    period_end=date(2026, 2 + period, 28),
                    currency=flow.currency,
                    lines=[
                        ClaimLine(commitment_line_key=k, claimed_to_date=v)
                        for k, v in claimed.items()
                    ],
                )
            )
            sent.append((sc, certified))
        flow.drive()
        for sc, certified in sent:
            _certify_and_bill(s, sc, period, certified)
        flow.drive()


def _claim(
    s: Scenario, sc: Commitment, period: int, *, complete: bool
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """What is claimed and certified to date per line this period.

    Period 1 claims a fifth to a half of each line's value, and one line is
    certified below its claim. Period 2 completes the first project's
    subcontract (every line to its value, with the approved change order) and
    takes the second's further without completing it.
    """
    claimed, certified = {}, {}
    for key in "ABC":
        value = s.books.lines[(sc.number, key)].committed
        before = s.books.lines[(sc.number, key)].certified
        if period == 2 and complete:
            to_date = value
        else:
            share = s.rng.randint(20, 50) if period == 1 else s.rng.randint(55, 90)
            to_date = max(before, (value * share / 100).quantize(CENT))
        claimed[key] = to_date
        certified[key] = to_date
    if period == 1:
        key = s.rng.choice("ABC")
        certified[key] = claimed[key] - s.money(100, 900)
    return claimed, certified


def _certify_and_bill(
    s: Scenario, sc: Commitment, period: int, certified: dict[str, Decimal]
) -> None:
    flow, books = s.flow, s.books
    held_before = books.retention_held(sc.number)
    before = {k: books.lines[(sc.number, k)].certified for k in "ABC"}
    approve(
        flow.store,
        flow.hub,
        f"{sc.number} claim {period}",
        "odoo:ppat",
        certified=certified,
    )
    for key, to_date in certified.items():
        books.certify((sc.number, key), to_date)
    # The invoice bills what was certified this period; on the uncompleted
    # subcontract, period 2 leaves part of line C unbilled (an accrual)
    billed = {k: certified[k] - before[k] for k in "ABC"}
    if period == 2 and books.retention[sc.number][0] is not None:
        billed["C"] = (billed["C"] / 2).quantize(CENT)
    reference = s.ref(f"SUB-{period}-{sc.number}")
    lines: list[InvoiceLineSpec] = [
        (k, None, None, str(v)) for k, v in billed.items() if v > 0
    ]
    flow.save(invoice(sc, reference, *lines))
    _to_books(s, sc.number, reference, lines)
    # Odoo will pay it less the retention this certificate adds
    books.bills[reference].paid = books.bills[reference].total - (
        books.retention_held(sc.number) - held_before
    )


def _payments(s: Scenario) -> None:
    """Finance releases every posted bill; Odoo pays them in full, in part or
    not at all (subcontract bills: less retention); tieline reads them back."""
    flow = s.flow
    bills = odoo_view.bills(flow)
    for reference, bill in s.books.bills.items():
        approve(flow.store, flow.hub, reference, "odoo:ffay")
        if not reference.startswith("SUB-"):
            fate = s.rng.choice(("in full", "in full", "in part", "not yet"))
            bill.paid = {
                "in full": bill.total,
                "in part": D(s.rng.randint(1, int(bill.total / CENT) - 1)) * CENT,
                "not yet": D(0),
            }[fate]
        amount = bill.paid
        if amount > 0:
            odoo_view.pay(flow, bills[reference], date(2026, 4, 30), amount)
    sync_payments(flow.store, flow.hub, flow.erp)

    # At completion finance releases the first subcontract's retention, and
    # Odoo pays what it kept back on that subcontract's bills
    _, completed = s.subcontracts[0]
    with flow.store.transaction() as tx:
        ffay = flow.hub.policies.directory.parse("odoo:ffay")
        release_retention(tx, flow.hub, completed.id, ffay, "practical completion")
    cap, _ = s.books.retention[completed.number]
    s.books.retention[completed.number] = (cap, True)
    bills = odoo_view.bills(flow)
    for reference, bill in s.books.bills.items():
        if reference.startswith("SUB-") and completed.number in reference:
            odoo_view.pay(flow, bills[reference], date(2026, 6, 30))
            bill.paid = bill.total
    sync_payments(flow.store, flow.hub, flow.erp)


# -- what the report says, and what the books say -----------------------------


Reported = dict[str, dict[str, dict[str, Decimal]]]


def _reported(tmp_path: Path, flow: OdooFlow) -> tuple[Reported, Reported]:
    """`tieline report cost --format json`: amounts per project and cost code,
    and per commitment number."""
    result = CliRunner().invoke(
        app,
        ["report", "cost", "--format", "json"],
        env={
            "TIELINE_DATA_DIR": str(tmp_path / "var"),
            "TIELINE_DATABASE_URL": flow.store.url,
        },
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["warnings"] == []
    found: Reported = {}
    commitments: Reported = {}
    for project in report["projects"]:
        assert project["warnings"] == []
        lines = {
            line["cost_code"]: {key: D(line[key]) for key in AMOUNT_KEYS}
            for line in project["lines"]
        }
        lines["total"] = {key: D(project["totals"][key]) for key in AMOUNT_KEYS}
        found[project["code"]] = lines
        for figures in project["commitments"]:
            commitments[figures["number"]] = {
                key: D(figures[key]) for key in COMMITMENT_KEYS
            }
    return found, commitments


def _expected(s: Scenario) -> dict[str, dict[str, dict[str, Decimal]]]:
    """The books in the report's shape, derived figures worked out here."""
    expected: dict[str, dict[str, dict[str, Decimal]]] = {}
    for project in s.projects:
        lines = {}
        total: defaultdict[str, Decimal] = defaultdict(Decimal)
        for (code_of, code), sums in sorted(s.books.figures.items()):
            if code_of != project.code:
                continue
            amounts = {key: sums.get(key, D(0)) for key in AMOUNT_KEYS}
            amounts["revised_budget"] = (
                amounts["original_budget"] + amounts["approved_changes"]
            )
            amounts["remaining"] = amounts["revised_budget"] - amounts["committed"]
            placed = [
                line for line in s.books.lines.values() if line.place == (code_of, code)
            ]
            amounts["received_not_invoiced"] = sum(
                (line.accrued for line in placed), D(0)
            )
            amounts["open_commitment"] = sum(
                (line.committed - line.invoiced for line in placed), D(0)
            )
            lines[code] = amounts
            for key, amount in amounts.items():
                total[key] += amount
        lines["total"] = dict(total)
        expected[project.code] = lines
    return expected


def _commitment_books(s: Scenario) -> dict[str, dict[str, Decimal]]:
    found = {}
    numbers = [o.commitment.number for o in s.orders] + [
        sc.number for _, sc in s.subcontracts
    ]
    for number in numbers:
        lines = s.books.of(number)
        held = D(0)
        released = D(0)
        if number in s.books.retention:
            held = s.books.retention_held(number)
            if s.books.retention[number][1]:
                held, released = D(0), held
        committed = sum((line.committed for line in lines), D(0))
        invoiced = sum((line.invoiced for line in lines), D(0))
        found[number] = {
            "committed": committed,
            "received": sum((line.received + line.certified for line in lines), D(0)),
            "invoiced": invoiced,
            "received_not_invoiced": sum((line.accrued for line in lines), D(0)),
            "certified_to_date": sum((line.certified for line in lines), D(0)),
            "retention_held": held,
            "retention_released": released,
            "open_commitment": committed - invoiced,
        }
    return found


def _accrual_books(s: Scenario) -> dict[Place, Decimal]:
    sums: defaultdict[Place, Decimal] = defaultdict(Decimal)
    for line in s.books.lines.values():
        sums[line.place] += line.accrued
    return {place: amount for place, amount in sums.items() if amount > 0}


def _pairs() -> list[Any]:
    # Each back-end once and each Odoo once, not every pairing: the scenario
    # makes about a hundred Odoo writes, and the pairings add nothing.
    odoo = ("real", "real") if REAL_URL else (17, 19)
    return [
        pytest.param("sqlite", odoo[0], id=f"sqlite-odoo{odoo[0]}"),
        pytest.param(
            "postgres",
            odoo[1],
            id=f"postgres-odoo{odoo[1]}",
            marks=pytest.mark.postgres,
        ),
    ]


@pytest.mark.parametrize(("store", "odoo"), _pairs(), indirect=True)
def test_the_cost_report_after_every_workflow_equals_the_tests_own_books(
    odoo_flow: OdooFlow, tmp_path: Path
) -> None:
    flow = odoo_flow
    second = Project(
        origin=origin("P-2"),
        code="P-2",
        name="Harbour Yard",
        legal_entity_id=flow.entity.id,
        currency=flow.currency,
        cost_code_system="masterformat",
        start_date=date(2026, 2, 2),
    )
    flow.save(second)
    s = Scenario(flow, [flow.project, second], random.Random(SEED))

    # Given two projects run through every workflow, with Odoo paying
    _budgets(s)
    _requisitions(s)
    _subcontracts(s)
    _procure_to_pay(s)
    _valuations(s)
    _payments(s)
    s.books.settle()

    # When the cost report is read from the command line
    reported, by_commitment = _reported(tmp_path, flow)

    # Then every figure of every project and cost code is the books' figure,
    # accruals and open commitment included
    assert reported == _expected(s)

    # And so is each commitment's line in the report: open commitment,
    # accruals, certified to date and retention held and released
    books = _commitment_books(s)
    assert by_commitment == {
        number: {key: figures[key] for key in COMMITMENT_KEYS}
        for number, figures in books.items()
    }
    assert any(f["retention_held"] > 0 for f in by_commitment.values())
    assert any(f["retention_released"] > 0 for f in by_commitment.values())
    assert any(f["received_not_invoiced"] > 0 for f in by_commitment.values())

    # And so are each commitment's figures: accruals, certified work, retention
    figures = {
        f.number: {
            "committed": f.committed,
            "received": f.received,
            "invoiced": f.invoiced,
            "received_not_invoiced": f.received_not_invoiced,
            "certified_to_date": f.certified_to_date,
            "retention_held": f.retention_held,
            "retention_released": f.retention_released,
            "open_commitment": f.open_commitment,
        }
        for f in load_commitment_figures(flow.store)
    }
    assert figures == books

    # And the accruals (received, not invoiced) per project and cost code
    codes = {project.id: project.code for project in s.projects}
    with flow.store.transaction() as tx:
        accrued = accruals_by_cost_code(read_cost_records(tx))
    assert {
        (codes[project_id], code): amount
        for (project_id, code), amount in accrued.items()
    } == _accrual_books(s)

    # And Odoo's ledger agrees: the bills that count, and what is paid on them
    bills = odoo_view.bills(flow)
    assert sorted(bills) == sorted(s.books.bills)
    for reference, bill in bills.items():
        paid = odoo_view.money(flow, bill["amount_total"]) - odoo_view.money(
            flow, bill["amount_residual"]
        )
        assert (odoo_view.money(flow, bill["amount_total"]), paid) == (
            s.books.bills[reference].total,
            s.books.bills[reference].paid,
        ), reference
