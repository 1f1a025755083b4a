"""The double's copy of Odoo's schema: field types, relations and labels.

The 15 models that the recordings show whole come from `schema/odoo17.json`
and `schema/odoo19.json` (rebuilt by `_schema_build`). The handful of other
models the connector touches are declared here by hand with only the fields
used. `INVERSES` names the many2one behind each one2many the double fills.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "schema"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a model, as `fields_get` describes it."""

    name: str
    type: str
    string: str
    relation: str | None = None
    required: bool = False
    readonly: bool = False
    selection: tuple[tuple[str, str], ...] | None = None

    def describe(self) -> dict[str, Any]:
        """The field as `fields_get` answers with string/type/required/... ."""
        out: dict[str, Any] = {
            "readonly": self.readonly,
            "required": self.required,
            "string": self.string,
            "type": self.type,
        }
        if self.relation:
            out["relation"] = self.relation
        if self.selection is not None:
            out["selection"] = [list(pair) for pair in self.selection]
        return out


@dataclass(slots=True)
class ModelSpec:
    """A model: its name, label, fields and the order `search` uses."""

    name: str
    label: str
    fields: dict[str, Field] = field(default_factory=dict)
    order: str = "id"
    rec_name: str = "name"


# one2many -> (comodel, inverse many2one); others answer [] in the double.
INVERSES: dict[tuple[str, str], str] = {
    ("res.partner", "child_ids"): "parent_id",
    ("res.partner", "bank_ids"): "partner_id",
    ("res.partner.category", "child_ids"): "parent_id",
    ("purchase.order", "order_line"): "order_id",
    ("stock.picking", "move_ids"): "picking_id",
    ("stock.picking", "move_ids_without_package"): "picking_id",
    ("account.move", "invoice_line_ids"): "move_id",
    ("account.move", "line_ids"): "move_id",
    ("account.analytic.plan", "account_ids"): "plan_id",
    ("account.analytic.plan", "children_ids"): "parent_id",
    ("res.company", "child_ids"): "parent_id",
    ("stock.picking", "backorder_ids"): "backorder_id",
    (
        "stock.backorder.confirmation",
        "backorder_confirmation_line_ids",
    ): "backorder_confirmation_id",
}

LABELS = {
    "res.partner": "Contact",
    "res.company": "Companies",
    "res.currency": "Currency",
    "project.project": "Project",
    "account.analytic.plan": "Analytic Plans",
    "account.analytic.account": "Analytic Account",
    "product.product": "Product Variant",
    "uom.uom": "Product Unit of Measure",
    "purchase.order": "Purchase Order",
    "purchase.order.line": "Purchase Order Line",
    "stock.picking": "Transfer",
    "stock.move": "Stock Move",
    "account.move": "Journal Entry",
    "account.move.line": "Journal Item",
    "account.payment": "Payments",
}

ORDERS = {
    "res.partner": "complete_name, id desc",
    "purchase.order": "priority desc, id desc",
    "account.move": "date desc, name desc, id desc",
    "account.payment": "date desc, name desc",
    "stock.picking": "priority desc, scheduled_date, id desc",
    "stock.move": "sequence, id",
    "purchase.order.line": "order_id, sequence, id",
    "account.move.line": "date desc, move_name desc, id",
    "res.currency": "active desc, name",
    "account.analytic.account": "plan_id, name",
    "account.analytic.plan": "sequence, id",
    "project.project": "sequence, name, id",
    "res.company": "sequence, name",
    "account.tax": "sequence, id",
}

