"""Odoo's business behaviour where tieline depends on it.

Defaults (company, currency, sequences), computed fields (display names,
order and bill totals, received and billed quantities) and checks that the
recordings show, registered on a `Database`. The workflow buttons live in
`_workflow`.

Taxes are computed as Odoo computes percentage taxes excluded from the price:
each line's tax is its quantity x price times the rate, and the company's
`tax_calculation_rounding_method` says where it is rounded to the currency
(half-up): per line and tax (`round_per_line`, Odoo's default), or once per
tax over the whole document (`round_globally`). A line may not carry any
other kind of tax (included in the price, fixed, group): the double refuses
it rather than compute it wrong.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tieline.testing.odoo_double._errors import OdooError, odoo_error
from tieline.testing.odoo_double._orm import Database, Env, Raw


def install(db: Database) -> None:
    """Register defaults, computed fields and checks on `db`."""
    _install_defaults(db)
    _install_computes(db)
    _install_checks(db)


# Defaults.


def _install_defaults(db: Database) -> None:
    db.defaults.update(
        {
            "res.partner": _partner_defaults,
            "res.company": _company_defaults,
            "purchase.order": _order_defaults,
            "purchase.order.line": _order_line_defaults,
            "account.move": _move_defaults,
            "account.move.line": _move_line_defaults,
            "account.analytic.plan": _plan_defaults,
            "account.analytic.account": _analytic_defaults,
            "project.project": _project_defaults,
            "product.product": _product_defaults,
            "res.partner.bank": _bank_defaults,
            "stock.picking": _picking_defaults,
            "account.payment.register": _register_defaults,
            "account.tax": _tax_defaults,
            "account.journal": _journal_defaults,
        }
    )


def _now(env: Env) -> str:
    return env.db.clock().strftime("%Y-%m-%d %H:%M:%S")


def _today(env: Env) -> str:
    return env.db.clock().strftime("%Y-%m-%d")


def _company_currency(env: Env, company_id: int | None) -> int | None:
    row = env.db.tables["res.company"].get(company_id or env.company_id, {})
    currency: int | None = row.get("currency_id")
    return currency


def _partner_defaults(env: Env, row: Raw) -> None:
    row.setdefault("type", "contact")
    row.setdefault("is_company", False)
    row.setdefault("supplier_rank", 0)
    row.setdefault("customer_rank", 0)
    row.setdefault("lang", "en_US")


def _company_defaults(env: Env, row: Raw) -> None:
    row.setdefault("currency_id", _company_currency(env, 1))
    row.setdefault("sequence", 10)
    row.setdefault("tax_calculation_rounding_method", "round_per_line")


def _tax_defaults(env: Env, row: Raw) -> None:
    row.setdefault("amount_type", "percent")
    row.setdefault("type_tax_use", "sale")
    row.setdefault("price_include", False)
    row.setdefault("sequence", 1)
    row.setdefault("company_id", env.company_id)


def _journal_defaults(env: Env, row: Raw) -> None:
    row.setdefault("company_id", env.company_id)


def _order_defaults(env: Env, row: Raw) -> None:
    company = row.get("company_id") or env.company_id
    row.setdefault("company_id", company)
    row.setdefault("currency_id", _company_currency(env, company))
    row.setdefault("state", "draft")
    row.setdefault("date_order", _now(env))
    row.setdefault("date_planned", row["date_order"])
    row.setdefault("user_id", env.uid)
    row.setdefault("priority", "0")
    if "name" not in row or row["name"] in (None, "New"):
        row["name"] = f"P{env.db.next_sequence('purchase.order'):05d}"
    picking_types = [
        i
        for i, r in env.db.tables["stock.picking.type"].items()
        if r.get("code") == "incoming" and r.get("company_id") == company
    ]
    if picking_types:
        row.setdefault("picking_type_id", picking_types[0])


def _order_line_defaults(env: Env, row: Raw) -> None:
    product = env.db.tables["product.product"].get(row.get("product_id") or 0, {})
    order = env.db.tables["purchase.order"].get(row.get("order_id") or 0, {})
    uom_field = "product_uom_id" if env.db.version >= 19 else "product_uom"
    tax_field = "tax_ids" if env.db.version >= 19 else "taxes_id"
    if product and not row.get("name"):
        row["name"] = env.db.display_name("product.product", row["product_id"])
    row.setdefault(uom_field, product.get("uom_id"))
    # Odoo keeps of the product's vendor taxes those of the order's company
    # (or a parent of it): none when that company has none.
    if tax_field not in row:
        row[tax_field] = company_taxes(
            env.db, product.get("supplier_taxes_id"), order.get("company_id")
        )
    row.setdefault("price_unit", 0.0)
    row.setdefault("company_id", order.get("company_id"))
    row.setdefault("currency_id", order.get("currency_id"))
    row.setdefault("date_planned", order.get("date_planned"))
    row.setdefault("sequence", 10)
    row.setdefault("display_type", None)
    # A note or section line gets no default quantity: without one given, the
    # NOT NULL constraint on product_qty fails, and with 0 it is accepted, as
    # recorded.
    if not row.get("display_type"):
        row.setdefault("product_qty", 1.0)


def _move_defaults(env: Env, row: Raw) -> None:
    company = row.get("company_id") or env.company_id
    row.setdefault("company_id", company)
    row.setdefault("currency_id", _company_currency(env, company))
    row.setdefault("move_type", "entry")
    row.setdefault("state", "draft")
    row.setdefault("date", row.get("invoice_date") or _today(env))
    row.setdefault("payment_state", "not_paid")
    row.setdefault("name", None if env.db.version >= 19 else "/")
    if not row.get("journal_id"):
        kinds = ("purchase",) if row["move_type"].startswith("in_") else ("general",)
        row["journal_id"] = company_journal(env, company, kinds)
    if row["move_type"] in ("in_invoice", "in_refund"):
        row.setdefault("payment_reference", row.get("ref"))


def _move_line_defaults(env: Env, row: Raw) -> None:
    row.setdefault("quantity", 1.0)
    row.setdefault("price_unit", 0.0)
    row.setdefault("display_type", "product")
    product = row.get("product_id")
    if product and not row.get("name"):
        row["name"] = env.db.display_name("product.product", product)
    if "tax_ids" not in row and product:
        taxes = env.db.tables["product.product"][product].get("supplier_taxes_id")
        move = env.db.tables["account.move"].get(row.get("move_id") or 0, {})
        company = move.get("company_id") or env.company_id
        row["tax_ids"] = company_taxes(env.db, taxes, company)


def _plan_defaults(env: Env, row: Raw) -> None:
    row.setdefault("default_applicability", "optional")
    row.setdefault("color", 0)


def _analytic_defaults(env: Env, row: Raw) -> None:
    row.setdefault("company_id", None)


def _project_defaults(env: Env, row: Raw) -> None:
    row.setdefault("company_id", env.company_id)
    row.setdefault("allow_timesheets", True)
    row.setdefault("privacy_visibility", "portal")


def _product_defaults(env: Env, row: Raw) -> None:
    row.setdefault("type", "consu")
    row.setdefault("uom_id", 1)
    if env.db.version < 19:
        row.setdefault("uom_po_id", 1)
        row.setdefault("detailed_type", row.get("type", "consu"))
    row.setdefault("purchase_method", "receive")
    row.setdefault("purchase_ok", True)
    row.setdefault("sale_ok", True)
    # A product's default vendor tax is the current company's purchase tax:
    # none for a company without taxes (no chart of accounts).
    purchase_taxes = [
        i
        for i, r in env.db.tables["account.tax"].items()
        if r.get("type_tax_use") == "purchase"
    ]
    own = company_taxes(env.db, purchase_taxes, env.company_id)
    row.setdefault("supplier_taxes_id", own[:1])
    row.setdefault("categ_id", 1)


def _bank_defaults(env: Env, row: Raw) -> None:
    if row.get("acc_number"):
        row["sanitized_acc_number"] = str(row["acc_number"]).replace(" ", "").upper()
    row.setdefault("allow_out_payment", False)


def _picking_defaults(env: Env, row: Raw) -> None:
    row.setdefault("state", "draft")
    row.setdefault("company_id", env.company_id)
    row.setdefault("scheduled_date", _now(env))
    row.setdefault("priority", "0")


def _register_defaults(env: Env, row: Raw) -> None:
    ids = env.context.get("active_ids") or []
    moves = [
        env.db.tables["account.move"][i]
        for i in ids
        if i in env.db.tables["account.move"]
    ]
    residual = sum(m.get("amount_residual") or 0.0 for m in moves)
    row.setdefault("amount", round(residual, 2))
    row.setdefault("payment_date", _today(env))
    row.setdefault("line_ids", list(ids))
    # A vendor bill is paid out to a supplier; a vendor credit note is money
    # coming back from one (customer documents the other way round).
    kind = moves[0].get("move_type", "in_invoice") if moves else "in_invoice"
    outbound = kind in ("in_invoice", "out_refund")
    row.setdefault("payment_type", "outbound" if outbound else "inbound")
    row.setdefault("partner_type", "supplier" if kind.startswith("in_") else "customer")
    row.setdefault("group_payment", True)
    row.setdefault("can_edit_wizard", len(moves) <= 1)
    row.setdefault("source_amount", round(residual, 2))
    row.setdefault("payment_difference_handling", "open")
    if moves:
        row.setdefault("partner_id", moves[0].get("partner_id"))
        row.setdefault("currency_id", moves[0].get("currency_id"))
        row.setdefault("communication", moves[0].get("ref") or moves[0].get("name"))
    company = moves[0].get("company_id") if moves else env.company_id
    if not row.get("journal_id"):
        row["journal_id"] = company_journal(env, company, ("bank", "cash"), need=False)
    row["payment_difference"] = round(residual - row["amount"], 2)


def company_taxes(db: Database, taxes: Any, company: int | None) -> list[int]:
    """The taxes of `taxes` that `company` may use: its own and its parents'."""
    allowed = set()
    while company and company not in allowed:
        allowed.add(company)
        company = db.tables["res.company"].get(company, {}).get("parent_id")
    return [
        t
        for t in taxes or []
        if db.tables["account.tax"].get(t, {}).get("company_id") in allowed
    ]


