"""The synchronizer: pushes canonical records to one Odoo and pulls changes back.

Push (run as consumers of committed events by `consumers.push_consumer`):
an approved commitment becomes a confirmed purchase order, a goods receipt
validates the order's receipt (a partial one leaves a backorder), an
approved invoice becomes a posted vendor bill, and a bill's payment status
comes back. Every method takes the store transaction it runs in; bindings
and the canonical changes it makes are committed with it.

Pull: `pull_suppliers` reads partners changed since the watermark
(`write_date >=` the mark, archived included; rows already seen at the mark
are skipped only when their content is unchanged), saves them through
`Transaction.save` with actor `odoo:<instance>`, and finds deletions by
reconciling bound ids with what Odoo still has.

TODO: only suppliers are pulled; changes made in Odoo to projects, orders,
receipts and bills are not read back by write_date yet (a bill's payment
status is read per invoice by `read_payment_status`), so edits made there
stay invisible to tieline until they are pulled too.
Odoo's "Send Webhook Notification" goes through `webhooks.py`, which applies
a notified partner with `apply_partner`, the same code as the pull.

A partner tieline made itself (its external id `tieline.supplier_<id>` in
`ir.model.data`), or one whose tax id is a canonical supplier's, is bound to
that supplier rather than imported as a second one; so a push that failed
after creating its partner leaves no duplicate behind, and its replay finds
the partner and its binding.

Failures: everything tieline can check itself (status, the records a push
needs in the store, the legal entity's Odoo company, the currency and that
it is active in Odoo, the invoice's tax rates, a purchase journal in the
bill's company) is checked before the first write to Odoo, so a push
that cannot go leaves nothing in Odoo. Odoo's refusals surface as
`OdooRejected` (permanent, Odoo's message kept); a record that depends on
one not yet in Odoo raises `RetryableError` so the consumer tries again
later.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tieline.connectors.odoo._adapter import MODULE, Adapter, external_name
from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo._client import OdooClient
from tieline.connectors.odoo._in_doubt import DEFAULT_WINDOW, InDoubtLedger
from tieline.connectors.odoo.mappers._base import many2one_id
from tieline.connectors.odoo.mappers.commitments import CommitmentMapper, distribution
from tieline.connectors.odoo.mappers.cost_codes import COST_CODE_PLAN, CostCodeMapper
from tieline.connectors.odoo.mappers.invoices import InvoiceMapper
from tieline.connectors.odoo.mappers.payments import PaymentMapper
from tieline.connectors.odoo.mappers.projects import ProjectAccountMapper, ProjectMapper
from tieline.connectors.odoo.mappers.receipts import ReceiptMapper
from tieline.connectors.odoo.mappers.suppliers import SupplierMapper
from tieline.connectors.odoo.mappers.taxes import TaxMapper
from tieline.errors import RetryableError, ValidationFailed
from tieline.logging import get_logger
from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CostCode,
    GoodsReceipt,
    InvoiceLine,
    InvoiceStatus,
    LegalEntity,
    Project,
    ReceiptStatus,
    Supplier,
    SupplierStatus,
)
from tieline.model.invoices import SupplierInvoice
from tieline.store import Transaction
from tieline.suppliers import normalise_tax_id

log = get_logger(__name__)

PRODUCTS = {
    "goods": ("TIELINE-GOODS", "Construction goods (tieline)", "consu"),
    "service": ("TIELINE-SERVICE", "Subcontracted works (tieline)", "service"),
}


@dataclass(frozen=True, slots=True)
class PullResult:
    """What a pull changed: canonical records saved, and Odoo deletions found."""

    changed: int
    deleted: int


class OdooSync:
    """Pushes to and pulls from one Odoo instance through one client."""

    def __init__(
        self,
        client: OdooClient,
        *,
        instance: str,
        companies: Mapping[str, int | str] | None = None,
        lock_wait: float = 5.0,
        in_doubt_window: float = DEFAULT_WINDOW,
    ) -> None:
        self.client = client
        self.instance = instance
        self.actor = f"odoo:{instance}"
        # Legal entity code -> Odoo company id or name, for entities not
        # bound yet (the settings' TIELINE_ODOO_COMPANIES).
        self.companies = dict(companies or {})
        # Held by whoever pushes through this synchronizer (the push consumer,
        # the workflows' gateway): an order, its receipt and its bill share a
        # partner, products and analytic accounts, and two pushes creating
        # the same partner at once would both miss it and create two.
        self.lock = threading.Lock()
        # How long, in seconds, a push holding `lock` may wait for a row
        # another transaction holds (PostgreSQL); see `_locks.push_lock`.
        self.lock_wait = lock_wait
        # How long a create that got no answer may still commit in Odoo: no
        # second create is sent for the record before it has passed.
        self.in_doubt_window = in_doubt_window

    def _tools(self, tx: Transaction) -> tuple[Binder, Adapter]:
        binder = Binder(tx.connection, self.instance)
        adapter = Adapter(self.client, binder, in_doubt_window=self.in_doubt_window)
        return binder, adapter

    # Reference data.
    def bind_legal_entity(
        self, tx: Transaction, entity: LegalEntity, company_id: int
    ) -> None:
        """Map a legal entity to its Odoo company (chosen by the integrator)."""
        binder, _ = self._tools(tx)
        binder.bind(
            "res.company", entity.id, company_id, kind=entity.kind, external_id=None
        )

    def company_id(self, tx: Transaction, legal_entity_id: str) -> int:
        """The Odoo company of a legal entity, or a clear error.

        A legal entity not bound yet is bound here to the company the
        configured map names for its code, else to the one company that has
        exactly its name.
        """
        binder, _ = self._tools(tx)
        company = binder.odoo_id("res.company", legal_entity_id)
        if company is not None:
            return company
        entity = _require(
            tx.get(LegalEntity, legal_entity_id),
            "legal entity",
            legal_entity_id,
            f"legal entity {legal_entity_id}",
        )
        found = self._configured_company(entity)
        if found is None:
            raise ValidationFailed(
                f"legal entity {entity.code} ({entity.name}) has no Odoo company "
                f"on {self.instance}: TIELINE_ODOO_COMPANIES does not name one and "
                f"no company there is called {entity.name!r}; add "
                f"{entity.code}=<company id or name> to TIELINE_ODOO_COMPANIES",
                record=f"legal entity {entity.code}",
                field="legal_entity_id",
            )
        self.bind_legal_entity(tx, entity, found)
        log.info("odoo.company.bound", legal_entity=entity.code, company=found)
        return found

    def _companies(
        self, tx: Transaction, legal_entity_ids: set[str], record: str
    ) -> dict[str, int]:
        """The Odoo company of each legal entity a push needs; the store's
        records are checked first, then Odoo is asked for unbound ones."""
        binder, _ = self._tools(tx)
        for entity_id in sorted(legal_entity_ids):
            if not entity_id:
                raise ValidationFailed(
                    "names no legal entity, so no Odoo company can book it",
                    record=record,
                    field="legal_entity_id",
                )
            if binder.odoo_id("res.company", entity_id) is None:
                _require(
                    tx.get(LegalEntity, entity_id), "legal entity", entity_id, record
                )
        return {e: self.company_id(tx, e) for e in sorted(legal_entity_ids)}

    def _configured_company(self, entity: LegalEntity) -> int | None:
        """The company the map names for the entity, else the one of its name."""
        wanted = self.companies.get(entity.code)
        if isinstance(wanted, int):
            return wanted
        rows = self.client.search_read(
            "res.company", [("name", "=ilike", wanted or entity.name)], ["name"]
        )
        matching = [
            r["id"]
            for r in rows
            if r["name"].strip().casefold() == (wanted or entity.name).casefold()
        ]
        if len(matching) != 1:
            if wanted is not None:
                raise ValidationFailed(
                    f"TIELINE_ODOO_COMPANIES names company {wanted!r} for "
                    f"{entity.code}, and Odoo has {len(matching)} of that name",
                    record=f"legal entity {entity.code}",
                    field="legal_entity_id",
                )
            return None
        return int(matching[0])

    def currency_id(self, code: str, record: str | None = None) -> int:
        """Odoo's currency for an ISO code; one that is there but inactive is
        refused, since Odoo would keep the document in it without a rate and
        refuse to post a bill in it."""
        found = self.client.search_read(
            "res.currency",
            [("name", "=", code)],
            ["active"],
            context={"active_test": False},
        )
        if not found:
            raise ValidationFailed(
                f"Odoo {self.instance} has no currency {code}",
                record=record,
                field="currency",
            )
        if not any(row["active"] for row in found):
            raise ValidationFailed(
                f"currency {code} is not active in Odoo {self.instance}: activate "
                "it there (Accounting, Configuration, Currencies) with its rates, "
                "then replay",
                record=record,
                field="currency",
            )
        return int(next(row["id"] for row in found if row["active"]))

    def product_id(self, tx: Transaction, kind: str) -> int:
        """tieline's generic goods or service product, created once."""
        code, name, ptype = PRODUCTS[kind]
        _, adapter = self._tools(tx)
        return adapter.ensure(
            kind="product",
            model="product.product",
            canonical_id=kind,
            values={
                "name": name,
                "default_code": code,
                "type": ptype,
                "purchase_method": "receive",
            },
            natural_key=[("default_code", "=", code)],
        ).odoo_id

    def _plan_id(self, tx: Transaction, name: str) -> int:
        _, adapter = self._tools(tx)
        return adapter.ensure(
            kind="analytic_plan",
            model="account.analytic.plan",
            canonical_id=name.lower().replace(" ", "_"),
            values={"name": name, "default_applicability": "optional"},
            natural_key=[("name", "=", name), ("parent_id", "=", False)],
        ).odoo_id

    # Suppliers, projects, cost codes.
    def push_supplier(self, tx: Transaction, supplier: Supplier) -> int:
        """The supplier's partner: matched by binding, external id or tax id first."""
        _binder, adapter = self._tools(tx)
        mapper = SupplierMapper()
        values = mapper.to_odoo(supplier, known_accounts=set())
        values["supplier_rank"] = 1
        ensured = adapter.ensure(
            kind=supplier.kind,
            model=mapper.model,
            canonical_id=supplier.id,
            values=values,
            natural_key=mapper.natural_key(supplier),
        )
        if not ensured.created:
            self._update_supplier(adapter, mapper, supplier, ensured.odoo_id)
        return ensured.odoo_id

    def _update_supplier(
        self, adapter: Adapter, mapper: SupplierMapper, supplier: Supplier, partner: int
    ) -> None:
        row = adapter.read_one("res.partner", partner, ["bank_ids"])
        accounts = self.client.read("res.partner.bank", row["bank_ids"], ["acc_number"])
        known = {a["acc_number"] for a in accounts}
        self.client.write(
            "res.partner", [partner], mapper.to_odoo(supplier, known_accounts=known)
        )

    def push_project(self, tx: Transaction, project: Project) -> int:
        """The project and its analytic account in the "Projects" plan."""
        _binder, adapter = self._tools(tx)
        company = self.company_id(tx, project.legal_entity_id)
        plan = self._plan_id(tx, "Projects")
        account_mapper, project_mapper = ProjectAccountMapper(), ProjectMapper()
        account = adapter.ensure(
            kind=project.kind,
            model=account_mapper.model,
            canonical_id=project.id,
            values=account_mapper.to_odoo(project, plan_id=plan, company_id=company),
            natural_key=account_mapper.natural_key(project, plan_id=plan),
            context=company_context(company),
        ).odoo_id
        version = self.client.version
        return adapter.ensure(
            kind=project.kind,
            model=project_mapper.model,
            canonical_id=project.id,
            values=project_mapper.to_odoo(
                project, account_id=account, company_id=company, version=version
            ),
            natural_key=project_mapper.natural_key(account, version),
            context=company_context(company),
        ).odoo_id

    def push_cost_code(self, tx: Transaction, cost_code: CostCode) -> int:
        """The cost code's analytic account in tieline's "Cost codes" plan."""
        _, adapter = self._tools(tx)
        plan = self._plan_id(tx, COST_CODE_PLAN)
        mapper = CostCodeMapper()
        return adapter.ensure(
            kind=cost_code.kind,
            model=mapper.model,
            canonical_id=cost_code.id,
            values=mapper.to_odoo(cost_code, plan_id=plan),
            natural_key=mapper.natural_key(cost_code, plan_id=plan),
        ).odoo_id

    def _check_analytics(
        self, tx: Transaction, pairs: set[tuple[str, str]], record: str
    ) -> set[str]:
        """Check that each (project, cost code) is in the store; returns the
        projects' legal entities (their companies are needed too)."""
        entities = set()
        for project_id, code in sorted(pairs):
            project = _require(
                tx.get(Project, project_id), "project", project_id, record
            )
            _find_cost_code(tx, project, code, record)
            entities.add(project.legal_entity_id)
        return entities

    def _analytic(
        self,
        tx: Transaction,
        project_id: str,
        code: str,
        record: str,
        pushed: set[str] | None = None,
    ) -> dict[str, Decimal]:
        """The distribution of a line; `pushed` names projects already ensured."""
        project = _require(tx.get(Project, project_id), "project", project_id, record)
        if pushed is None or project.id not in pushed:
            self.push_project(tx, project)
            if pushed is not None:
                pushed.add(project.id)
        binder, _ = self._tools(tx)
        project_account = binder.odoo_id("account.analytic.account", project.id)
        cost_code = _find_cost_code(tx, project, code, record)
        cost_account = self.push_cost_code(tx, cost_code)
        return distribution(project_account or 0, cost_account)

    # Commitments.
    def push_commitment(self, tx: Transaction, commitment: Commitment) -> int:
        """An approved commitment as a confirmed purchase order (lines bound).

        Checked before the first write to Odoo: the status, the supplier,
        projects and cost codes in the store, the Odoo company of the
        commitment's legal entity and of its projects', and the currency.
        """
        record = f"commitment {commitment.number}"
        if commitment.status is not CommitmentStatus.APPROVED:
            raise ValidationFailed(
                f"only approved commitments go to Odoo, not {commitment.status}",
                record=record,
                field="status",
            )
        supplier = _require(
            tx.get(Supplier, commitment.supplier_id),
            "supplier",
            commitment.supplier_id,
            record,
        )
        pairs = {(line.project_id, line.cost_code) for line in commitment.lines}
        entities = self._check_analytics(tx, pairs, record)
        company = self._companies(tx, {commitment.legal_entity_id, *entities}, record)[
            commitment.legal_entity_id
        ]
        currency = self.currency_id(commitment.currency, record)

        # Nothing was written to Odoo before this line.
        binder, adapter = self._tools(tx)
        mapper = CommitmentMapper()
        partner = self.push_supplier(tx, supplier)

        # Lines share a few project and cost code pairs (an award of 80 pay
        # items has a handful of WBS codes): ensure each pair's accounts once.
        known: dict[tuple[str, str], dict[str, Decimal]] = {}
        pushed: set[str] = set()

        def accounts(line: CommitmentLine) -> dict[str, Decimal]:
            pair = (line.project_id, line.cost_code)
            if pair not in known:
                known[pair] = self._analytic(tx, *pair, record, pushed)
            return known[pair]

        values = mapper.to_odoo(
            commitment,
            partner_id=partner,
            company_id=company,
            currency_id=currency,
            product_id=self.product_id(tx, mapper.product_kind(commitment)),
            accounts=accounts,
            taxes_field=self.client.version.order_line_taxes_field,
        )
        order = adapter.ensure(
            kind=commitment.kind,
            model=mapper.model,
            canonical_id=commitment.id,
            values=values,
            natural_key=mapper.natural_key(commitment, partner_id=partner),
            context=company_context(company),
        ).odoo_id
        self._bind_order_lines(binder, commitment, order)
        self._confirm(order, company)
        return order

    def _bind_order_lines(
        self, binder: Binder, commitment: Commitment, order: int
    ) -> None:
        (row,) = self.client.read("purchase.order", [order], ["order_line"])
        lines = self.client.read("purchase.order.line", row["order_line"], ["sequence"])
        ordered = sorted(lines, key=lambda r: (r.get("sequence") or 0, r["id"]))
        for line, odoo_line in zip(commitment.lines, ordered, strict=False):
            key = f"{commitment.id}#{line.line_key}"
            binder.bind(
                "purchase.order.line",
                key,
                odoo_line["id"],
                kind="commitment_line",
                external_id=None,
            )

    def _confirm(self, order: int, company: int) -> None:
        (row,) = self.client.read("purchase.order", [order], ["state"])
        if row["state"] in ("draft", "sent"):
            self.client.call(
                "purchase.order",
                "button_confirm",
                [order],
                context=company_context(company),
            )
            log.info("odoo.order.confirmed", order=order)

    # Receipts.
    def push_receipt(self, tx: Transaction, receipt: GoodsReceipt) -> int:
        """Validate the order's open receipt with the received quantities.

        A final receipt waits (`RetryableError`) while a partial one of the
        same order is confirmed in tieline but not in Odoo yet: validated
        first, the final one would cancel the backorder, leaving the
        partial one nothing to validate and Odoo short of its quantities.
        Receipts are events of their own subjects, so their pushes may come
        in any order (a partial one retried while its order was not in Odoo
        yet, say).
        """
        binder, adapter = self._tools(tx)
        order = binder.odoo_id("purchase.order", receipt.commitment_id)
        if order is None:
            raise RetryableError(
                f"receipt {receipt.number}: its order is not in Odoo yet"
            )
        if receipt.final:
            waiting = self._partials_not_pushed(tx, binder, receipt)
            if waiting:
                raise RetryableError(
                    f"final receipt {receipt.number} waits for "
                    f"{', '.join(waiting)} of the same order to reach Odoo first"
                )
        picking = self._receipt_picking(binder, adapter, receipt, order)
        (row,) = self.client.read("stock.picking", [picking], ["state", "move_ids"])
        if row["state"] in ("done", "cancel"):
            return picking
        self._set_quantities(tx, receipt, row["move_ids"])
        self._validate(picking, final=receipt.final)
        return picking

    def _partials_not_pushed(
        self, tx: Transaction, binder: Binder, receipt: GoodsReceipt
    ) -> list[str]:
        # TODO: lists every receipt to find the order's; a store query by
        # commitment would keep a final receipt's push cheap on a large store.
        return sorted(
            other.number
            for other in tx.list(GoodsReceipt, status=ReceiptStatus.CONFIRMED.value)
            if other.commitment_id == receipt.commitment_id
            and other.id != receipt.id
            and not other.final
            and binder.odoo_id("stock.picking", other.id) is None
        )

    def _receipt_picking(
        self, binder: Binder, adapter: Adapter, receipt: GoodsReceipt, order: int
    ) -> int:
        # The picking is stamped with the receipt's external id BEFORE it is
        # validated, so a retry finds it (done or not) instead of validating
        # the backorder as well.
        name = external_name(receipt.kind, receipt.id)
        found = binder.odoo_id("stock.picking", receipt.id) or adapter.by_external_id(
            "stock.picking", name
        )
        if found is None:
            open_ones = self.client.search(
                "stock.picking",
                [("purchase_id", "=", order), ("state", "not in", ["done", "cancel"])],
                order="id",
            )
            if not open_ones:
                raise ValidationFailed(
                    f"order {order} has no open receipt in Odoo",
                    record=f"receipt {receipt.number}",
                )
            found = int(open_ones[0])
            adapter.stamp("stock.picking", found, name)
        binder.bind(
            "stock.picking",
            receipt.id,
            found,
            kind=receipt.kind,
            external_id=f"tieline.{name}",
        )
        return found

    def _set_quantities(
        self, tx: Transaction, receipt: GoodsReceipt, move_ids: list[int]
    ) -> None:
        binder, _ = self._tools(tx)
        moves = self.client.read("stock.move", move_ids, ["purchase_line_id"])
        line_ids = {
            key.split("#", 1)[1]: odoo_id
            for odoo_id, key in binder.bound("purchase.order.line").items()
            if key.startswith(f"{receipt.commitment_id}#")
        }
        for move, quantity in (
            ReceiptMapper().move_quantities(receipt, moves, line_ids).items()
        ):
            self.client.write(
                "stock.move", [move], {"quantity": quantity, "picked": quantity > 0}
            )

    def _validate(self, picking: int, *, final: bool) -> None:
        answer = self.client.call("stock.picking", "button_validate", [picking])
        if (
            isinstance(answer, dict)
            and answer.get("res_model") == "stock.backorder.confirmation"
        ):
            context = dict(answer.get("context") or {})
            wizard = self.client.create(
                "stock.backorder.confirmation",
                {"pick_ids": [[4, picking]]},
                context=context,
            )
            # A final delivery closes the order line: no backorder for the rest.
            method = "process_cancel_backorder" if final else "process"
            self.client.call(
                "stock.backorder.confirmation", method, [wizard], context=context
            )
        log.info("odoo.receipt.validated", picking=picking, final=final)

    # Invoices and payments.
    def push_invoice(self, tx: Transaction, invoice: SupplierInvoice) -> int:
        """An approved invoice as a posted vendor bill, linked to the order lines.

        Checked before the first write to Odoo: the status, the supplier, the
        lines' projects and cost codes, the Odoo companies, the currency and
        an Odoo purchase tax for each of the lines' rates. The bill is posted
        only when Odoo's totals are the invoice's to the cent (`_post`).
        """
        record = f"invoice {invoice.supplier_reference}"
        if invoice.status not in (InvoiceStatus.APPROVED, InvoiceStatus.POSTED):
            raise ValidationFailed(
                f"only approved invoices are posted to Odoo, not {invoice.status}",
                record=record,
                field="status",
            )
        commitment = tx.get(Commitment, invoice.commitment_id or "")
        supplier_id = invoice.supplier_id or (
            commitment.supplier_id if commitment else ""
        )
        supplier = _require(
            tx.get(Supplier, supplier_id), "supplier", supplier_id, record
        )
        entity = invoice.legal_entity_id or (
            commitment.legal_entity_id if commitment else ""
        )
        sources = [_bill_source(commitment, line) for line in invoice.lines]
        pairs = {(p, c) for _, p, c in sources if p and c}
        entities = self._check_analytics(tx, pairs, record)
        company = self._companies(tx, {entity, *entities}, record)[entity]
        currency = self.currency_id(invoice.currency, record)
        self._require_purchase_journal(tx, entity, company, record)
        InvoiceMapper().check_sign(invoice)
        taxes = self._purchase_taxes(company, invoice)

        # Nothing was written to Odoo before this line.
        _binder, adapter = self._tools(tx)
        partner = self.push_supplier(tx, supplier)
        mapper = InvoiceMapper()
        lines = [
            self._bill_line(tx, record, source, line, taxes, mapper.sign(invoice))
            for source, line in zip(sources, invoice.lines, strict=True)
        ]
        bill = adapter.ensure(
            kind=invoice.kind,
            model=mapper.model,
            canonical_id=invoice.id,
            values=mapper.to_odoo(
                invoice,
                partner_id=partner,
                company_id=company,
                currency_id=currency,
                lines=lines,
            ),
            natural_key=mapper.natural_key(invoice, partner_id=partner),
            context=company_context(company),
        ).odoo_id
        self._post(adapter, bill, invoice)
        if invoice.status is not InvoiceStatus.POSTED:
            tx.save(
                invoice.model_copy(update={"status": InvoiceStatus.POSTED}),
                actor=self.actor,
            )
        return bill

    def _require_purchase_journal(
        self, tx: Transaction, entity_id: str, company: int, record: str
    ) -> None:
        """Refuse, before any write, a bill whose company has no purchase
        journal: Odoo would refuse to make it (a company created without a
        chart of accounts has none), in the words quoted here."""
        found = self.client.search(
            "account.journal",
            [("company_id", "=", company), ("type", "=", "purchase")],
            limit=1,
            context=company_context(company),
        )
        if found:
            return
        (row,) = self.client.read("res.company", [company], ["name"])
        entity = tx.get(LegalEntity, entity_id)
        code = entity.code if entity is not None else entity_id
        raise ValidationFailed(
            f"legal entity {code} books in Odoo company {row['name']}, and Odoo "
            f"would refuse the bill: No journal could be found in company "
            f"{row['name']} for any of those types: purchase. Give that company "
            "a chart of accounts (Accounting, Configuration, Settings, Fiscal "
            "Localization) or a purchase journal, then replay",
            record=record,
            field="legal_entity_id",
        )

    def _purchase_taxes(
        self, company: int, invoice: SupplierInvoice
    ) -> dict[Decimal, int]:
        """Odoo's purchase tax for each tax rate on the invoice's lines."""
        mapper = TaxMapper()
        rates = mapper.rates(invoice)
        if not rates:
            return {}
        context = company_context(company)
        rows = self.client.search_read(
            mapper.model, mapper.domain(company), mapper.fields(), context=context
        )
        (row,) = self.client.read("res.company", [company], mapper.company_fields())
        return {
            rate: mapper.pick(rows, rate, row, invoice=invoice)
            for rate in sorted(rates)
        }

    def _bill_line(
        self,
        tx: Transaction,
        record: str,
        source: tuple[str | None, str | None, str | None],
        line: InvoiceLine,
        taxes: dict[Decimal, int],
        sign: Decimal,
    ) -> dict[str, Any]:
        binder, _ = self._tools(tx)
        order_key, project_id, code = source
        order_line = (
            binder.odoo_id("purchase.order.line", order_key) if order_key else None
        )
        analytic = (
            self._analytic(tx, project_id, code, record)
            if project_id and code
            else None
        )
        product = self.product_id(tx, "goods")
        if order_line is not None:
            (row,) = self.client.read(
                "purchase.order.line", [order_line], ["product_id"]
            )
            product = many2one_id(row["product_id"]) or product
        return InvoiceMapper().line(
            line,
            product_id=product,
            purchase_line_id=order_line,
            analytic=analytic,
            tax_ids=[] if line.tax_percent is None else [taxes[line.tax_percent]],
            sign=sign,
        )

    def _post(self, adapter: Adapter, bill: int, invoice: SupplierInvoice) -> None:
        """Post the bill once Odoo's totals are the invoice's, to the cent.

        Checked on the draft, before posting: a finance team would rather
        correct a draft bill than reverse a posted one with a credit note, and
        a bill posted at another total than the supplier's document would be
        paid, and declared for VAT, at the wrong amount. A mismatch is
        permanent (a person must look); the draft stays in Odoo with the
        invoice's external id, so the replay finds it again, checks it again
        and posts it once it is corrected.
        """
        mapper = InvoiceMapper()
        row = adapter.read_one("account.move", bill, mapper.totals_fields())
        differs = mapper.totals_differ(row, invoice)
        if differs is not None:
            raise ValidationFailed(
                differs,
                record=f"invoice {invoice.supplier_reference}",
                field="gross_total",
            )
        if row["state"] == "draft":
            self.client.call("account.move", "action_post", [bill])
            log.info("odoo.bill.posted", bill=bill)

    def read_payment_status(
        self, tx: Transaction, invoice: SupplierInvoice
    ) -> SupplierInvoice:
        """Read the bill's payment state back; a paid bill marks the invoice paid."""
        binder, adapter = self._tools(tx)
        bill_id = binder.odoo_id("account.move", invoice.id)
        if bill_id is None:
            raise RetryableError(
                f"invoice {invoice.supplier_reference} has no bill in Odoo yet"
            )
        mapper = PaymentMapper()
        bill = adapter.read_one("account.move", bill_id, mapper.fields())
        commitment = tx.get(Commitment, invoice.commitment_id or "")
        payment = mapper.from_odoo(
            bill,
            invoice,
            legal_entity_id=invoice.legal_entity_id
            or (commitment.legal_entity_id if commitment else ""),
            supplier_id=invoice.supplier_id
            or (commitment.supplier_id if commitment else ""),
            system=self.actor,
            today=datetime.now(UTC).date(),
        )
        if payment is not None:
            tx.save(payment, actor=self.actor)
        if bill["payment_state"] in ("paid", "in_payment"):
            invoice = invoice.model_copy(update={"status": InvoiceStatus.PAID})
            tx.save(invoice, actor=self.actor)
        return invoice

    # Pull.
    def pull_suppliers(self, tx: Transaction) -> PullResult:
        """Partners with a supplier rank changed since the watermark, then deletions."""
        binder, _ = self._tools(tx)
        mark, seen = binder.watermark("res.partner")
        domain: list[Any] = [("supplier_rank", ">", 0)]
        if mark:
            domain.append(("write_date", ">=", mark))
        mapper = SupplierMapper()
        rows = self.client.search_read(
            "res.partner",
            domain,
            mapper.read_fields(),
            order="write_date asc, id asc",
            context={"active_test": False},
        )
        # Odoo reads write_date to the second: a row seen at the mark may
        # have changed again within that second, so compare its content.
        fresh = [row for row in rows if seen.get(str(row["id"])) != _row_hash(row)]
        own = self._own_partners(tx, binder, [row["id"] for row in fresh])
        changed = sum(
            self._apply_partner(tx, binder, mapper, row, own) for row in fresh
        )
        if rows:
            top = rows[-1]["write_date"]
            at_top = {
                str(r["id"]): _row_hash(r) for r in rows if r["write_date"] == top
            }
            kept = seen if top == mark else {}
            binder.set_watermark("res.partner", top, {**kept, **at_top})
        return PullResult(changed, self._reconcile_suppliers(tx, binder))

    def apply_partner(self, tx: Transaction, odoo_id: int) -> int | None:
        """Read one partner and apply it as a pull would: 1 if the supplier
        changed, 0 if not (or not a supplier), None while Odoo does not show it."""
        mapper = SupplierMapper()
        everything = {"active_test": False}
        rows = self.client.search_read(
            "res.partner",
            [("id", "=", odoo_id)],
            mapper.read_fields(),
            context=everything,
        )
        if not rows:
            return None
        if not rows[0]["supplier_rank"]:
            return 0
        binder, _ = self._tools(tx)
        own = self._own_partners(tx, binder, [odoo_id])
        return self._apply_partner(tx, binder, mapper, rows[0], own)

    def _own_partners(
        self, tx: Transaction, binder: Binder, odoo_ids: list[int]
    ) -> _OwnPartners:
        """What tells, for partners not bound yet, which canonical supplier
        each one already is: tieline's external ids on them, read at once."""
        unbound = [i for i in odoo_ids if binder.canonical_id("res.partner", i) is None]
        stamped: dict[int, str] = {}
        if unbound:
            rows = self.client.search_read(
                "ir.model.data",
                [
                    ("module", "=", MODULE),
                    ("model", "=", "res.partner"),
                    ("res_id", "in", unbound),
                ],
                ["name", "res_id"],
            )
            stamped = {int(r["res_id"]): str(r["name"]) for r in rows}
        in_doubt = (
            InDoubtLedger.beside(tx.connection, self.instance).pending("res.partner")
            if unbound
            else []
        )
        return _OwnPartners(tx, binder, stamped, in_doubt)

    def _apply_partner(
        self,
        tx: Transaction,
        binder: Binder,
        mapper: SupplierMapper,
        row: dict[str, Any],
        own: _OwnPartners,
    ) -> int:
        canonical = binder.canonical_id("res.partner", row["id"])
        existing = tx.get(Supplier, canonical) if canonical else own.supplier(row)
        accounts = self.client.read(
            "res.partner.bank", row["bank_ids"], ["acc_number", "acc_holder_name"]
        )
        supplier = mapper.from_odoo(row, accounts, existing=existing, system=self.actor)
        change = tx.save(supplier, actor=self.actor)
        binder.bind(
            "res.partner", supplier.id, row["id"], kind=supplier.kind, external_id=None
        )
        return 0 if change.event is None else 1

    def _reconcile_suppliers(self, tx: Transaction, binder: Binder) -> int:
        bound = binder.bound("res.partner")
        if not bound:
            return 0
        alive = set(
            self.client.search(
                "res.partner",
                [("id", "in", sorted(bound))],
                context={"active_test": False},
            )
        )
        deleted = 0
        for odoo_id, canonical in bound.items():
            if odoo_id in alive:
                continue
            binder.mark_deleted("res.partner", odoo_id)
            # The canonical model has no "deleted" state: a partner deleted
            # in Odoo blocks the supplier, so nothing is ordered from it.
            supplier = tx.get(Supplier, canonical)
            if supplier is not None:
                tx.save(
                    supplier.model_copy(update={"status": SupplierStatus.BLOCKED}),
                    actor=self.actor,
                )
            deleted += 1
            log.info("odoo.record.deleted", model="res.partner", odoo_id=odoo_id)
        return deleted


