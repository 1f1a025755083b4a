"""Workflow buttons: confirm an order, validate a receipt, post and pay a bill.

Behaviour follows the recorded procure-to-pay runs (060, 065): a confirmed
order has an `assigned` receipt whose moves are pre-filled with the demand; a
short receipt answers with the backorder wizard's action; a bill is named
`BILL/YYYY/MM/NNNN` when posted; a payment leaves the bill `paid` or
`partial` at once (Community has no `in_payment`).
"""

from __future__ import annotations

from typing import Any

from tieline.testing.odoo_double._business import no_journal
from tieline.testing.odoo_double._errors import odoo_error
from tieline.testing.odoo_double._methods import method
from tieline.testing.odoo_double._orm import Env

Args = dict[str, Any]


def _now(env: Env) -> str:
    return env.db.clock().strftime("%Y-%m-%d %H:%M:%S")


# purchase.order


@method("button_confirm", (), on_records=True, models=("purchase.order",))
def button_confirm(env: Env, model: str, a: Args) -> Any:
    """Confirm draft orders and create their incoming receipt."""
    for order_id in a["ids"]:
        order = env.db.tables[model][order_id]
        if order.get("state") not in ("draft", "sent"):
            continue
        env.write(model, [order_id], {"state": "purchase", "date_approve": _now(env)})
        _create_receipt(env, order_id)
    return True


def _create_receipt(env: Env, order_id: int) -> None:
    order = env.db.tables["purchase.order"][order_id]
    lines = [
        (i, r)
        for i, r in env.db.tables["purchase.order.line"].items()
        if r.get("order_id") == order_id and not r.get("display_type")
    ]
    goods = [
        (i, r)
        for i, r in lines
        if env.db.tables["product.product"]
        .get(r.get("product_id") or 0, {})
        .get("type")
        in ("consu", "product")
    ]
    if not goods:
        return
    picking = env.create(
        "stock.picking",
        [
            {
                "partner_id": order.get("partner_id"),
                "picking_type_id": order.get("picking_type_id"),
                "location_id": 1,
                "location_dest_id": 2,
                "origin": order.get("name"),
                "purchase_id": order_id,
                "company_id": order.get("company_id"),
            }
        ],
    )[0]
    _name_picking(env, picking)
    for line_id, line in goods:
        _create_move(env, picking, line_id, line, line.get("product_qty") or 0.0)
    env.db.tables["stock.picking"][picking]["state"] = "assigned"


def _name_picking(env: Env, picking: int) -> None:
    number = env.db.next_sequence("stock.picking.in")
    env.db.tables["stock.picking"][picking]["name"] = f"WH/IN/{number:05d}"


def _create_move(
    env: Env, picking: int, line_id: int, line: dict[str, Any], qty: float
) -> int:
    uom_field = "product_uom_id" if env.db.version >= 19 else "product_uom"
    vals = {
        "picking_id": picking,
        "product_id": line.get("product_id"),
        "product_uom_qty": qty,
        "quantity": qty,
        "picked": False,
        "state": "assigned",
        "purchase_line_id": line_id,
        "product_uom": line.get(uom_field),
        "location_id": 1,
        "location_dest_id": 2,
        "company_id": line.get("company_id"),
    }
    if env.db.version < 19:
        vals["name"] = line.get("name")
    return env.create("stock.move", [vals])[0]


@method("button_cancel", (), on_records=True, models=("purchase.order",))
def button_cancel(env: Env, model: str, a: Args) -> Any:
    """Cancel orders that have no receipt done yet."""
    for order_id in a["ids"]:
        pickings = env.db.raw(model, order_id, "picking_ids")
        if any(env.db.tables["stock.picking"][p]["state"] == "done" for p in pickings):
            name = env.db.tables[model][order_id].get("name")
            raise odoo_error(
                "UserError",
                f"Unable to cancel purchase order {name} as some receptions have "
                "already been done.",
            )
        for picking in pickings:
            env.write("stock.picking", [picking], {"state": "cancel"})
        env.write(model, [order_id], {"state": "cancel"})
    return None


