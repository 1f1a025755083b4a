"""The project cost report: budget, commitments and actuals per cost code.

`load_cost_report(store)` reads every record the report needs in one
transaction (each kind once) and hands them to `build_cost_report`, a pure
function that indexes them in dicts and sums, so it runs in one pass over
thousands of records and is testable without a store.

The rules, stated once (tests/reports/ checks each):

- **Original budget**: the lines of the project's approved budgets. A draft
  budget does not count; a second approved budget is summed too, and flagged.
- **Approved changes**: the lines of approved budget revisions (+ or -).
  Submitted revisions are shown apart as `pending_budget_changes`; draft and
  rejected ones do not count.
- **Committed**: the lines of approved or closed commitments, each by the
  line's own project and cost code, plus the lines of their approved change
  orders. A change-order line's amount is a change (+ or -) under its own
  cost code, in the project of the commitment line with the same key (the
  commitment's project when the key is new: the change order adds a line).
  Submitted change orders of those commitments are shown apart as
  `pending_change_orders`. Draft and cancelled commitments do not count, nor
  any change order of theirs.
- **Received**: confirmed goods receipts (not drafts), each line in the
  project and cost code of the commitment line it receives against, a line
  added by an approved change order included, whatever the commitment's status
  now: the goods arrived.
- **Invoiced**: invoices and credit notes whose status is matched, approved,
  posted or paid, that is, checked against what they bill. Received (not yet
  checked), unmatched (billing nothing known) and rejected ones do not count.
  Net of tax, line by line; a credit note's lines count negative. A line goes
  to its own project and cost code; what it lacks comes from the commitment
  line it bills, then the project from the invoice's header. A line that
  still has no project or cost code is left out and named in the warnings;
  an invoice whose lines do not add up to its net total is named too, and
  its lines are what is reported.
- **Paid**: the allocations of paid payments (not pending or cancelled ones)
  to invoices that count. Per invoice, the allocations are added up first
  (gross G), then turned net of tax once: N = G * net total / gross total,
  rounded half-up (tax is taken to be paid in proportion). N is spread over
  the invoice's lines in proportion to their net amounts by the largest
  remainder (`tieline.reports._split`): each line's share rounded down to the
  cent (the currency's minor unit), the cents left over going one each to the
  lines with the largest remainders, ties to the earlier line. The shares add
  up to N exactly, and a fully paid invoice whose lines add up to its net
  total shows paid equal to invoiced. Paid on a credit note (a refund) counts
  negative.
- **Revised budget** = original budget + approved changes; **remaining** =
  revised budget - committed.
- **Currency**: an amount counts only in its own project's currency. A record
  in another currency is left out, never converted or summed, and named in
  that project's warnings. A record naming a project or commitment the store
  does not have goes to the report's own warnings.

- **Certified work** counts as received: for each subcontract, the lines of
  its latest certified (or paid) progress claim, certified to date, each in
  the place of the commitment line it values. Submitted, rejected and older
  claims do not count (a later certificate is to date, so it replaces them).
- **Received not invoiced** (the accrual) and **open commitment**: per
  commitment line as `tieline.reports._commitments` states them, summed
  into the line's project and cost code (a line a change order adds goes
  to the commitment's project), in the commitment's currency under the
  currency rule. Invoice lines billing no commitment line change neither.
- **Per commitment**: each approved or closed commitment of the project in
  its currency, with committed, received, invoiced, received not invoiced,
  open commitment, and for a subcontract certified to date and retention
  held and released (`ProjectCost.commitments`).
TODO: cost codes are reported as recorded, not rolled up their hierarchy: a
user who wants a division total (all of 03 for concrete) adds lines by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from tieline.model import (
    Budget,
    BudgetRevision,
    BudgetStatus,
    CanonicalRecord,
    ChangeOrder,
    ChangeOrderStatus,
    Commitment,
    CostCode,
    GoodsReceipt,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    ProgressClaim,
    Project,
    ReceiptStatus,
    RevisionStatus,
)
from tieline.model.invoices import SupplierInvoice
from tieline.reports._commitments import (
    accruals,
    build_commitment_figures,
    open_by_line,
)
from tieline.reports._records import (
    COUNTED_COMMITMENTS,
    COUNTED_INVOICES,
    CostRecords,
    latest_certificates,
    read_cost_records,
)
from tieline.reports._report import (
    CommitmentFigures,
    CostAmounts,
    CostLine,
    CostReport,
    Figure,
    ProjectCost,
    ReportWarning,
)
from tieline.reports._split import prorate, split_pro_rata
from tieline.store import Store

_REVISION_FIGURES = {
    RevisionStatus.APPROVED: Figure.APPROVED_CHANGES,
    RevisionStatus.SUBMITTED: Figure.PENDING_BUDGET_CHANGES,
}
_CHANGE_ORDER_FIGURES = {
    ChangeOrderStatus.APPROVED: Figure.COMMITTED,
    ChangeOrderStatus.SUBMITTED: Figure.PENDING_CHANGE_ORDERS,
}

# Where an amount goes: (project id, cost code).
Place = tuple[str, str]


def load_cost_report(store: Store, *, project_code: str | None = None) -> CostReport:
    """The cost report over what `store` holds now (read in one transaction)."""
    with store.transaction() as tx:
        records = read_cost_records(tx)
    return build_cost_report(records, project_code=project_code)


def build_cost_report(
    records: CostRecords, *, project_code: str | None = None
) -> CostReport:
    """The cost report of `records`; only projects coded `project_code` if given.

    Two projects may share a code: both are reported. The report's own
    warnings (records placed in no project the store has) are kept whatever
    the filter.
    """
    builder = _CostBuilder(records)
    builder.add_budgets(records.budgets)
    builder.add_revisions(records.revisions)
    builder.add_commitments(records.commitments)
    builder.add_change_orders(records.change_orders)
    builder.add_receipts(records.receipts)
    builder.add_certified_work(records.claims)
    builder.add_invoices(records.invoices)
    builder.add_payments(records.payments)
    builder.add_commitment_figures(records)
    return builder.report(project_code)


def describe(record: CanonicalRecord) -> str:
    """How the report names a record to a person ("commitment PO-7")."""
    if isinstance(record, SupplierInvoice):
        return (
            f"{record.invoice_type.value.replace('_', ' ')} {record.supplier_reference}"
        )
    number = getattr(record, "number", None) or getattr(record, "reference", None)
    return f"{record.kind.replace('_', ' ')} {number or record.origin.key}"


class _CostBuilder:
    """Sums records into (project, cost code, figure) buckets; one use only."""

    def __init__(self, records: CostRecords) -> None:
        self._projects = {project.id: project for project in records.projects}
        self._commitments = {c.id: c for c in records.commitments}
        self._invoices = {invoice.id: invoice for invoice in records.invoices}
        self._code_names = _index_code_names(records.cost_codes)
        # (commitment id, line key) -> where that commitment line's cost goes.
        self._lines: dict[tuple[str, str], Place] = {
            (c.id, line.line_key): (line.project_id, line.cost_code)
            for c in records.commitments
            for line in c.lines
        }
        # Invoices that count, each line with its place (None: not placed).
        self._billed: dict[str, list[Place | None]] = {}
        self._sums: defaultdict[str, defaultdict[str, dict[Figure, Decimal]]] = (
            defaultdict(lambda: defaultdict(dict))
        )
        self._warnings: defaultdict[str, dict[ReportWarning, None]] = defaultdict(dict)
        self._unplaced: dict[ReportWarning, None] = {}
        self._figures: defaultdict[str, list[CommitmentFigures]] = defaultdict(list)

    # -- summing, with the currency rule -------------------------------------

    def _add(
        self,
        record: CanonicalRecord,
        currency: str,
        place: Place,
        figure: Figure,
        amount: Decimal,
    ) -> None:
        project_id, cost_code = place
        project = self._projects.get(project_id)
        if project is None:
            self._warn(
                None, record, f"names project {project_id}, not in the store; left out"
            )
        elif currency != project.currency:
            self._warn(
                project_id,
                record,
                f"is in {currency}, not the project's {project.currency}; left out",
            )
        else:
            bucket = self._sums[project_id][cost_code]
            bucket[figure] = bucket.get(figure, Decimal(0)) + amount

    def _warn(
        self, project_id: str | None, record: CanonicalRecord, reason: str
    ) -> None:
        warning = ReportWarning(describe(record), record.subject, reason)
        if project_id is not None and project_id in self._projects:
            self._warnings[project_id][warning] = None
        else:
            self._unplaced[warning] = None

    # -- budgets -------------------------------------------------------------

    def add_budgets(self, budgets: Iterable[Budget]) -> None:
        """Original budget: the lines of approved budgets."""
        seen: set[str] = set()
        for budget in budgets:
            if budget.status is not BudgetStatus.APPROVED:
                continue
            if budget.project_id in seen:
                self._warn(
                    budget.project_id,
                    budget,
                    "is another approved budget of this project; its lines are "
                    "added to the others'",
                )
            seen.add(budget.project_id)
            for line in budget.lines:
                place = (budget.project_id, line.cost_code)
                self._add(
                    budget, budget.currency, place, Figure.ORIGINAL_BUDGET, line.amount
                )

    def add_revisions(self, revisions: Iterable[BudgetRevision]) -> None:
        """Approved changes, and submitted ones as pending."""
        for revision in revisions:
            figure = _REVISION_FIGURES.get(revision.status)
            if figure is None:
                continue
            for line in revision.lines:
                place = (revision.project_id, line.cost_code)
                self._add(revision, revision.currency, place, figure, line.amount)

    # -- commitments ---------------------------------------------------------

    def add_commitments(self, commitments: Iterable[Commitment]) -> None:
        """Committed: the lines of approved and closed commitments."""
        for commitment in commitments:
            if commitment.status not in COUNTED_COMMITMENTS:
                continue
            for line in commitment.lines:
                place = (line.project_id, line.cost_code)
                self._add(
                    commitment,
                    commitment.currency,
                    place,
                    Figure.COMMITTED,
                    line.amount,
                )

    def add_change_orders(self, change_orders: Iterable[ChangeOrder]) -> None:
        """Approved change orders into committed, submitted ones as pending."""
        # Sorted so that when two change orders add the same new line key, the
        # same one wins every time.
        for order in sorted(change_orders, key=lambda o: (o.commitment_id, o.number)):
            commitment = self._commitment_of(order, order.commitment_id)
            if commitment is None:
                continue
            if order.status is ChangeOrderStatus.APPROVED:
                self._add_new_lines(order, commitment)
            figure = _CHANGE_ORDER_FIGURES.get(order.status)
            if figure is None or commitment.status not in COUNTED_COMMITMENTS:
                continue
            for line in order.lines:
                # A line key the commitment lacks is a line the order adds.
                project_id, _ = self._lines.get(
                    (commitment.id, line.line_key), (commitment.project_id, "")
                )
                place = (project_id, line.cost_code)
                self._add(order, order.currency, place, figure, line.amount)

    def _commitment_of(
        self, record: CanonicalRecord, commitment_id: str
    ) -> Commitment | None:
        commitment = self._commitments.get(commitment_id)
        if commitment is None:
            reason = f"names commitment {commitment_id}, not in the store; left out"
            self._warn(None, record, reason)
        return commitment

    def _add_new_lines(self, order: ChangeOrder, commitment: Commitment) -> None:
        for line in order.lines:
            key = (commitment.id, line.line_key)
            self._lines.setdefault(key, (commitment.project_id, line.cost_code))

    # -- receipts ------------------------------------------------------------

    def add_receipts(self, receipts: Iterable[GoodsReceipt]) -> None:
        """Received: confirmed receipt lines, placed by their commitment line."""
        for receipt in receipts:
            if receipt.status is not ReceiptStatus.CONFIRMED:
                continue
            commitment = self._commitment_of(receipt, receipt.commitment_id)
            if commitment is None:
                continue
            for line in receipt.lines:
                place = self._lines.get((commitment.id, line.commitment_line_key))
                if place is None:
                    self._warn(
                        commitment.project_id,
                        receipt,
                        f"receives against line {line.commitment_line_key}, which "
                        f"commitment {commitment.number} does not have; left out",
                    )
                    continue
                self._add(
                    receipt, receipt.currency, place, Figure.RECEIVED, line.amount
                )

    def add_certified_work(self, claims: Iterable[ProgressClaim]) -> None:
        """Received: work certified to date on each subcontract's latest certificate."""
        for claim in latest_certificates(claims).values():
            commitment = self._commitment_of(claim, claim.commitment_id)
            if commitment is None:
                continue
            for line in claim.lines:
                place = self._lines.get((commitment.id, line.commitment_line_key))
                if place is None:
                    self._warn(
                        commitment.project_id,
                        claim,
                        f"values line {line.commitment_line_key}, which commitment "
                        f"{commitment.number} does not have; left out",
                    )
                    continue
                amount = line.certified_to_date or Decimal(0)
                self._add(claim, claim.currency, place, Figure.RECEIVED, amount)

    # -- invoices and payments -----------------------------------------------

    def add_invoices(self, invoices: Iterable[SupplierInvoice]) -> None:
        """Invoiced: net line amounts of invoices that count, credit notes negative."""
        for invoice in invoices:
            if invoice.status not in COUNTED_INVOICES:
                continue
            places = [self._place_invoice_line(invoice, line) for line in invoice.lines]
            self._billed[invoice.id] = places
            for line, place in zip(invoice.lines, places, strict=True):
                if place is not None:
                    amount = invoice.sign * line.net_amount
                    self._add(invoice, invoice.currency, place, Figure.INVOICED, amount)
            self._check_net_total(invoice)

    def _place_invoice_line(
        self, invoice: SupplierInvoice, line: InvoiceLine
    ) -> Place | None:
        billed_project = billed_code = None
        if invoice.commitment_id and line.commitment_line_key:
            billed = self._lines.get((invoice.commitment_id, line.commitment_line_key))
            if billed is not None:
                billed_project, billed_code = billed
        project_id = line.project_id or billed_project or invoice.project_id
        cost_code = line.cost_code or billed_code
        if project_id and cost_code:
            return (project_id, cost_code)
        self._warn(
            project_id,
            invoice,
            f"line {line.line_key} has no project and cost code, of its own or "
            "from a commitment line; left out of invoiced and paid",
        )
        return None

    def _check_net_total(self, invoice: SupplierInvoice) -> None:
        lines_net = sum((line.net_amount for line in invoice.lines), Decimal(0))
        if lines_net != invoice.net_total:
            self._warn(
                self._invoice_project(invoice),
                invoice,
                f"lines add up to {lines_net} net, but its net total is "
                f"{invoice.net_total}; the lines are reported",
            )

    def add_payments(self, payments: Iterable[Payment]) -> None:
        """Paid: allocations of paid payments, net of tax, spread over lines."""
        gross_paid: dict[str, Decimal] = {}
        for payment in payments:
            if payment.status is not PaymentStatus.PAID:
                continue
            for allocation in payment.allocations:
                if self._allocation_counts(payment, allocation):
                    invoice_id = allocation.invoice_id
                    gross_paid[invoice_id] = (
                        gross_paid.get(invoice_id, Decimal(0)) + allocation.amount
                    )
        for invoice_id, gross in gross_paid.items():
            self._spread_paid(self._invoices[invoice_id], gross)

    def _allocation_counts(
        self, payment: Payment, allocation: PaymentAllocation
    ) -> bool:
        invoice = self._invoices.get(allocation.invoice_id)
        if invoice is None:
            reason = (
                f"settles invoice {allocation.invoice_id}, not in the store; left out"
            )
            self._warn(None, payment, reason)
            return False
        project_id = self._invoice_project(invoice)
        if invoice.status not in COUNTED_INVOICES:
            reason = (
                f"settles {describe(invoice)}, which is {invoice.status.value} and "
                "does not count; left out of paid"
            )
            self._warn(project_id, payment, reason)
            return False
        if payment.currency != invoice.currency:
            reason = (
                f"is in {payment.currency}, but {describe(invoice)} is in "
                f"{invoice.currency}; left out of paid"
            )
            self._warn(project_id, payment, reason)
            return False
        return True

    def _invoice_project(self, invoice: SupplierInvoice) -> str | None:
        # The project whose warnings name an invoice: its header's, else the
        # first its lines went to.
        places = self._billed.get(invoice.id, [])
        return invoice.project_id or _first_project(places)

    def _spread_paid(self, invoice: SupplierInvoice, gross: Decimal) -> None:
        if invoice.gross_total == 0:
            self._warn(
                self._invoice_project(invoice),
                invoice,
                "is paid but its gross total is zero; left out of paid",
            )
            return
        net = prorate(gross, invoice.net_total, invoice.gross_total, invoice.currency)
        weights = [line.net_amount for line in invoice.lines]
        shares = split_pro_rata(net, weights, invoice.currency)
        for share, place in zip(shares, self._billed[invoice.id], strict=True):
            if place is not None:
                amount = invoice.sign * share
                self._add(invoice, invoice.currency, place, Figure.PAID, amount)

    # -- accruals and open commitment ----------------------------------------

    def add_commitment_figures(self, records: CostRecords) -> None:
        """Accrual and open commitment per cost code; each commitment's figures."""
        for figure, sums in (
            (Figure.RECEIVED_NOT_INVOICED, accruals(records)),
            (Figure.OPEN_COMMITMENT, open_by_line(records)),
        ):
            for key, amount in sums.items():
                commitment = self._commitments.get(key[0])
                place = self._lines.get(key)
                # An unknown commitment or line is named by receipts already.
                if commitment is not None and place is not None:
                    self._add(commitment, commitment.currency, place, figure, amount)
        for figures in build_commitment_figures(records):
            self._figures[figures.project_id].append(figures)

    # -- the report ----------------------------------------------------------

    def report(self, project_code: str | None) -> CostReport:
        """The report of the projects asked for, sorted by code and source key."""
        projects = sorted(
            (
                project
                for project in self._projects.values()
                if project_code is None or project.code == project_code
            ),
            key=lambda p: (p.code, p.origin.key, p.id),
        )
        return CostReport(
            projects=tuple(self._project_cost(project) for project in projects),
            warnings=tuple(self._unplaced),
        )

    def _project_cost(self, project: Project) -> ProjectCost:
        sums: dict[str, dict[Figure, Decimal]] = self._sums.get(project.id, {})
        lines = tuple(
            CostLine(
                cost_code=code,
                cost_code_name=self._code_name(project, code),
                amounts=CostAmounts.from_sums(sums[code]),
            )
            for code in sorted(sums)
        )
        return ProjectCost(
            project_id=project.id,
            code=project.code,
            source_key=project.origin.key,
            name=project.name,
            currency=project.currency,
            lines=lines,
            totals=CostAmounts.total(line.amounts for line in lines),
            warnings=tuple(self._warnings.get(project.id, {})),
            commitments=tuple(
                figures
                for figures in self._figures.get(project.id, [])
                if figures.currency == project.currency
            ),
        )

    def _code_name(self, project: Project, code: str) -> str | None:
        return self._code_names.get((project.id, code)) or self._code_names.get(
            (project.cost_code_system, code)
        )


def _index_code_names(cost_codes: Iterable[CostCode]) -> dict[tuple[str, str], str]:
    # A project's own code is keyed by the project's id, a code system's by
    # the system's name; ids are UUIDs, so the two never collide.
    return {
        (code.project_id or code.system, code.code): code.name for code in cost_codes
    }


def _first_project(places: Iterable[Place | None]) -> str | None:
    return next((place[0] for place in places if place is not None), None)