# name: (type, label, relation or selection, required)
_M2O, _O2M, _M2M = "many2one", "one2many", "many2many"
_HAND: dict[str, tuple[str, dict[str, tuple[Any, ...]]]] = {
    "res.users": (
        "User",
        {
            "name": ("char", "Name"),
            "login": ("char", "Login", None, True),
            "password": ("char", "Password"),
            "active": ("boolean", "Active"),
            "partner_id": (_M2O, "Related Partner", "res.partner", True),
            "company_id": (_M2O, "Company", "res.company", True),
            "company_ids": (_M2M, "Companies", "res.company"),
            "groups_id": (_M2M, "Groups", "res.groups"),
            "tz": ("char", "Timezone"),
            "lang": ("char", "Language"),
        },
    ),
    "res.groups": ("Access Groups", {"name": ("char", "Name", None, True)}),
    "res.country": (
        "Country",
        {"name": ("char", "Country Name", None, True), "code": ("char", "Code")},
    ),
    "res.partner.category": (
        "Partner Tags",
        {
            "name": ("char", "Name", None, True),
            "parent_id": (_M2O, "Parent Category", "res.partner.category"),
            "child_ids": (_O2M, "Child Tags", "res.partner.category"),
            "active": ("boolean", "Active"),
        },
    ),
    "res.partner.bank": (
        "Bank Accounts",
        {
            "acc_number": ("char", "Account Number", None, True),
            "sanitized_acc_number": ("char", "Sanitized Account Number"),
            "acc_holder_name": ("char", "Account Holder Name"),
            "partner_id": (_M2O, "Account Holder", "res.partner", True),
            "company_id": (_M2O, "Company", "res.company"),
            "active": ("boolean", "Active"),
            "allow_out_payment": ("boolean", "Send Money"),
            "bank_id": (_M2O, "Bank", "res.bank"),
        },
    ),
    "ir.model.data": (
        "Model Data",
        {
            "name": ("char", "External Identifier", None, True),
            "module": ("char", "Module", None, True),
            "model": ("char", "Model Name", None, True),
            "res_id": ("many2one_reference", "Record ID"),
            "complete_name": ("char", "Complete ID"),
            "noupdate": ("boolean", "Non Updatable"),
        },
    ),
    "ir.module.module": (
        "Module",
        {
            "name": ("char", "Technical Name", None, True),
            "state": ("char", "Status"),
            "shortdesc": ("char", "Module Name"),
            "latest_version": ("char", "Installed Version"),
        },
    ),
    "account.journal": (
        "Journal",
        {
            "name": ("char", "Journal Name", None, True),
            "code": ("char", "Short Code"),
            "type": ("char", "Type"),
            "company_id": (_M2O, "Company", "res.company"),
        },
    ),
    "account.tax": (
        "Tax",
        {
            "name": ("char", "Tax Name", None, True),
            "amount": ("float", "Amount"),
            "amount_type": ("char", "Tax Computation"),
            "type_tax_use": ("char", "Tax Type"),
            "price_include": ("boolean", "Included in Price"),
            "sequence": ("integer", "Sequence"),
            "active": ("boolean", "Active"),
            "company_id": (_M2O, "Company", "res.company"),
        },
    ),
    "stock.picking.type": (
        "Operation Type",
        {
            "name": ("char", "Operation Type", None, True),
            "code": ("char", "Type of Operation"),
            "company_id": (_M2O, "Company", "res.company"),
            "warehouse_id": (_M2O, "Warehouse", "stock.warehouse"),
        },
    ),
    "stock.location": (
        "Inventory Locations",
        {"name": ("char", "Location Name", None, True), "usage": ("char", "Type")},
    ),
    "stock.warehouse": (
        "Warehouse",
        {
            "name": ("char", "Warehouse", None, True),
            "code": ("char", "Short Name"),
            "company_id": (_M2O, "Company", "res.company"),
        },
    ),
    "stock.backorder.confirmation": (
        "Backorder Confirmation",
        {
            "pick_ids": (_M2M, "Pick", "stock.picking"),
            "show_transfers": ("boolean", "Show Transfers"),
            "backorder_confirmation_line_ids": (
                _O2M,
                "Backorder Confirmation Lines",
                "stock.backorder.confirmation.line",
            ),
        },
    ),
    "stock.backorder.confirmation.line": (
        "Backorder Confirmation Line",
        {
            "backorder_confirmation_id": (
                _M2O,
                "Immediate Transfer",
                "stock.backorder.confirmation",
            ),
            "picking_id": (_M2O, "Transfer", "stock.picking"),
            "to_backorder": ("boolean", "To Backorder"),
        },
    ),
    "account.payment.register": (
        "Pay",
        {
            "amount": ("monetary", "Amount"),
            "currency_id": (_M2O, "Currency", "res.currency"),
            "journal_id": (_M2O, "Journal", "account.journal"),
            "payment_date": ("date", "Payment Date", None, True),
            "communication": ("char", "Memo"),
            "partner_id": (_M2O, "Customer/Vendor", "res.partner"),
            "payment_type": ("char", "Payment Type"),
            "partner_type": ("char", "Partner Type"),
            "group_payment": ("boolean", "Group Payments"),
            "can_edit_wizard": ("boolean", "Can Edit Wizard"),
            "source_amount": ("monetary", "Amount to Pay (company currency)"),
            "payment_difference": ("monetary", "Payment Difference"),
            "payment_difference_handling": ("char", "Payment Difference Handling"),
            "line_ids": (_M2M, "Journal items", "account.move"),
            "payment_method_line_id": (
                _M2O,
                "Payment Method",
                "account.payment.method.line",
            ),
            "partner_bank_id": (_M2O, "Recipient Bank Account", "res.partner.bank"),
        },
    ),
}


def _hand_models(version: int) -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    for name, (label, fields) in _HAND.items():
        spec = ModelSpec(name, label, order=ORDERS.get(name, "id"))
        for fname, attrs in fields.items():
            ftype, string, relation, required = (*attrs, None, False)[:4]
            if name == "res.users" and fname == "groups_id" and version >= 19:
                fname = "group_ids"  # 19 renamed res.users.groups_id
            spec.fields[fname] = Field(
                fname, ftype, string, relation=relation, required=bool(required)
            )
        _add_magic(spec)
        models[name] = spec
    return models


def _add_magic(spec: ModelSpec) -> None:
    for fname, ftype, label in (
        ("id", "integer", "ID"),
        ("display_name", "char", "Display Name"),
        ("create_date", "datetime", "Created on"),
        ("write_date", "datetime", "Last Updated on"),
        ("create_uid", _M2O, "Created by"),
        ("write_uid", _M2O, "Last Updated by"),
    ):
        if fname not in spec.fields:
            relation = "res.users" if ftype == _M2O else None
            readonly = fname != "display_name" or True
            spec.fields[fname] = Field(
                fname, ftype, label, relation=relation, readonly=readonly
            )


def _recorded_models(version: int) -> dict[str, ModelSpec]:
    raw = json.loads((HERE / f"odoo{version}.json").read_text())
    models: dict[str, ModelSpec] = {}
    for name, fields in raw.items():
        spec = ModelSpec(name, LABELS.get(name, name), order=ORDERS.get(name, "id"))
        for fname, attrs in fields.items():
            selection = attrs.get("selection")
            spec.fields[fname] = Field(
                fname,
                attrs["type"],
                attrs["string"],
                relation=attrs.get("relation"),
                required=bool(attrs.get("required")),
                readonly=bool(attrs.get("readonly")),
                selection=tuple(tuple(p) for p in selection) if selection else None,
            )
        _add_magic(spec)
        models[name] = spec
    return models


@cache
def models_for(version: int) -> dict[str, ModelSpec]:
    """Every model the double knows when it plays Odoo `version` (17 or 19)."""
    models = _hand_models(version)
    models.update(_recorded_models(17 if version < 19 else 19))
    return models