@method("action_create_invoice", (), on_records=True, models=("purchase.order",))
def action_create_invoice(env: Env, model: str, a: Args) -> Any:
    """Bill the received, not yet billed quantities; answer the bill's action."""
    bill = 0
    for order_id in a["ids"]:
        bill = _bill_order(env, order_id)
    return _bills_action(env, bill)


def _bill_order(env: Env, order_id: int) -> int:
    order = env.db.tables["purchase.order"][order_id]
    tax_field = "tax_ids" if env.db.version >= 19 else "taxes_id"
    lines = []
    for line_id in env.db.raw("purchase.order", order_id, "order_line"):
        line = env.db.tables["purchase.order.line"][line_id]
        qty = env.db.raw("purchase.order.line", line_id, "qty_to_invoice")
        if line.get("display_type") or qty <= 0:
            continue
        lines.append(
            [
                0,
                0,
                {
                    "purchase_line_id": line_id,
                    "product_id": line.get("product_id"),
                    "name": line.get("name"),
                    "quantity": qty,
                    "price_unit": line.get("price_unit"),
                    "tax_ids": [[6, 0, list(line.get(tax_field) or [])]],
                    "analytic_distribution": line.get("analytic_distribution") or False,
                },
            ]
        )
    if not lines:
        raise odoo_error(
            "UserError",
            "There is no invoiceable line. If a product has a control policy based "
            "on received quantity, please make sure that a quantity has been received.",
        )
    return env.create(
        "account.move",
        [
            {
                "move_type": "in_invoice",
                "partner_id": order.get("partner_id"),
                "ref": order.get("partner_ref") or False,
                "payment_reference": order.get("partner_ref") or False,
                "invoice_origin": order.get("name"),
                "currency_id": order.get("currency_id"),
                "company_id": order.get("company_id"),
                "invoice_line_ids": lines,
            }
        ],
    )[0]


def _bills_action(env: Env, bill: int) -> dict[str, Any]:
    version = env.db.version
    action: dict[str, Any] = {
        "id": 276,
        "name": "Bills",
        "type": "ir.actions.act_window",
        "xml_id": "account.action_move_in_invoice_type",
        "help": "<p>Create a vendor bill</p>",
        "binding_model_id": False,
        "binding_type": "action",
        "binding_view_types": "list,form",
        "display_name": "Bills",
        "view_id": [746, "account.out.invoice.tree"],
        "domain": "[('move_type', '=', 'in_invoice')]",
        "context": "{'default_move_type': 'in_invoice', 'display_account_trust': True}",
        "res_id": bill,
        "res_model": "account.move",
        "target": "current",
        "view_mode": "tree,kanban,form,activity",
        "mobile_view_mode": "kanban",
        "views": [[750, "form"], [746, "tree"], [False, "kanban"], [False, "activity"]],
        "limit": 80,
        "groups_id": [],
        "search_view_id": [753, "account.invoice.select"],
        "filter": False,
    }
    if version >= 19:
        action.pop("groups_id")
        action.update(
            path="bills",
            group_ids=[],
            embedded_action_ids=[],
            cache=True,
            view_mode="list,kanban,form,activity",
            context={"default_move_type": "in_invoice", "display_account_trust": True},
        )
    return action


# stock.picking