def company_journal(
    env: Env, company: int | None, kinds: tuple[str, ...], *, need: bool = True
) -> int | None:
    """The first journal of `company` of one of `kinds`; with `need`, Odoo's
    own UserError when it has none (a company with no chart of accounts)."""
    for rec_id, row in sorted(env.db.tables["account.journal"].items()):
        kind = row.get("type")
        if row.get("company_id") == company and kind in kinds and row.get("active", 1):
            return rec_id
    if not need:
        return None
    raise no_journal(env, company, kinds)


def no_journal(env: Env, company: int | None, kinds: tuple[str, ...]) -> OdooError:
    """Odoo's answer when a document needs a journal its company lacks
    (account.move's `_search_default_journal`, Odoo 17 and 19)."""
    name = env.db.tables["res.company"].get(company or 0, {}).get("name")
    return odoo_error(
        "UserError",
        f"No journal could be found in company {name} for any of those types: "
        + ", ".join(kinds),
    )


# Computed fields.


def _install_computes(db: Database) -> None:
    db.computes.update(
        {
            ("res.partner", "display_name"): _partner_name,
            ("res.partner", "complete_name"): _partner_name,
            ("res.partner", "commercial_partner_id"): _commercial_partner,
            ("product.product", "display_name"): _coded_name(
                "product.product", "default_code"
            ),
            ("account.analytic.account", "display_name"): _coded_name(
                "account.analytic.account", "code"
            ),
            ("account.analytic.account", "root_plan_id"): _root_plan,
            ("account.analytic.plan", "complete_name"): _plan_name,
            ("purchase.order.line", "price_subtotal"): _line_subtotal(
                "purchase.order.line"
            ),
            ("purchase.order.line", "price_tax"): _line_tax("purchase.order.line"),
            ("purchase.order.line", "price_total"): _line_total("purchase.order.line"),
            ("purchase.order.line", "qty_received"): _qty_received,
            ("purchase.order.line", "qty_invoiced"): _qty_invoiced,
            ("purchase.order.line", "qty_to_invoice"): _qty_to_invoice,
            ("purchase.order", "amount_untaxed"): _order_untaxed,
            ("purchase.order", "amount_tax"): _order_tax,
            ("purchase.order", "amount_total"): _order_total,
            ("purchase.order", "picking_ids"): _order_pickings,
            ("purchase.order", "invoice_ids"): _order_bills,
            ("purchase.order", "invoice_count"): lambda d, i: len(_order_bills(d, i)),
            ("purchase.order", "receipt_status"): _receipt_status,
            ("purchase.order", "invoice_status"): _invoice_status,
            ("stock.picking", "picking_type_code"): _picking_type_code,
            ("account.move.line", "price_subtotal"): _line_subtotal(
                "account.move.line"
            ),
            ("account.move.line", "price_total"): _line_total("account.move.line"),
            ("account.move", "amount_untaxed"): _move_untaxed,
            ("account.move", "amount_total"): _move_total,
            ("account.move", "amount_tax"): _move_tax,
        }
    )