class _OwnPartners:
    """Finds the canonical supplier an unbound partner already stands for.

    First by the external id tieline stamps on what it creates
    (`tieline.supplier_<id>`): the partner of a push whose store transaction
    failed after Odoo created it. Then by tax id, normalised as suppliers'
    are. Then, for a company partner without a tax id, by the key a push
    matches on (`SupplierMapper.natural_key`): its exact name. Each match must
    be one canonical supplier, not merged and bound to no other partner.
    Last, for a supplier whose partner create is in doubt (sent, no answer
    yet, see `_in_doubt`), by that same natural key (tax id, else the name),
    even where the name alone is ambiguous: that create committed after the
    push gave up. A partner that matches none is a new supplier.

    The name match is what keeps one partner when the hub was killed between
    Odoo's answer to a push's create and `Adapter.stamp`, and a pull (or an
    Odoo webhook) reads the partner before the push is retried: the push
    would find that partner by the same key, so the pull binds it to the
    same supplier instead of importing it as a second one.
    """

    def __init__(
        self,
        tx: Transaction,
        binder: Binder,
        stamped: dict[int, str],
        in_doubt: list[str] | None = None,
    ) -> None:
        self.tx = tx
        self.binder = binder
        self.stamped = stamped
        self.in_doubt = in_doubt or []
        self._by_tax_id: dict[str, list[Supplier]] | None = None
        self._without_tax_id: dict[str, list[Supplier]] | None = None

    def supplier(self, row: dict[str, Any]) -> Supplier | None:
        """The canonical supplier the partner `row` is, if it is one already."""
        found = self._by_external_id(self.stamped.get(row["id"]))
        if found is None:
            found = self._by_vat(row.get("vat"))
        if found is None and not row.get("vat") and row.get("is_company"):
            found = self._by_name(row.get("name"))
        return found if found is not None else self._by_create_in_doubt(row)

    def _by_create_in_doubt(self, row: dict[str, Any]) -> Supplier | None:
        for canonical_id in self.in_doubt:
            supplier = self.tx.get(Supplier, canonical_id)
            if supplier is None or not self._free(supplier):
                continue
            if supplier.tax_id:
                if _same_tax_id(row.get("vat"), supplier.tax_id):
                    return supplier
            elif row.get("name") == supplier.legal_name:
                return supplier
        return None

    def _by_external_id(self, name: str | None) -> Supplier | None:
        prefix = f"{Supplier.kind}_"
        if name is None or not name.startswith(prefix):
            return None
        # Canonical ids are uuids: the name's underscores were their dashes.
        candidate = name.removeprefix(prefix).replace("_", "-")
        if external_name(Supplier.kind, candidate) != name:
            return None
        supplier = self.tx.get(Supplier, candidate)
        return supplier if supplier is not None and self._free(supplier) else None

    def _by_vat(self, vat: Any) -> Supplier | None:
        if not vat:
            return None
        try:
            wanted = normalise_tax_id(str(vat))
        except ValidationFailed:
            return None
        if self._by_tax_id is None:
            self._by_tax_id = {}
            for supplier in self.tx.list(Supplier):
                if supplier.tax_id and supplier.status is not SupplierStatus.MERGED:
                    self._by_tax_id.setdefault(supplier.tax_id, []).append(supplier)
        matches = [s for s in self._by_tax_id.get(wanted, []) if self._free(s)]
        return matches[0] if len(matches) == 1 else None

    def _by_name(self, name: Any) -> Supplier | None:
        if not name:
            return None
        if self._without_tax_id is None:
            self._without_tax_id = {}
            for supplier in self.tx.list(Supplier):
                if not supplier.tax_id and supplier.status is not SupplierStatus.MERGED:
                    self._without_tax_id.setdefault(supplier.legal_name, []).append(
                        supplier
                    )
        matches = [s for s in self._without_tax_id.get(name, []) if self._free(s)]
        return matches[0] if len(matches) == 1 else None

    def _free(self, supplier: Supplier) -> bool:
        # Bound to another partner: this one is a duplicate in Odoo, and is
        # pulled as a supplier of its own rather than bound twice.
        return self.binder.odoo_id("res.partner", supplier.id) is None