@method("button_validate", (), on_records=True, models=("stock.picking",))
def button_validate(env: Env, model: str, a: Args) -> Any:
    """Validate receipts; a short one answers with the backorder wizard."""
    short = []
    for picking in a["ids"]:
        moves = env.db.raw(model, picking, "move_ids")
        rows = [env.db.tables["stock.move"][m] for m in moves]
        done = env.db.tables[model][picking].get("state") == "done"
        # A transfer validated already has nothing left to reserve: Odoo says
        # so in these words, not "already done", as recorded.
        if done or not any((r.get("quantity") or 0) > 0 for r in rows):
            raise odoo_error(
                "UserError",
                "You cannot validate a transfer if no quantities are reserved. "
                "To force the transfer, encode quantities.",
            )
        if any(
            (r.get("quantity") or 0) < (r.get("product_uom_qty") or 0) for r in rows
        ):
            short.append(picking)
    if short and not env.context.get("skip_backorder"):
        return {
            "name": "Create Backorder?",
            "type": "ir.actions.act_window",
            "view_mode": "form",
            "res_model": "stock.backorder.confirmation",
            "views": [[1021, "form"]],
            "view_id": 1021,
            "target": "new",
            "context": {
                "button_validate_picking_ids": list(a["ids"]),
                "default_show_transfers": False,
                "default_pick_ids": [[4, p] for p in short],
            },
        }
    for picking in a["ids"]:
        finish_picking(env, picking, backorder=True)
    return True


def finish_picking(env: Env, picking: int, *, backorder: bool) -> None:
    """Mark a receipt done; what is short goes to a backorder (or is dropped)."""
    rest = []
    for move_id in env.db.raw("stock.picking", picking, "move_ids"):
        move = env.db.tables["stock.move"][move_id]
        done = move.get("quantity") or 0.0
        demand = move.get("product_uom_qty") or 0.0
        if done < demand:
            rest.append((move, demand - done))
        env.write(
            "stock.move",
            [move_id],
            {"state": "done", "picked": True, "product_uom_qty": max(done, 0.0)},
        )
    env.write("stock.picking", [picking], {"state": "done", "date_done": _now(env)})
    if backorder and rest:
        _create_backorder(env, picking, rest)


def _create_backorder(
    env: Env, picking: int, rest: list[tuple[dict[str, Any], float]]
) -> None:
    source = env.db.tables["stock.picking"][picking]
    copy_fields = (
        "partner_id",
        "picking_type_id",
        "location_id",
        "location_dest_id",
        "origin",
        "purchase_id",
        "company_id",
    )
    vals = {k: source.get(k) for k in copy_fields}
    backorder = env.create("stock.picking", [{**vals, "backorder_id": picking}])[0]
    _name_picking(env, backorder)
    for move, qty in rest:
        line = env.db.tables["purchase.order.line"].get(
            move.get("purchase_line_id") or 0, {}
        )
        _create_move(env, backorder, move.get("purchase_line_id") or 0, line, qty)
    env.db.tables["stock.picking"][backorder]["state"] = "assigned"


@method("process", (), on_records=True, models=("stock.backorder.confirmation",))
def process_backorder(env: Env, model: str, a: Args) -> Any:
    """The wizard's "Create Backorder": finish and keep the rest open."""
    for picking in _wizard_pickings(env, model, a):
        finish_picking(env, picking, backorder=True)
    return True


@method(
    "process_cancel_backorder",
    (),
    on_records=True,
    models=("stock.backorder.confirmation",),
)
def process_cancel_backorder(env: Env, model: str, a: Args) -> Any:
    """The wizard's "No Backorder": finish and drop what is short."""
    for picking in _wizard_pickings(env, model, a):
        finish_picking(env, picking, backorder=False)
    return True


def _wizard_pickings(env: Env, model: str, a: Args) -> list[int]:
    ids = list(env.context.get("button_validate_picking_ids") or [])
    for wizard in a["ids"]:
        ids.extend(env.db.tables[model].get(wizard, {}).get("pick_ids") or [])
    return list(dict.fromkeys(ids))


# account.move