def _partner_name(db: Database, rec_id: int) -> Any:
    row = db.tables["res.partner"].get(rec_id, {})
    name = row.get("name") or ""
    parent = row.get("parent_id")
    if parent and not row.get("is_company"):
        return f"{_partner_name(db, parent)}, {name}"
    return name


def _commercial_partner(db: Database, rec_id: int) -> Any:
    row = db.tables["res.partner"].get(rec_id, {})
    if row.get("is_company") or not row.get("parent_id"):
        return rec_id
    return _commercial_partner(db, row["parent_id"])


def _coded_name(model: str, code_field: str) -> Any:
    def compute(db: Database, rec_id: int) -> Any:
        row = db.tables[model].get(rec_id, {})
        code = row.get(code_field)
        return f"[{code}] {row.get('name')}" if code else row.get("name") or ""

    return compute


def _root_plan(db: Database, rec_id: int) -> Any:
    plan = db.tables["account.analytic.account"].get(rec_id, {}).get("plan_id")
    while plan and db.tables["account.analytic.plan"].get(plan, {}).get("parent_id"):
        plan = db.tables["account.analytic.plan"][plan]["parent_id"]
    return plan


def _plan_name(db: Database, rec_id: int) -> Any:
    row = db.tables["account.analytic.plan"].get(rec_id, {})
    parent = row.get("parent_id")
    name = row.get("name") or ""
    return f"{_plan_name(db, parent)} / {name}" if parent else name


