"""`tieline odoo check`: what tieline can and cannot do on an Odoo database.

Reports the version and protocol chosen, the modules tieline relies on, the
rights of the connecting user on each model the connector writes, and the
Odoo company each legal entity books in: the one it is bound to, else the
one TIELINE_ODOO_COMPANIES names, else the one of its exact name, as a push
chooses it (`OdooSync.company_id`). A legal entity with none, or whose
company keeps its books in another currency, is a problem: its documents
could not be pushed, or would be booked in the wrong currency.

For each company a legal entity books in, the check also reads its books:
a purchase journal (without one Odoo refuses every vendor bill there, as in
a company created without a chart of accounts), a bank or cash journal (for
payments), and the percentage purchase taxes it has, against the tax rates
on that legal entity's invoices in tieline's database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo._client import OdooClient
from tieline.connectors.odoo._errors import OdooRejected
from tieline.connectors.odoo.mappers._base import many2one_id
from tieline.connectors.odoo.mappers.taxes import TaxMapper
from tieline.model import LegalEntity
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store

MODULES = ("purchase", "stock", "account", "project", "analytic")
RIGHTS = (
    ("res.partner", "create", "create suppliers"),
    ("purchase.order", "create", "create purchase orders"),
    ("stock.picking", "write", "validate receipts"),
    ("account.move", "create", "create vendor bills"),
    (
        "account.analytic.plan",
        "read",
        "read analytic plans (Analytic Accounting group)",
    ),
    ("account.analytic.account", "create", "create analytic accounts"),
    ("ir.model.data", "create", "stamp external ids (idempotent retries)"),
)


@dataclass
class CheckReport:
    """Findings: facts first, then what is missing (empty when all is well)."""

    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # (legal entity code, company id) -> purchase tax rates, for the
    # companies whose books were read already.
    books_read: dict[tuple[str, int], set[Decimal]] = field(default_factory=dict)


def check(client: OdooClient) -> CheckReport:
    """Inspect the database behind `client` without changing anything."""
    report = CheckReport()
    version = client.version
    report.facts.append(
        f"Odoo {version.major}, protocol {client.protocol}, uid {client.uid}"
    )
    if client.protocol != "json2" and version.has_json2:
        report.problems.append(
            "legacy RPC is deprecated in Odoo 19 and removed in 20: use an API key"
        )
    _check_modules(client, report)
    for model, operation, purpose in RIGHTS:
        if not _allowed(client, model, operation):
            report.problems.append(f"cannot {purpose}: no {operation} right on {model}")
    return report


def _check_modules(client: OdooClient, report: CheckReport) -> None:
    try:
        rows = client.search_read(
            "ir.module.module", [("name", "in", list(MODULES))], ["name", "state"]
        )
    except OdooRejected as err:
        report.problems.append(f"cannot list modules: {err.odoo_message}")
        return
    installed = {r["name"] for r in rows if r["state"] == "installed"}
    report.facts.append("modules installed: " + ", ".join(sorted(installed)))
    for name in MODULES:
        if name not in installed:
            report.problems.append(f"module {name} is not installed")


def _allowed(client: OdooClient, model: str, operation: str) -> bool:
    try:
        answer = client.call(
            model, "check_access_rights", operation=operation, raise_exception=False
        )
        if answer:
            client.call(model, "search", domain=[], limit=1)
    except OdooRejected:
        return False
    return bool(answer)


def check_companies(
    client: OdooClient, companies: Mapping[str, int | str], report: CheckReport
) -> None:
    """Say which Odoo company each legal entity of the company map books in."""
    rows = client.search_read("res.company", [], ["name"])
    by_id = {row["id"]: row["name"] for row in rows}
    by_name: dict[str, list[int]] = {}
    for row in rows:
        by_name.setdefault(row["name"].strip().casefold(), []).append(row["id"])
    report.facts.append(
        "companies: " + ", ".join(f"{i} {n}" for i, n in sorted(by_id.items()))
    )
    for code, wanted in companies.items():
        found = (
            [wanted]
            if isinstance(wanted, int) and wanted in by_id
            else by_name.get(str(wanted).casefold(), [])
        )
        if len(found) == 1:
            report.facts.append(f"legal entity {code} books in {by_id[found[0]]}")
            check_books(client, code, found[0], by_id[found[0]], report)
        else:
            report.problems.append(
                f"TIELINE_ODOO_COMPANIES names company {wanted!r} for {code}; "
                f"the user sees {len(found)} of that id or name"
            )


@dataclass(frozen=True, slots=True)
class StoredEntity:
    """A legal entity in tieline's store, and the Odoo company it is bound to."""

    entity: LegalEntity
    bound_company: int | None
    # The tax rates on the legal entity's invoices (those naming it).
    tax_rates: frozenset[Decimal] = frozenset()


def stored_entities(store: Store, instance: str) -> list[StoredEntity]:
    """Every legal entity in the store, with its binding on `instance` and
    the tax rates its invoices carry."""
    with store.read() as tx:
        rates: dict[str, set[Decimal]] = {}
        for invoice in tx.list(SupplierInvoice):
            found = rates.setdefault(invoice.legal_entity_id or "", set())
            found.update(
                line.tax_percent
                for line in invoice.lines
                if line.tax_percent is not None
            )
        binder = Binder(tx.connection, instance)
        return [
            StoredEntity(
                entity,
                binder.odoo_id("res.company", entity.id),
                frozenset(rates.get(entity.id, ())),
            )
            for entity in tx.list(LegalEntity)
        ]