@method("action_post", (), on_records=True, models=("account.move",))
def action_post(env: Env, model: str, a: Args) -> Any:
    """Post bills: check date and lines, number them, open the residual."""
    for move_id in a["ids"]:
        move = env.db.tables[model][move_id]
        if not env.db.raw(model, move_id, "invoice_line_ids"):
            raise odoo_error("UserError", "You need to add a line before posting.")
        if move.get("move_type", "").startswith("in_") and not move.get("invoice_date"):
            raise odoo_error(
                "UserError",
                "The Bill/Refund date is required to validate this document.",
            )
        total = env.db.raw(model, move_id, "amount_total")
        if total < 0:
            raise odoo_error(
                "UserError",
                "You cannot validate an invoice with a negative total amount. You "
                "should create a credit note instead. Use the action menu to "
                "transform it into a credit note or refund.",
            )
        date = str(move.get("invoice_date") or move.get("date"))
        prefix = "RBILL" if move.get("move_type") == "in_refund" else "BILL"
        number = env.db.next_sequence(f"{prefix}/{date[:7]}")
        move.update(
            state="posted",
            name=f"{prefix}/{date[:4]}/{date[5:7]}/{number:04d}",
            amount_residual=total,
            payment_state="not_paid",
            date=date,
        )
        if env.db.version >= 19:
            move["status_in_payment"] = "not_paid"
        env.db.stamp(model, move_id, env.uid)
    return False


@method("button_draft", (), on_records=True, models=("account.move",))
def button_draft(env: Env, model: str, a: Args) -> Any:
    """Reset moves to draft (returns None, like Odoo)."""
    for move_id in a["ids"]:
        env.db.tables[model][move_id]["state"] = "draft"
        env.db.stamp(model, move_id, env.uid)
    return None


# account.payment.register


@method(
    "action_create_payments", (), on_records=True, models=("account.payment.register",)
)
def action_create_payments(env: Env, model: str, a: Args) -> Any:
    """Pay the wizard's bills; the bill is `paid` or `partial` at once."""
    payment = 0
    for wizard_id in a["ids"]:
        payment = _pay(env, env.db.tables[model][wizard_id])
    return {
        "name": "Payments",
        "type": "ir.actions.act_window",
        "res_model": "account.payment",
        "context": {"create": False},
        "view_mode": "form",
        "res_id": payment,
    }


def _pay(env: Env, wizard: dict[str, Any]) -> int:
    bills = list(wizard.get("line_ids") or env.context.get("active_ids") or [])
    amount = float(wizard.get("amount") or 0.0)
    date = wizard.get("payment_date") or env.db.clock().strftime("%Y-%m-%d")
    first = env.db.tables["account.move"].get(bills[0] if bills else 0, {})
    company = first.get("company_id") or env.company_id
    # A payment is booked on a bank or cash journal of the bill's company;
    # Odoo answers as for any document whose company lacks its journal.
    if not wizard.get("journal_id"):
        raise no_journal(env, company, ("bank", "cash"))
    number = env.db.next_sequence("PBNK1")
    vals: dict[str, Any] = {
        "name": f"PBNK1/{date[:4]}/{number:05d}",
        "amount": amount,
        "payment_type": "outbound",
        "partner_type": "supplier",
        "partner_id": wizard.get("partner_id"),
        "date": date,
        "journal_id": wizard.get("journal_id"),
        "currency_id": wizard.get("currency_id"),
        "company_id": company,
        "is_reconciled": True,
        "is_matched": False,
    }
    reference = wizard.get("communication") or False
    if env.db.version >= 19:
        vals.update(state="in_process", memo=reference)
    else:
        vals.update(state="posted", ref=reference, reconciled_bill_ids=bills)
    payment = env.db.insert("account.payment", vals)
    for bill in bills:
        _apply_payment(env, bill, payment, amount)
    return payment


def _apply_payment(env: Env, bill: int, payment: int, amount: float) -> None:
    row = env.db.tables["account.move"][bill]
    residual = round((row.get("amount_residual") or 0.0) - amount, 2)
    row["amount_residual"] = max(residual, 0.0)
    row["payment_state"] = "paid" if residual <= 0.005 else "partial"
    if env.db.version >= 19:
        row["status_in_payment"] = row["payment_state"]
        row["matched_payment_ids"] = [*(row.get("matched_payment_ids") or []), payment]
        env.db.tables["account.payment"][payment]["invoice_ids"] = [bill]
    env.db.stamp("account.move", bill, env.uid)