def _line_subtotal(model: str) -> Any:
    def compute(db: Database, rec_id: int) -> Any:
        taxed = _line_taxes(db, model, rec_id)
        return float(_round(taxed.base, taxed.digits))

    return compute


def _line_tax(model: str) -> Any:
    def compute(db: Database, rec_id: int) -> Any:
        taxed = _line_taxes(db, model, rec_id)
        return float(taxed.total() - _round(taxed.base, taxed.digits))

    return compute


def _line_total(model: str) -> Any:
    return lambda db, rec_id: float(_line_taxes(db, model, rec_id).total())


# Taxes (see the module's docstring).

# Line model -> (quantity field, document field, document model).
_TAXED_LINES = {
    "purchase.order.line": ("product_qty", "order_id", "purchase.order"),
    "account.move.line": ("quantity", "move_id", "account.move"),
}


@dataclass(frozen=True, slots=True)
class _LineTaxes:
    """One line's base and taxes, unrounded, and how its document rounds."""

    base: Decimal
    taxes: list[tuple[int, Decimal]]
    digits: int
    globally: bool

    def total(self) -> Decimal:
        """The line's total with its taxes, as the line shows it."""
        if self.globally:
            return _round(self.base + sum(t for _, t in self.taxes), self.digits)
        rounded = sum(_round(t, self.digits) for _, t in self.taxes)
        return _round(self.base, self.digits) + rounded


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _round(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _tax_field(db: Database, model: str) -> str:
    return "tax_ids" if model == "account.move.line" or db.version >= 19 else "taxes_id"


def _line_taxes(db: Database, model: str, rec_id: int) -> _LineTaxes:
    qty_field, document_field, document_model = _TAXED_LINES[model]
    row = db.tables[model].get(rec_id, {})
    base = _decimal(row.get(qty_field)) * _decimal(row.get("price_unit"))
    taxes = [
        (
            tax,
            base * _decimal(db.tables["account.tax"].get(tax, {}).get("amount")) / 100,
        )
        for tax in row.get(_tax_field(db, model)) or []
    ]
    document = db.tables[document_model].get(row.get(document_field) or 0, {})
    currency = db.tables["res.currency"].get(document.get("currency_id") or 0, {})
    digits = currency.get("decimal_places")
    company = db.tables["res.company"].get(document.get("company_id") or 0, {})
    method = company.get("tax_calculation_rounding_method")
    return _LineTaxes(
        base, taxes, 2 if digits is None else int(digits), method == "round_globally"
    )


def _document_tax(db: Database, model: str, line_ids: list[int]) -> Decimal:
    """A document's tax: the sum of its lines' rounded taxes, or, rounding
    globally, the sum of each tax's amount over the document, rounded."""
    lines = [_line_taxes(db, model, i) for i in line_ids]
    if not lines:
        return Decimal(0)
    digits = lines[0].digits
    if not lines[0].globally:
        return sum(
            (_round(t, digits) for line in lines for _, t in line.taxes), Decimal(0)
        )
    per_tax: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        for tax, amount in line.taxes:
            per_tax[tax] += amount
    return sum((_round(t, digits) for t in per_tax.values()), Decimal(0))


def _document_untaxed(db: Database, model: str, line_ids: list[int]) -> Decimal:
    lines = [_line_taxes(db, model, i) for i in line_ids]
    return sum((_round(line.base, line.digits) for line in lines), Decimal(0))


def _order_untaxed(db: Database, order_id: int) -> Any:
    lines = _order_lines(db, order_id)
    return float(_document_untaxed(db, "purchase.order.line", lines))


def _order_tax(db: Database, order_id: int) -> Any:
    return float(_document_tax(db, "purchase.order.line", _order_lines(db, order_id)))


def _order_total(db: Database, order_id: int) -> Any:
    lines = _order_lines(db, order_id)
    model = "purchase.order.line"
    return float(_document_untaxed(db, model, lines) + _document_tax(db, model, lines))


def _order_lines(db: Database, order_id: int) -> list[int]:
    return [
        i
        for i, r in db.tables["purchase.order.line"].items()
        if r.get("order_id") == order_id
    ]


def _qty_received(db: Database, line_id: int) -> Any:
    return sum(
        r.get("quantity") or 0.0
        for r in db.tables["stock.move"].values()
        if r.get("purchase_line_id") == line_id and r.get("state") == "done"
    )


def _qty_invoiced(db: Database, line_id: int) -> Any:
    total = 0.0
    for row in db.tables["account.move.line"].values():
        if row.get("purchase_line_id") != line_id:
            continue
        move = db.tables["account.move"].get(row.get("move_id") or 0, {})
        if move.get("state") == "cancel":
            continue
        sign = -1.0 if move.get("move_type") == "in_refund" else 1.0
        total += sign * (row.get("quantity") or 0.0)
    return total


def _qty_to_invoice(db: Database, line_id: int) -> Any:
    return _qty_received(db, line_id) - _qty_invoiced(db, line_id)


def _order_pickings(db: Database, order_id: int) -> Any:
    return sorted(
        i
        for i, r in db.tables["stock.picking"].items()
        if r.get("purchase_id") == order_id
    )


def _order_bills(db: Database, order_id: int) -> list[int]:
    lines = set(_order_lines(db, order_id))
    moves = {
        r.get("move_id")
        for r in db.tables["account.move.line"].values()
        if r.get("purchase_line_id") in lines
    }
    return sorted((m for m in moves if m), reverse=True)


def _receipt_status(db: Database, order_id: int) -> Any:
    states = [
        db.tables["stock.picking"][p]["state"] for p in _order_pickings(db, order_id)
    ]
    if not states:
        return False
    if all(s in ("done", "cancel") for s in states):
        return "full"
    return "partial" if "done" in states else "pending"


def _invoice_status(db: Database, order_id: int) -> Any:
    row = db.tables["purchase.order"].get(order_id, {})
    if row.get("state") not in ("purchase", "done"):
        return "no"
    lines = _order_lines(db, order_id)
    if any(_qty_to_invoice(db, i) > 0 for i in lines):
        return "to invoice"
    return "invoiced" if _order_bills(db, order_id) else "no"


def _picking_type_code(db: Database, picking_id: int) -> Any:
    kind = db.tables["stock.picking"].get(picking_id, {}).get("picking_type_id")
    return db.tables["stock.picking.type"].get(kind or 0, {}).get("code")


def _move_lines(db: Database, move_id: int) -> list[int]:
    return [
        i
        for i, r in db.tables["account.move.line"].items()
        if r.get("move_id") == move_id and r.get("display_type") == "product"
    ]


def _move_untaxed(db: Database, move_id: int) -> Any:
    lines = _move_lines(db, move_id)
    return float(_document_untaxed(db, "account.move.line", lines))


def _move_tax(db: Database, move_id: int) -> Any:
    return float(_document_tax(db, "account.move.line", _move_lines(db, move_id)))


def _move_total(db: Database, move_id: int) -> Any:
    lines = _move_lines(db, move_id)
    model = "account.move.line"
    return float(_document_untaxed(db, model, lines) + _document_tax(db, model, lines))


# Checks.


def _install_checks(db: Database) -> None:
    db.checks.update(
        {
            "res.partner": _check_partner,
            "res.company": _after_company,
            "project.project": _after_project,
            "account.move:write": _guard_posted_move,
            "account.move:unlink": _guard_move_unlink,
            "res.partner:unlink": _guard_partner_unlink,
            "res.partner.bank": _check_bank,
            "stock.backorder.confirmation": _after_backorder_wizard,
            "purchase.order.line": _check_line_taxes("purchase.order.line"),
            "account.move.line": _check_line_taxes("account.move.line"),
        }
    )


def _check_line_taxes(model: str) -> Any:
    """Refuse a tax the double cannot compute as Odoo would (see the module's
    docstring), instead of answering totals Odoo would not."""

    def check(env: Env, rec_id: int) -> None:
        row = env.db.tables[model][rec_id]
        for tax_id in row.get(_tax_field(env.db, model)) or []:
            tax = env.db.tables["account.tax"].get(tax_id, {})
            if tax.get("amount_type", "percent") != "percent" or tax.get(
                "price_include"
            ):
                raise odoo_error(
                    "UserError",
                    f"the Odoo double computes percentage taxes excluded from "
                    f"the price only, not tax {tax.get('name')!r}",
                )

    return check


def _after_backorder_wizard(env: Env, rec_id: int) -> None:
    """The wizard lists each transfer it covers on a line of its own, to back
    order by default, as Odoo's `default_get` fills it."""
    if "__create__" not in env.context.get("__names__", set()):
        return
    for picking in (
        env.db.tables["stock.backorder.confirmation"][rec_id].get("pick_ids") or []
    ):
        env.create(
            "stock.backorder.confirmation.line",
            [
                {
                    "backorder_confirmation_id": rec_id,
                    "picking_id": picking,
                    "to_backorder": True,
                }
            ],
        )


def _check_partner(env: Env, rec_id: int) -> None:
    row = env.db.tables["res.partner"][rec_id]
    if not row.get("name") and row.get("type", "contact") == "contact":
        raise odoo_error(
            "ValidationError",
            "The operation cannot be completed: Contacts require a name",
        )
    seen = {rec_id}
    parent = row.get("parent_id")
    while parent:
        if parent in seen:
            raise odoo_error(
                "ValidationError", "You cannot create recursive Partner hierarchies."
            )
        seen.add(parent)
        parent = env.db.tables["res.partner"].get(parent, {}).get("parent_id")


def _check_bank(env: Env, rec_id: int) -> None:
    row = env.db.tables["res.partner.bank"][rec_id]
    for other_id, other in env.db.tables["res.partner.bank"].items():
        if (
            other_id != rec_id
            and other.get("sanitized_acc_number") == row.get("sanitized_acc_number")
            and other.get("partner_id") == row.get("partner_id")
        ):
            raise odoo_error(
                "ValidationError",
                "The operation cannot be completed: The combination Account "
                "Number/Partner must be unique.",
            )


def _after_company(env: Env, rec_id: int) -> None:
    if "__create__" not in env.context.get("__names__", ()):
        return
    row = env.db.tables["res.company"][rec_id]
    if not row.get("partner_id"):
        row["partner_id"] = env.create(
            "res.partner", [{"name": row["name"], "is_company": True}]
        )[0]
    warehouse = env.db.insert(
        "stock.warehouse",
        {"name": row["name"], "code": row["name"][:5], "company_id": rec_id},
    )
    env.db.insert(
        "stock.picking.type",
        {
            "name": "Receipts",
            "code": "incoming",
            "company_id": rec_id,
            "warehouse_id": warehouse,
        },
    )
    env.user.company_ids.append(rec_id)
    users = env.db.tables["res.users"]
    users[env.uid]["company_ids"] = list(env.user.company_ids)


def _after_project(env: Env, rec_id: int) -> None:
    # A project created without an analytic account, with timesheets on,
    # gets one in the default "Projects" plan (id 1), as recorded.
    field = "account_id" if env.db.version >= 19 else "analytic_account_id"
    row = env.db.tables["project.project"][rec_id]
    if row.get(field) or not row.get("allow_timesheets"):
        return
    row[field] = env.create(
        "account.analytic.account",
        [{"name": row["name"], "plan_id": 1, "company_id": row.get("company_id")}],
    )[0]


def _guard_posted_move(env: Env, rec_id: int) -> None:
    row = env.db.tables["account.move"][rec_id]
    vals = env.context.get("__vals__", {})
    if row.get("state") != "posted":
        return
    legal = sorted(
        k for k in vals if k not in ("ref", "narration", "payment_reference")
    )
    if not legal:
        return
    _guard_reconciled(env, rec_id)
    if env.db.version >= 19:
        raise odoo_error(
            "UserError",
            "You cannot modify the following readonly fields on a posted move: "
            + ", ".join(legal),
        )
    raise odoo_error(
        "UserError",
        "You cannot modify a posted entry of this journal.",
    )


def _guard_reconciled(env: Env, rec_id: int) -> None:
    """On 17, a bill that payments settled (in part) refuses changes and
    deletion for that first; 19 answers its posted-move refusals first."""
    row = env.db.tables["account.move"][rec_id]
    if env.db.version >= 19:
        return
    if row.get("payment_state") in ("paid", "partial", "in_payment"):
        raise odoo_error(
            "UserError",
            "You cannot do this modification on a reconciled journal entry. You "
            "can just change some non legal fields or you must unreconcile first."
            f"\nJournal Entry (id): {row.get('name')} ({rec_id})",
        )


def _guard_move_unlink(env: Env, rec_id: int) -> None:
    _guard_reconciled(env, rec_id)
    if env.db.tables["account.move"][rec_id].get("state") == "posted":
        raise odoo_error(
            "UserError",
            "You can't delete a posted journal item. Don\u2019t play games with your "
            "accounting records; reset the journal entry to draft before deleting it.",
        )


def _guard_partner_unlink(env: Env, rec_id: int) -> None:
    used = any(
        row.get("partner_id") == rec_id
        for row in env.db.tables["account.move"].values()
    )
    if used:
        raise odoo_error(
            "UserError",
            "The partner cannot be deleted because it is used in Accounting",
        )