def check_legal_entities(
    client: OdooClient,
    entities: Sequence[StoredEntity],
    companies: Mapping[str, int | str],
    report: CheckReport,
) -> None:
    """Say which Odoo company each stored legal entity books in, and name the
    ones with no company, or with a company in another currency."""
    if not entities:
        report.facts.append("legal entities: none in tieline's database yet")
        return
    rows = {row["id"]: row for row in _companies(client)}
    for stored in entities:
        entity = stored.entity
        company = _company_of(stored, companies, rows)
        if company is None and stored.bound_company is not None:
            report.problems.append(
                f"legal entity {entity.code} is bound to Odoo company id "
                f"{stored.bound_company}, which the user does not see (or which "
                "is gone): give the user that company"
            )
            continue
        if company is None and entity.code in companies:
            continue  # check_companies said what is wrong with its entry
        if company is None:
            report.problems.append(
                f"legal entity {entity.code} ({entity.name}) has no Odoo company: "
                f"TIELINE_ODOO_COMPANIES does not name one and no company is "
                f"called {entity.name!r}; add {entity.code}=<company id or name> "
                "to TIELINE_ODOO_COMPANIES"
            )
            continue
        row = rows[company]
        if entity.code not in companies:
            report.facts.append(f"legal entity {entity.code} books in {row['name']}")
        check_books(client, entity.code, company, row["name"], report, stored.tax_rates)
        if row["currency"] != entity.base_currency:
            report.problems.append(
                f"legal entity {entity.code} keeps its books in "
                f"{entity.base_currency}, its Odoo company {row['name']} in "
                f"{row['currency']}: set {entity.code}=<a company in "
                f"{entity.base_currency}> in TIELINE_ODOO_COMPANIES, or correct "
                "the legal entity's base currency"
            )


def _companies(client: OdooClient) -> list[dict[str, Any]]:
    """The companies the user sees, each with its currency's ISO code."""
    rows = client.search_read("res.company", [], ["name", "currency_id"])
    ids = sorted({i for r in rows if (i := many2one_id(r["currency_id"]))})
    codes = {
        c["id"]: c["name"]
        for c in client.read(
            "res.currency", ids, ["name"], context={"active_test": False}
        )
    }
    return [
        {**r, "currency": codes.get(many2one_id(r["currency_id"]) or 0)} for r in rows
    ]


def _company_of(
    stored: StoredEntity,
    companies: Mapping[str, int | str],
    rows: Mapping[int, dict[str, Any]],
) -> int | None:
    """The company a push would book the entity in, as `OdooSync` picks it."""
    if stored.bound_company is not None:
        return stored.bound_company if stored.bound_company in rows else None
    wanted = companies.get(stored.entity.code, stored.entity.name)
    if isinstance(wanted, int):
        return wanted if wanted in rows else None
    named = [
        i for i, r in rows.items() if r["name"].strip().casefold() == wanted.casefold()
    ]
    return named[0] if len(named) == 1 else None


def check_books(
    client: OdooClient,
    code: str,
    company: int,
    name: str,
    report: CheckReport,
    rates: frozenset[Decimal] = frozenset(),
) -> None:
    """Say whether Odoo company `company` can take legal entity `code`'s bills
    and payments, and which purchase tax rates it has; name what to set."""
    if (code, company) not in report.books_read:
        report.books_read[code, company] = _read_books(
            client, code, company, name, report
        )
    for rate in sorted(rates - report.books_read[code, company]):
        report.problems.append(
            f"legal entity {code}: its invoices carry {rate.normalize():f}% tax "
            f"and Odoo company {name} has no purchase tax of that rate (a "
            "percentage, excluded from the price), so those bills cannot be "
            "made; create one in Odoo (Accounting, Configuration, Taxes)"
        )


def _read_books(
    client: OdooClient, code: str, company: int, name: str, report: CheckReport
) -> set[Decimal]:
    """Report the company's journals and purchase taxes; returns the rates."""
    context = {"allowed_company_ids": [company]}
    try:
        journals = client.search_read(
            "account.journal",
            [
                ("company_id", "=", company),
                ("type", "in", ["purchase", "bank", "cash"]),
            ],
            ["name", "type"],
            context=context,
        )
        taxes = client.search_read(
            "account.tax",
            TaxMapper().domain(company),
            ["amount", "price_include"],
            context=context,
        )
    except OdooRejected as err:
        report.problems.append(
            f"cannot read the journals and taxes of Odoo company {name} "
            f"(legal entity {code}): {err.odoo_message}"
        )
        return set()
    purchase = [j["name"] for j in journals if j["type"] == "purchase"]
    bank = [j["name"] for j in journals if j["type"] in ("bank", "cash")]
    available = sorted(
        {Decimal(str(t["amount"])) for t in taxes if not t["price_include"]}
    )
    shown = ", ".join(f"{r.normalize():f}%" for r in available) or "none"
    report.facts.append(
        f"legal entity {code} in {name}: purchase journal "
        f"{purchase[0] if purchase else 'none'}, bank journal "
        f"{bank[0] if bank else 'none'}, purchase taxes {shown}"
    )
    _books_problems(code, name, report, purchase=bool(purchase), bank=bool(bank))
    return set(available)


def _books_problems(
    code: str, name: str, report: CheckReport, *, purchase: bool, bank: bool
) -> None:
    if not purchase:
        report.problems.append(
            f"legal entity {code}: Odoo company {name} has no purchase journal, "
            "so Odoo refuses its vendor bills (No journal could be found in "
            f"company {name} for any of those types: purchase); install a chart "
            f"of accounts for {name} (Accounting, Configuration, Settings, "
            "Fiscal Localization) or create a journal of type Purchase in it"
        )
    if not bank:
        report.problems.append(
            f"legal entity {code}: Odoo company {name} has no bank or cash "
            "journal, so its bills cannot be paid in Odoo; create a journal of "
            "type Bank in it"
        )