def _same_tax_id(vat: Any, tax_id: str) -> bool:
    if not vat:
        return False
    try:
        return normalise_tax_id(str(vat)) == tax_id
    except ValidationFailed:
        return False


def company_context(company: int) -> dict[str, Any]:
    """The context that makes Odoo's defaults (picking type, journal, currency)
    follow the record's company rather than the user's current one."""
    return {"allowed_company_ids": [company]}


def _row_hash(row: dict[str, Any]) -> str:
    blob = json.dumps(row, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _require(record: Any, kind: str, key: str, where: str) -> Any:
    if record is None:
        raise ValidationFailed(f"no {kind} {key} in the store", record=where)
    return record


def _bill_source(
    commitment: Commitment | None, line: InvoiceLine
) -> tuple[str | None, str | None, str | None]:
    """(bound order line key, project id, cost code) of an invoice line; the
    commitment line it bills fills in what the invoice line leaves out."""
    if commitment is None or not line.commitment_line_key:
        return None, line.project_id, line.cost_code
    source = commitment.line(line.commitment_line_key)
    return (
        f"{commitment.id}#{line.commitment_line_key}",
        line.project_id or source.project_id,
        line.cost_code or source.cost_code,
    )


def _find_cost_code(
    tx: Transaction, project: Project, code: str, record: str
) -> CostCode:
    candidates = [
        c
        for c in tx.list(CostCode)
        if c.code == code
        and c.system == project.cost_code_system
        and c.project_id in (None, project.id)
    ]
    if not candidates:
        raise ValidationFailed(
            f"no cost code {code!r} in system {project.cost_code_system!r}",
            record=record,
            field="cost_code",
        )
    candidates.sort(key=lambda c: c.project_id is None)
    return candidates[0]
