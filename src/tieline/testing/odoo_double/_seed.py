"""The base records a fresh Odoo database has, as far as tieline needs them.

One company ("My Company (San Francisco)", USD, taxes rounded per line), the
admin user (uid 2, login `admin`, in the Analytic Accounting group), OdooBot
archived, the USD, EUR and GBP currencies (EUR and GBP inactive, as in a new
US database), a 15% sale and a 15% purchase tax, the vendor bills and bank
journals, a warehouse with its Receipts operation type, the default
"Projects" analytic plan (id 1) and the installed modules.
"""

from __future__ import annotations

from tieline.testing.odoo_double._orm import Database, User

ADMIN_UID = 2
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"  # noqa: S105 - Odoo's demo password, as recorded

MODULES = (
    "base",
    "purchase",
    "stock",
    "account",
    "project",
    "analytic",
    "hr_timesheet",
)


def seed(db: Database) -> None:
    """Fill a fresh database with the base records."""
    _currencies_and_countries(db)
    partner = db.insert(
        "res.partner",
        {"name": "My Company (San Francisco)", "is_company": True, "active": True},
    )
    db.insert("res.partner", {"name": "OdooBot", "active": False})
    admin_partner = db.insert(
        "res.partner",
        {
            "name": "Mitchell Admin",
            "active": True,
            "email": "admin@yourcompany.example.com",
        },
    )
    company = db.insert(
        "res.company",
        {
            "name": "My Company (San Francisco)",
            "currency_id": 1,
            "partner_id": partner,
            "sequence": 0,
            "tax_calculation_rounding_method": "round_per_line",
        },
    )
    db.tables["res.partner"][partner]["company_id"] = company
    _users(db, company, admin_partner)
    _accounting(db, company)
    _stock(db, company)
    db.insert(
        "uom.uom", {"name": "Units", "active": True, "rounding": 0.01, "factor": 1.0}
    )
    db.insert(
        "account.analytic.plan",
        {"name": "Projects", "default_applicability": "optional"},
    )
    for name in (*MODULES, "base_automation"):
        state = "installed" if name in MODULES else "uninstalled"
        db.insert("ir.module.module", {"name": name, "state": state, "shortdesc": name})


def _currencies_and_countries(db: Database) -> None:
    for code, symbol, active in (
        ("USD", "$", True),
        ("EUR", "\u20ac", False),
        ("GBP", "\u00a3", False),
    ):
        db.insert(
            "res.currency",
            {
                "name": code,
                "symbol": symbol,
                "active": active,
                "rounding": 0.01,
                "decimal_places": 2,
                "position": "before" if code == "USD" else "after",
            },
        )
    for code, name in (
        ("US", "United States"),
        ("BE", "Belgium"),
        ("GB", "United Kingdom"),
        ("DE", "Germany"),
    ):
        db.insert("res.country", {"code": code, "name": name})


def _users(db: Database, company: int, admin_partner: int) -> None:
    group = db.insert("res.groups", {"name": "Analytic Accounting"})
    manager = db.insert("res.groups", {"name": "Purchase / Administrator"})
    groups_field = "group_ids" if db.version >= 19 else "groups_id"
    db.insert(
        "res.users",
        {
            "name": "OdooBot",
            "login": "__system__",
            "active": False,
            "company_id": company,
            "company_ids": [company],
        },
    )
    uid = db.insert(
        "res.users",
        {
            "name": "Mitchell Admin",
            "login": ADMIN_LOGIN,
            "active": True,
            "partner_id": admin_partner,
            "company_id": company,
            "company_ids": [company],
            groups_field: [group, manager],
            "tz": "Europe/Brussels",
            "lang": "en_US",
        },
    )
    db.users[uid] = User(
        uid,
        ADMIN_LOGIN,
        ADMIN_PASSWORD,
        "Mitchell Admin",
        company,
        [company],
        {"analytic"},
    )
    for module, name, model, res_id in (
        ("analytic", "group_analytic_accounting", "res.groups", group),
        ("purchase", "group_purchase_manager", "res.groups", manager),
        ("base", "user_admin", "res.users", uid),
        ("base", "main_company", "res.company", company),
    ):
        db.insert(
            "ir.model.data",
            {
                "module": module,
                "name": name,
                "model": model,
                "res_id": res_id,
                "complete_name": f"{module}.{name}",
            },
        )


def _accounting(db: Database, company: int) -> None:
    for use in ("sale", "purchase"):
        db.insert(
            "account.tax",
            {
                "name": "15%",
                "amount": 15.0,
                "amount_type": "percent",
                "price_include": False,
                "type_tax_use": use,
                "sequence": 1,
                "active": True,
                "company_id": company,
            },
        )
    for name, code, kind in (
        ("Customer Invoices", "INV", "sale"),
        ("Vendor Bills", "BILL", "purchase"),
        ("Miscellaneous Operations", "MISC", "general"),
        ("Bank", "BNK1", "bank"),
    ):
        db.insert(
            "account.journal",
            {"name": name, "code": code, "type": kind, "company_id": company},
        )


def _stock(db: Database, company: int) -> None:
    db.insert("stock.location", {"name": "Partners/Vendors", "usage": "supplier"})
    db.insert("stock.location", {"name": "WH/Stock", "usage": "internal"})
    warehouse = db.insert(
        "stock.warehouse", {"name": "YourCompany", "code": "WH", "company_id": company}
    )
    db.insert(
        "stock.picking.type",
        {
            "name": "Receipts",
            "code": "incoming",
            "company_id": company,
            "warehouse_id": warehouse,
        },
    )
